"""Benchmark: a whole-genome gene model (issue 12, item 6) - reading it, importing it, and a warm
worker's first variant.

    python benchmarks/genome.py [--gff3 ../shared/data/GRCh37.gencode19.gff3.gz] [--repeat 3]

Each step runs in its own process, ``--repeat`` times; it prints the median wall time and the
largest peak RSS:

- read: parse the whole GFF3 into transcripts (every contig; the cyclic GC on, as a plain reader);
- import: parse it and build a bundle against the demo FASTA (chromosome 20: the transcripts of
  the contigs the FASTA lacks are parsed, then dropped); the genome is written by a child process
  beside the parse, whose peak is printed apart ("child");
- load: open that bundle, index chromosome 20 and annotate one variant (a cold worker), then a
  second job's first variant on the same, loaded bundle (a warm worker);
- the peer, in the same run: the same three steps for the demo's chromosome-20 GTF alone.

With ``--whole-genome``, it also builds a synthetic GRCh37 genome (every chromosome at its real
length, its bases tiled from the real chromosome 20), imports the whole gene model against it (no
transcript dropped) and annotates a synthetic genome-wide VCF (variants in exons of every 10th
transcript and one every megabase, chromosomes 1-22, X, Y and MT) in one worker process, printing
the worker's resident memory after each chromosome and at the end.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "reference" / "demo"

STEP = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
step, model, work = sys.argv[2], sys.argv[3], sys.argv[4]
from pathlib import Path
started = time.monotonic()
out = {}
if step == "read":
    from jobs.annotation.gene_models import read_gene_model
    out["transcripts"] = sum(1 for _ in read_gene_model(model))
elif step == "import":
    from jobs.annotation.reference import import_reference
    fasta, name = Path(sys.argv[5]), sys.argv[6]
    report = import_reference(name=name, build="GRCh37", gene_model=Path(model), fasta=fasta,
                              destination=Path(work) / name)
    out["transcripts"] = report.transcripts
    out["dropped"] = report.dropped
else:
    from jobs.annotation.engine import annotate_vcf
    from jobs.annotation.reference import Reference
    vcf = Path(work) / "one.vcf"
    vcf.write_text("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n20\t10256079\t.\tN\tA\t.\t.\t.\n")
    reference = Reference(Path(work) / "g")
    annotate_vcf(vcf, Path(work) / "cold.vcf", reference)
    out["cold_first_variant_s"] = time.monotonic() - started
    warm = time.monotonic()
    annotate_vcf(vcf, Path(work) / "warm.vcf", reference)
    out["warm_first_variant_s"] = time.monotonic() - warm
out["seconds"] = time.monotonic() - started
# (VmHWM, the peak of this process's own memory: ru_maxrss keeps the parent's peak across exec)
with open("/proc/self/status") as status:
    out["peak_mb"] = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
# (the import writes the genome in a child process: its peak, an upper bound, counted beside)
out["child_peak_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps(out))
"""


WORKER = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
bundle, vcfs, work = sys.argv[2], sys.argv[3].split(","), sys.argv[4]
from pathlib import Path
from jobs.annotation.engine import annotate_vcf
from jobs.annotation.reference import Reference

def status_mb(field):
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field + ":")) / 1024

def rss_mb():
    return status_mb("VmRSS")

reference = Reference(bundle)
started = time.monotonic()
for vcf in vcfs:  # one job per chromosome, one after another on the same worker
    begun = time.monotonic()
    result = annotate_vcf(vcf, Path(work) / "out.vcf", reference)
    print(json.dumps({"vcf": Path(vcf).stem, "records": result.stats.records, "seconds": time.monotonic() - begun,
                      "rss_mb": rss_mb()}), flush=True)
warm = time.monotonic()
annotate_vcf(vcfs[0], Path(work) / "again.vcf", reference)
print(json.dumps({"jobs_seconds": warm - started, "warm_chr1_job_s": time.monotonic() - warm, "rss_mb": rss_mb(),
                  "peak_mb": status_mb("VmHWM")}))
