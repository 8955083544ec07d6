"""Benchmark: this engine against bcftools csq and snpEff on the same synthetic input and gene model.

    python benchmarks/annotate.py [--sizes 100000,1000000] [--repeat 3] [--against OTHER_CHECKOUT]

Builds a reference bundle from the demo inputs, generates synthetic chr20 VCFs of each size,
and runs every tool in its own process, ``--repeat`` times, on each: the median wall time
(start-up included) and the largest peak RSS. For each size it prints throughput and each
tool's throughput relative to bcftools csq and to snpEff (snpEff only up to --snpeff-max
records: it needs minutes for a million). GAS's peak memory across the sizes shows whether it
stays flat. Last, the most-severe-consequence concordance with snpEff on the first size.
``--against`` adds another checkout's engine (run with that checkout's own .venv, so build it
first with ``make install`` there) as the peer "GAS baseline", e.g. a worktree of the last
release, for a before/after figure measured in the same run.
"""

from __future__ import annotations

import argparse
import gzip
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
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


def run_engine(vcf: Path, out: Path, bundle: Path, processes: int = 1, root: Path = ROOT) -> peers.Run:
    python = sys.executable if root == ROOT else str(root / ".venv" / "bin" / "python")
    command = [python, "-c", ENGINE.format(root=str(root)), str(vcf), str(out), str(bundle), str(processes)]
    return peers.measure(command)


