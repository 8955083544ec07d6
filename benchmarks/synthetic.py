"""Generate a realistic synthetic VCF from a reference bundle: any size, reproducible by seed.

90% SNVs, 10% small indels (1-10 bp insertions and deletions), positions spread over the
annotated contigs, REF alleles taken from the genome, sorted, bgzipped when the name ends in .gz.

    python benchmarks/synthetic.py --reference var/references/demo --count 100000 -o /tmp/syn100k.vcf.gz
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import pysam

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from jobs.annotation.reference import Reference

BASES = "ACGT"


def generate(
    reference: Reference, count: int, output: Path, *, seed: int = 20, contigs: list[str] | None = None
) -> Path:
    rng = random.Random(seed)
    contigs = contigs or reference.manifest.get("annotated_contigs") or list(reference.contig_lengths)
    lengths = [reference.contig_lengths[c] for c in contigs]
    total = sum(lengths)
    per_contig = {c: max(1, round(count * n / total)) for c, n in zip(contigs, lengths, strict=True)}
    lines = [
        "##fileformat=VCFv4.2",
        '##FILTER=<ID=PASS,Description="All filters passed">',
        *[f"##contig=<ID={c},length={reference.contig_lengths[c]}>" for c in contigs],
        f"##reference={reference.name}",
        '##INFO=<ID=SYN,Number=0,Type=Flag,Description="synthetic">',
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO",
    ]
    for contig in contigs:
        length = reference.contig_lengths[contig]
        positions = sorted(rng.sample(range(1000, length - 1000), per_contig[contig]))
        fetch = reference.fasta.fetch
        for pos in positions:
            roll = rng.random()
            if roll < 0.9:
                ref = fetch(contig, pos - 1, pos).upper()
                if ref not in BASES:
                    continue
                alt = rng.choice([b for b in BASES if b != ref])
            elif roll < 0.95:
                size = rng.choice((1, 1, 1, 2, 2, 3, 4, 6, 10))
                ref = fetch(contig, pos - 1, pos).upper()
                if ref not in BASES:
                    continue
                alt = ref + "".join(rng.choice(BASES) for _ in range(size))
            else:
                size = rng.choice((1, 1, 1, 2, 2, 3, 4, 6, 10))
                ref = fetch(contig, pos - 1, pos + size).upper()
                if any(base not in BASES for base in ref):
                    continue
                alt = ref[0]
            lines.append(f"{contig}\t{pos}\t.\t{ref}\t{alt}\t50\tPASS\tSYN")
    text = "\n".join(lines) + "\n"
    if output.name.endswith(".gz"):
        plain = output.with_name(output.name.removesuffix(".gz"))
        plain.write_text(text)
        pysam.tabix_compress(str(plain), str(output), force=True)
        plain.unlink()
    else:
        output.write_text(text)
    return output


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reference", type=Path, required=True, help="Path of a reference bundle directory.")
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=20)
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args()
    generate(Reference(args.reference), args.count, args.output, seed=args.seed)
    print(args.output)


if __name__ == "__main__":
    main()