"""

# GRCh37's chromosomes (jobs.references.matching.BUILD_LENGTHS, and the mitochondrion), named as GENCODE names them
GRCH37 = {
    **{f"chr{n}": length for n, length in zip(
        [*map(str, range(1, 23)), "X", "Y"],
        [249250621, 243199373, 198022430, 191154276, 180915260, 171115067, 159138663, 146364022, 141213431,
         135534747, 135006516, 133851895, 115169878, 107349540, 102531392, 90354753, 81195210, 78077248,
         59128983, 63025520, 48129895, 51304566, 155270560, 59373566], strict=True)},
    "chrM": 16569,
}  # fmt: skip


def synthetic_genome(target: Path) -> None:
    """Every GRCh37 chromosome at its real length, its bases tiled from the real chromosome 20."""
    import pysam

    chr20 = pysam.FastaFile(str(DEMO / "GRCh37.chr20.fa.gz")).fetch("20").upper()
    with open(target, "w", encoding="ascii") as out:
        for name, length in GRCH37.items():
            out.write(f">{name}\n")
            for start in range(0, length, len(chr20)):
                out.write(chr20[: min(len(chr20), length - start)])
            out.write("\n")


def synthetic_vcfs(bundle: Path, work: Path) -> list[Path]:
    """One VCF per chromosome: a SNV in the middle of an exon of every 10th transcript, and one
    every megabase, each with the genome's own REF base."""
    import pickle

    import pysam

    genome = pysam.FastaFile(str(bundle / "genome.fa"))
    paths = []
    for name, length in GRCH37.items():
        with open(bundle / "transcripts" / f"{name}.pkl", "rb") as handle:
            records = pickle.load(handle)  # noqa: S301 - the bundle this run just built
        positions = {(start + end) // 2 for record in records[::10] for start, end in record[5][:1]}
        positions |= set(range(500_000, length, 1_000_000))
        path = work / f"{name}.vcf"
        with open(path, "w") as out:
            out.write(f"##fileformat=VCFv4.2\n##contig=<ID={name},length={length}>\n")
            out.write("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
            for pos in sorted(positions):
                ref = genome.fetch(name, pos - 1, pos)
                alt = "C" if ref != "C" else "T"
                out.write(f"{name}\t{pos}\t.\t{ref}\t{alt}\t.\t.\t.\n")
        paths.append(path)
    return paths


def whole_genome(model: Path, work: Path) -> None:
    """Import ``model`` against a synthetic whole genome, then annotate every chromosome in one worker."""
    import time

    fasta = work / "genome.fa"
    began = time.monotonic()
    synthetic_genome(fasta)
    print(f"synthetic genome: {fasta.stat().st_size / 1e9:.2f} GB written in {time.monotonic() - began:.1f} s")
    bundle = work / "wg"
    result = run("import", model, work, fasta=fasta, name="wg")
    print(f"import against it: {result['seconds']:.2f} s, peak {result['peak_mb']:.0f} MB "
          f"(+ {result['child_peak_mb']:.0f} MB in the genome's process), "
          f"{result['transcripts']} transcripts, {result['dropped']} dropped")  # fmt: skip
    vcfs = synthetic_vcfs(bundle, work)
    python = ROOT / ".venv" / "bin" / "python"
    command = [str(python), "-c", WORKER, str(ROOT), str(bundle), ",".join(map(str, vcfs)), str(work)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as worker:
        assert worker.stdout is not None
        for line in worker.stdout:
            row = json.loads(line)
            if "vcf" in row:
                print(f"  {row['vcf']:<6}{row['records']:>7} records {row['seconds']:>7.2f} s   "
                      f"worker RSS {row['rss_mb']:>6.0f} MB", flush=True)  # fmt: skip
            else:
                print(f"all chromosomes: {row['jobs_seconds']:.1f} s; worker RSS after them {row['rss_mb']:.0f} MB "
                      f"(peak {row['peak_mb']:.0f} MB); chr1 again on the warm worker "
                      f"{row['warm_chr1_job_s']:.2f} s")  # fmt: skip
    if worker.returncode:
        raise SystemExit(f"the worker failed ({worker.returncode})")


def run(step: str, model: Path, work: Path, *, fasta: Path | None = None, name: str = "g") -> dict:
    python = ROOT / ".venv" / "bin" / "python"
    done = subprocess.run(
        [
            str(python),
            "-c",
            STEP,
            str(ROOT),
            step,
            str(model),
            str(work),
            str(fasta or DEMO / "GRCh37.chr20.fa.gz"),
            name,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(label: str, model: Path, repeat: int) -> dict[str, dict]:
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        for step in ("read", "import", "load"):
            runs = [run(step, model, work) for _ in range(repeat)]
            merged = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
            merged["peak_mb"] = max(r["peak_mb"] for r in runs)
            merged["child_peak_mb"] = max(r["child_peak_mb"] for r in runs)
            results[step] = merged
            extra = ", ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}"
                              for k, v in merged.items() if not k.endswith(("seconds", "peak_mb")))  # fmt: skip
            print(f"{label:<24}{step:<8}{merged['seconds']:>8.2f} s{merged['peak_mb']:>9.0f} MB"
                  f" (+{merged['child_peak_mb']:.0f} MB child)   {extra}", flush=True)  # fmt: skip
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gff3", type=Path, default=ROOT.parent / "shared/data/GRCh37.gencode19.gff3.gz")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--whole-genome", action="store_true", help="also a synthetic whole genome (10 GB of disk)")
    parser.add_argument("--work", type=Path, help="where the whole genome is built (default: a temporary folder)")
    options = parser.parse_args()
    if options.whole_genome:
        with tempfile.TemporaryDirectory(dir=options.work) as scratch:
            whole_genome(options.gff3, Path(scratch))
    print(f"{'model':<24}{'step':<8}{'median':>10}{'peak':>12}   (of {options.repeat} runs each)")
    whole = measure("whole genome (GFF3)", options.gff3, options.repeat)
    chr20 = measure("chr20 only (GTF)", DEMO / "GRCh37.chr20.gencode19.gtf.gz", options.repeat)
    for step in ("read", "import", "load"):
        print(f"whole genome / chr20, {step}: {whole[step]['seconds'] / chr20[step]['seconds']:.1f}x time, "
              f"{whole[step]['peak_mb'] / chr20[step]['peak_mb']:.1f}x peak memory")  # fmt: skip


if __name__ == "__main__":
    main()
