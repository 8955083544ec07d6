"""Benchmark: a whole-genome gene model (issue 12, item 6) - reading it, importing it, and a warm
worker's first variant.

    python benchmarks/genome.py [--gff3 ../shared/data/GRCh37.gencode19.gff3.gz] [--repeat 3]

Each step runs in its own process, ``--repeat`` times; it prints the median wall time and the
largest peak RSS:

- read: parse the whole GFF3 into transcripts (every contig);
- import: parse it and build a bundle against the demo FASTA (chromosome 20: the transcripts of
  the contigs the FASTA lacks are parsed, then dropped);
- load: open that bundle, index chromosome 20 and annotate one variant (a cold worker), then a
  second job's first variant on the same, loaded bundle (a warm worker);
- the peer, in the same run: the same three steps for the demo's chromosome-20 GTF alone.
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
    fasta = Path(sys.argv[1]) / "reference/demo/GRCh37.chr20.fa.gz"
    report = import_reference(name="g", build="GRCh37", gene_model=Path(model), fasta=fasta,
                              destination=Path(work) / "g")
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
out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
"""


def run(step: str, model: Path, work: Path) -> dict:
    python = ROOT / ".venv" / "bin" / "python"
    done = subprocess.run(
        [str(python), "-c", STEP, str(ROOT), step, str(model), str(work)], capture_output=True, text=True, check=True
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
            results[step] = merged
            extra = ", ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}"
                              for k, v in merged.items() if k not in ("seconds", "peak_mb"))  # fmt: skip
            print(f"{label:<24}{step:<8}{merged['seconds']:>8.2f} s{merged['peak_mb']:>9.0f} MB   {extra}", flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gff3", type=Path, default=ROOT.parent / "shared/data/GRCh37.gencode19.gff3.gz")
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    print(f"{'model':<24}{'step':<8}{'median':>10}{'peak':>12}   (of {options.repeat} runs each)")
    whole = measure("whole genome (GFF3)", options.gff3, options.repeat)
    chr20 = measure("chr20 only (GTF)", DEMO / "GRCh37.chr20.gencode19.gtf.gz", options.repeat)
    for step in ("read", "import", "load"):
        print(f"whole genome / chr20, {step}: {whole[step]['seconds'] / chr20[step]['seconds']:.1f}x time, "
              f"{whole[step]['peak_mb'] / chr20[step]['peak_mb']:.1f}x peak memory")  # fmt: skip


if __name__ == "__main__":
    main()
