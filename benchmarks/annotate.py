"""Benchmark: this engine against bcftools csq and snpEff on the same synthetic input and gene model.

    python benchmarks/annotate.py [--count 100000] [--memory-counts 100000,1000000]

Builds the demo reference bundle if needed, generates a synthetic VCF from it, runs every
tool in its own process (wall time and peak RSS), prints throughput and the ratios, then
runs this engine alone on growing inputs to show that its memory stays flat, and finally
the most-severe-consequence concordance with snpEff.
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import concordance, peers  # noqa: E402
from benchmarks.synthetic import generate  # noqa: E402
from jobs.annotation.reference import Reference, import_reference  # noqa: E402

DEMO = ROOT / "reference" / "demo"
GTF = DEMO / "GRCh37.chr20.gencode19.gtf.gz"
FASTA = DEMO / "GRCh37.chr20.fa.gz"

ENGINE = (
    "import sys; sys.path.insert(0, {root!r});"
    "from jobs.annotation.reference import Reference;"
    "from jobs.annotation.engine import annotate_vcf;"
    "annotate_vcf(sys.argv[1], sys.argv[2], Reference(sys.argv[3]), processes=int(sys.argv[4]))"
)


def ensure_apt(*packages: str) -> None:
    missing = [p for p in packages if shutil.which({"snpeff": "snpEff"}.get(p, p)) is None]
    if missing:
        print(f"installing {', '.join(missing)} from Debian ...", flush=True)
        subprocess.run(["apt-get", "update", "-qq"], check=True, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True, capture_output=True)


def count_records(path: Path) -> int:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt") as handle:
        return sum(1 for line in handle if not line.startswith("#"))


def run_engine(vcf: Path, out: Path, bundle: Path, processes: int = 1) -> peers.Run:
    command = [sys.executable, "-c", ENGINE.format(root=str(ROOT)), str(vcf), str(out), str(bundle), str(processes)]
    return peers.measure(command)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=100_000, help="variants in the peer comparison")
    parser.add_argument("--memory-counts", default="100000,1000000", help="input sizes for the memory check")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--no-install", action="store_true", help="do not apt-get install bcftools/snpeff")
    args = parser.parse_args()
    if not args.no_install:
        ensure_apt("bcftools", "snpeff")
    work = args.workdir or Path(tempfile.mkdtemp(prefix="gas-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    bundle = work / "reference"
    if not (bundle / "manifest.json").exists():
        import_reference(name="bench", build="GRCh37", gene_model=GTF, fasta=FASTA, destination=bundle)
    reference = Reference(bundle)
    vcf = generate(reference, args.count, work / f"synthetic_{args.count}.vcf.gz")
    records = count_records(vcf)
    print(f"input: {records} synthetic chr20 variants ({vcf}); gene model {GTF.name}\n", flush=True)

    results: dict[str, peers.Run] = {}
    results["GAS"] = run_engine(vcf, work / "gas.vcf", bundle)
    results["GAS, 2 procs"] = run_engine(vcf, work / "gas2.vcf", bundle, processes=2)
    available = peers.available()
    if available["bcftools"]:
        plain_fasta = work / "chr20.fa"
        if not plain_fasta.exists():
            with gzip.open(FASTA, "rb") as src, open(plain_fasta, "wb") as dst:
                shutil.copyfileobj(src, dst)
        gff3 = peers.gtf_to_gff3(GTF, work / "chr20.gff3")
        results["bcftools csq"] = peers.bcftools_csq(vcf, plain_fasta, gff3, work / "bcftools.vcf")
    if available["snpeff"]:
        config = peers.snpeff_database(work / "snpeff", GTF, FASTA)
        results["snpEff"] = peers.snpeff(vcf, config, work / "snpeff.vcf")

    ours = results["GAS"]
    print(f"{'tool':<14}{'seconds':>10}{'variants/s':>14}{'peak MB':>10}{'GAS speed ×':>14}")
    print("(peak MB: the largest single process; 'GAS, 2 procs' runs three)")
    for tool, run in results.items():
        ratio = run.seconds / ours.seconds
        print(f"{tool:<14}{run.seconds:>10.2f}{records / run.seconds:>14,.0f}{run.peak_mb:>10.0f}{ratio:>14.2f}")
    print("('GAS speed ×' = the tool's time / GAS's time: above 1, GAS is faster)\n")

    print("memory of GAS as the input grows:")
    print(f"{'variants':>10}{'procs':>7}{'seconds':>10}{'variants/s':>14}{'peak MB':>10}")
    for count in (int(c) for c in args.memory_counts.split(",") if c):
        big = generate(reference, count, work / f"synthetic_{count}.vcf.gz", seed=7)
        n = count_records(big)
        for processes in (1, 2):
            run = run_engine(big, work / f"gas_{count}.vcf.gz", bundle, processes=processes)
            print(f"{n:>10}{processes:>7}{run.seconds:>10.2f}{n / run.seconds:>14,.0f}{run.peak_mb:>10.0f}", flush=True)

    if available["snpeff"]:
        print("\nmost severe consequence per allele, GAS vs snpEff:")
        print(concordance.compare(work / "gas.vcf", work / "snpeff.vcf").report())
    print(f"\nwork files in {work}")


if __name__ == "__main__":
    main()
