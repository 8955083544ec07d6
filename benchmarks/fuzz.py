"""Annotate N random records aimed at exon edges, splice zones and codons 1/last (jobs.annotation.fuzz)
and report how many the engine could not annotate: ``python benchmarks/fuzz.py [N] [SEED]``."""

from __future__ import annotations

import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from jobs.annotation.engine import annotate_vcf  # noqa: E402
from jobs.annotation.fuzz import random_record  # noqa: E402
from jobs.annotation.reference import Reference  # noqa: E402


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 2026
    reference = Reference(ROOT / "var" / "references" / "demo")
    transcripts = reference.index("20").transcripts
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "fuzz.vcf"
        with open(source, "w") as handle:
            handle.write("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
            for _ in range(count):
                handle.write(random_record(rng, reference, "20", transcripts) + "\n")
        started = time.monotonic()
        result = annotate_vcf(source, Path(folder) / "out.vcf.gz", reference)
        seconds = time.monotonic() - started
    stats = result.stats
    print(
        f"{stats.records:,} random records ({stats.alleles:,} alleles), seed {seed}: "
        f"{stats.records_failed} could not be annotated; {seconds:.1f} s"
    )
    for example in stats.failed_examples[:20]:
        print("  ", example)


if __name__ == "__main__":
    main()