def median_run(runs: list[peers.Run]) -> peers.Run:
    return peers.Run(seconds=statistics.median(run.seconds for run in runs), peak_mb=max(run.peak_mb for run in runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100000,1000000", help="synthetic input sizes (variants requested)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per tool and size; the median time is shown")
    parser.add_argument("--snpeff-max", type=int, default=200_000, help="run snpEff only on inputs up to this size")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--no-install", action="store_true", help="do not apt-get install bcftools/snpeff")
    parser.add_argument("--against", type=Path, default=None, help="another checkout, as the peer 'GAS baseline'")
    parser.add_argument("--no-peers", action="store_true", help="skip bcftools csq and snpEff")
    args = parser.parse_args()
    if not args.no_install and not args.no_peers:
        ensure_apt("bcftools", "snpeff")
    work = args.workdir or Path(tempfile.mkdtemp(prefix="gas-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    bundle = work / "reference"
    if not (bundle / "manifest.json").exists():
        import_reference(name="bench", build="GRCh37", gene_model=GTF, fasta=FASTA, destination=bundle)
    reference = Reference(bundle)
    available = {name: False for name in peers.available()} if args.no_peers else peers.available()
    plain_fasta = work / "chr20.fa"
    if available["bcftools"] and not plain_fasta.exists():
        with gzip.open(FASTA, "rb") as src, open(plain_fasta, "wb") as dst:
            shutil.copyfileobj(src, dst)
    gff3 = peers.gtf_to_gff3(GTF, work / "chr20.gff3") if available["bcftools"] else None
    snpeff_config = peers.snpeff_database(work / "snpeff", GTF, FASTA) if available["snpeff"] else None
    print(f"gene model {GTF.name}, genome {FASTA.name}; {args.repeat} runs per tool, median time shown\n")

    memory: list[tuple[int, dict[str, peers.Run]]] = []
    first: tuple[Path, Path] | None = None
    for size in (int(text) for text in args.sizes.split(",") if text):
        vcf = generate(reference, size, work / f"synthetic_{size}.vcf.gz")
        records = count_records(vcf)
        tools: dict[str, Callable[[], peers.Run]] = {
            "GAS": partial(run_engine, vcf, work / f"gas_{size}.vcf", bundle),
            "GAS, 2 procs": partial(run_engine, vcf, work / f"gas2_{size}.vcf", bundle, processes=2),
        }
        if args.against is not None:
            tools["GAS baseline"] = partial(run_engine, vcf, work / f"base_{size}.vcf", bundle, root=args.against)
        if gff3 is not None:
            tools["bcftools csq"] = partial(peers.bcftools_csq, vcf, plain_fasta, gff3, work / f"bcftools_{size}.vcf")
        if snpeff_config is not None and records <= args.snpeff_max:
            tools["snpEff"] = partial(peers.snpeff, vcf, snpeff_config, work / f"snpeff_{size}.vcf")
        # (the runs of the tools interleave, so a slow moment of the machine does not favour one)
        runs: dict[str, list[peers.Run]] = {tool: [] for tool in tools}
        for _ in range(args.repeat):
            for tool, run in tools.items():
                runs[tool].append(run())
        results = {tool: median_run(measured) for tool, measured in runs.items()}
        memory.append((records, results))
        if first is None and "snpEff" in results:
            first = (work / f"gas_{size}.vcf", work / f"snpeff_{size}.vcf")

        print(f"{records:,} synthetic chr20 variants ({vcf.name})")
        print(
            f"{'tool':<14}{'seconds':>9}{'variants/s':>12}{'peak MB':>9}{'× bcftools':>12}{'× snpEff':>10}"
            f"{'× baseline':>12}"
        )
        for tool, run in results.items():
            row = f"{tool:<14}{run.seconds:>9.2f}{records / run.seconds:>12,.0f}{run.peak_mb:>9.0f}"
            for peer, width in (("bcftools csq", 12), ("snpEff", 10), ("GAS baseline", 12)):
                ratio = f"{results[peer].seconds / run.seconds:.2f}" if peer in results else "-"
                row += f"{ratio:>{width}}"
            print(row)
        print("(× peer: this tool's throughput over the peer's; peak MB: the largest single process)", flush=True)
        if "GAS baseline" in results:
            same = (work / f"gas_{size}.vcf").read_bytes() == (work / f"base_{size}.vcf").read_bytes()
            print(f"output byte-identical to the baseline's: {'yes' if same else 'NO'}")
        print()

    print("GAS peak memory (MB) as the input grows:")
    for records, results in memory:
        print(f"  {records:>10,} variants: {results['GAS'].peak_mb:.0f} (1 process), "
              f"{results['GAS, 2 procs'].peak_mb:.0f} (2 processes)")  # fmt: skip
    if first is not None:
        print("\nmost severe consequence per allele, GAS vs snpEff:")
        print(concordance.compare(*first).report())
    print_startup(bundle, work)
    print(f"\nwork files in {work}")


def print_startup(bundle: Path, work: Path, repeat: int = 10) -> None:
    """The streaming command's start-up (what Hail pays per block of rows): one record through it,
    ``repeat`` times; and manage.py annotate's for comparison."""
    one = work / "one.vcf"
    one.write_text("##fileformat=VCFv4.1\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n20\t36030940\t.\tG\tA\t.\t.\t.\n")
    stream = [sys.executable, "-m", "jobs.annotation.stream", "--reference", str(bundle), "--vcf"]
    times = []
    for _ in range(repeat):
        with open(one, "rb") as handle:
            started = time.perf_counter()
            subprocess.run(stream, stdin=handle, stdout=subprocess.DEVNULL, cwd=ROOT, check=True)
            times.append(time.perf_counter() - started)
    env = {**os.environ, "GAS_REFERENCE_DIR": str(bundle.parent)}
    manage = []
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run([sys.executable, "manage.py", "annotate", str(one), "-o", str(work / "one.out.vcf"),
                        "--reference", bundle.name, "--quiet"], cwd=ROOT, env=env, check=True,
                       stdout=subprocess.DEVNULL)  # fmt: skip
        manage.append(time.perf_counter() - started)
    print(f"\nstart-up, one record in and out: python -m jobs.annotation.stream {statistics.median(times):.3f} s "
          f"(median of {repeat}; min {min(times):.3f}, max {max(times):.3f}); manage.py annotate "
          f"{statistics.median(manage):.2f} s (median of 3)")  # fmt: skip


if __name__ == "__main__":
    main()
