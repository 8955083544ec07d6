"""Benchmark: what an allele-exact custom source costs, against ``bcftools annotate`` with it.

    python benchmarks/custom.py [--size 1000000] [--repeat 3]

Generates a synthetic chr20 VCF of SIZE variants and a source of the same size (the same sites,
every other one with a different ALT, and an AF for each), then times, interleaved: GAS without
the source, GAS with it (``--custom``), and ``bcftools annotate -c INFO/AF`` with the same source,
each writing bgzipped VCF as a job does. Prints median seconds and GAS's overhead in percent.
"""

from __future__ import annotations

import argparse
import gzip
import random
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import peers  # noqa: E402
from benchmarks.synthetic import generate  # noqa: E402
from jobs.annotation.reference import Reference, import_reference  # noqa: E402

DEMO = ROOT / "reference" / "demo"

ENGINE = (
    "import sys; sys.path.insert(0, {root!r});"
    "from jobs.annotation.custom import CustomSpec;"
    "from jobs.annotation.reference import Reference;"
    "from jobs.annotation.engine import annotate_vcf;"
    "customs = [CustomSpec.parse(sys.argv[4])] if len(sys.argv) > 4 else [];"
    "annotate_vcf(sys.argv[1], sys.argv[2], Reference(sys.argv[3]), customs=customs)"
)


def make_source(vcf: Path, target: Path, seed: int = 13) -> Path:
    """The input's sites with an AF each; every other site's ALT changed (so it must not match)."""
    rng = random.Random(seed)
    plain = target.with_suffix("")
    with gzip.open(vcf, "rt") as source, open(plain, "w") as out:
        out.write('##fileformat=VCFv4.2\n##INFO=<ID=AF,Number=A,Type=Float,Description="Synthetic AF">\n')
        out.write("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
        for number, line in enumerate(source):
            if line.startswith("#"):
                continue
            columns = line.split("\t", 8)
            alt = columns[4]
            if number % 2 and len(alt) == 1 and len(columns[3]) == 1:
                alt = next(b for b in "ACGT" if b not in (columns[3], alt))
            af = ",".join(f"{rng.random():.4f}" for _ in alt.split(","))
            out.write(f"{columns[0]}\t{columns[1]}\tsrc{number}\t{columns[3]}\t{alt}\t.\t.\tAF={af}\n")
    subprocess.run(["bgzip", "-f", str(plain)], check=True)
    subprocess.run(["tabix", "-f", "-p", "vcf", str(target)], check=True)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="gas-custom-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    bundle = work / "reference"
    if not (bundle / "manifest.json").exists():
        import_reference(
            name="bench", build="GRCh37", gene_model=DEMO / "GRCh37.chr20.gencode19.gtf.gz",
            fasta=DEMO / "GRCh37.chr20.fa.gz", destination=bundle,
        )  # fmt: skip
    vcf = generate(Reference(bundle), args.size, work / f"synthetic_{args.size}.vcf.gz")
    source = make_source(vcf, work / f"source_{args.size}.vcf.gz")
    subprocess.run(["tabix", "-f", "-p", "vcf", str(vcf)], check=True)  # (bcftools annotate wants it)
    spec = f"file={source},short_name=SRC,format=vcf,type=exact,fields=AF"
    engine = ENGINE.format(root=str(ROOT))
    commands = {
        "GAS": [sys.executable, "-c", engine, str(vcf), str(work / "plain.vcf.gz"), str(bundle)],
        "GAS + source": [sys.executable, "-c", engine, str(vcf), str(work / "custom.vcf.gz"), str(bundle), spec],
        "bcftools annotate": [
            "bcftools", "annotate", "-a", str(source), "-c", "INFO/AF", "-O", "z",
            "-o", str(work / "bcf.vcf.gz"), str(vcf),
        ],
    }  # fmt: skip
    runs: dict[str, list[peers.Run]] = {name: [] for name in commands}
    for _ in range(args.repeat):
        for name, command in commands.items():
            runs[name].append(peers.measure(command))
    wall = {name: statistics.median(run.seconds for run in done) for name, done in runs.items()}
    cpu = {name: statistics.median(run.cpu_seconds for run in done) for name, done in runs.items()}
    with gzip.open(work / "custom.vcf.gz", "rt") as annotated:
        matched = sum(1 for line in annotated if "|src" in line)
    print(f"{args.size:,} requested variants ({vcf.name}), a source of the same sites ({source.name})")
    print(f"{'run':<20}{'median s':>10}{'CPU s':>10}   ({args.repeat} interleaved runs each)")
    for name in commands:
        print(f"{name:<20}{wall[name]:>10.2f}{cpu[name]:>10.2f}")
    for label, figures in (("wall", wall), ("CPU", cpu)):
        overhead = 100.0 * (figures["GAS + source"] - figures["GAS"]) / figures["GAS"]
        print(f"GAS's overhead for the source ({label} time): {overhead:+.1f}%")
    print(f"records with a match: {matched:,}")
    print(f"work files in {work}")


if __name__ == "__main__":
    main()
