"""Make the demo's two SYNTHETIC annotation sources (run once; the outputs are committed).

    .venv/bin/python reference/demo/make_synthetic_sources.py

No real ClinVar or gnomAD slice of chr20 ships in a PyPI or Debian package, so the demo's sources
are stand-ins: files in the providers' own VCF layouts (ClinVar's weekly VCF, gnomAD 2.1.1's
sites VCF) whose records are alleles of the demo file `tests/data/synthetic_chr20_10k.vcf.gz`
(itself synthetic) and whose values are drawn at random (seed 2026). Nothing in them describes a
real person, variant classification or population. `make run` registers them with descriptions
that say SYNTHETIC (`manage.py source demo`).
"""

from __future__ import annotations

import gzip
import math
import random
from pathlib import Path

import pysam

HERE = Path(__file__).resolve().parent
DEMO_VCF = HERE.parent.parent / "tests" / "data" / "synthetic_chr20_10k.vcf.gz"
CLINVAR_OUT = HERE / "clinvar_SYNTHETIC_GRCh37.chr20.vcf"
GNOMAD_OUT = HERE / "gnomad_exomes_SYNTHETIC_GRCh37.chr20.vcf"

# ClinVar's own vocabulary (aggregate germline classification, review status), with rough weights.
SIGNIFICANCE = (
    ("Uncertain_significance", 40), ("Likely_benign", 20), ("Benign", 15), ("Pathogenic", 8),
    ("Likely_pathogenic", 6), ("Conflicting_classifications_of_pathogenicity", 8), ("not_provided", 3),
)  # fmt: skip
REVIEW = (
    ("criteria_provided,_single_submitter", 55), ("criteria_provided,_multiple_submitters,_no_conflicts", 20),
    ("no_assertion_criteria_provided", 12), ("criteria_provided,_conflicting_classifications", 8),
    ("reviewed_by_expert_panel", 5),
)  # fmt: skip
CONDITIONS = ("not_provided", "not_specified", "Inborn_genetic_diseases", "Hereditary_cancer-predisposing_syndrome")

CLINVAR_HEADER = """##fileformat=VCFv4.1
##fileDate=2026-12-07
##source=SYNTHETIC stand-in in ClinVar's VCF layout, made for the GAS demo (not clinical data)
##reference=GRCh37
##ID=<Description="ClinVar Variation ID (SYNTHETIC)">
##INFO=<ID=ALLELEID,Number=1,Type=Integer,Description="the ClinVar Allele ID">
##INFO=<ID=CLNDN,Number=.,Type=String,Description="ClinVar's preferred disease name for the concept specified by disease identifiers in CLNDISDB">
##INFO=<ID=CLNREVSTAT,Number=.,Type=String,Description="ClinVar review status of germline classification for the Variation ID">
##INFO=<ID=CLNSIG,Number=.,Type=String,Description="Aggregate germline classification for this single variant; multiple values are separated by a vertical bar">
##INFO=<ID=CLNVC,Number=1,Type=String,Description="Variant type">
##INFO=<ID=ORIGIN,Number=.,Type=String,Description="Allele origin. One or more of the following values may be added: 0 - unknown; 1 - germline">
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO
"""  # noqa: E501
GNOMAD_HEADER = """##fileformat=VCFv4.2
##source=SYNTHETIC stand-in in gnomAD 2.1.1's sites VCF layout, made for the GAS demo (not population data)
##FILTER=<ID=PASS,Description="All filters passed">
##INFO=<ID=AC,Number=A,Type=Integer,Description="Alternate allele count for samples">
##INFO=<ID=AN,Number=1,Type=Integer,Description="Total number of alleles in samples">
##INFO=<ID=AF,Number=A,Type=Float,Description="Alternate allele frequency in samples">
##INFO=<ID=nhomalt,Number=A,Type=Integer,Description="Count of homozygous individuals in samples">
##INFO=<ID=AF_popmax,Number=A,Type=Float,Description="Maximum allele frequency across populations (excluding samples of Ashkenazi, Finnish, and indeterminate ancestry)">
##contig=<ID=20,length=63025520,assembly=GRCh37>
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO
"""  # noqa: E501


def _pick(rng: random.Random, weighted: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([value for value, _ in weighted], weights=[weight for _, weight in weighted])[0]


def _kind(ref: str, alt: str) -> str:
    if len(ref) == len(alt) == 1:
        return "single_nucleotide_variant"
    if len(ref) > len(alt):
        return "Deletion"
    return "Insertion" if len(ref) < len(alt) else "Indel"


def _records() -> list[tuple[int, str, str]]:
    with gzip.open(DEMO_VCF, "rt") as lines:
        rows = [line.split("\t", 5) for line in lines if not line.startswith("#")]
    return [(int(row[1]), row[3], alt) for row in rows for alt in row[4].split(",")]


def clinvar_lines(alleles: list[tuple[int, str, str]], rng: random.Random) -> list[str]:
    lines = []
    for number, (pos, ref, alt) in enumerate(sorted(rng.sample(alleles, 600)), start=1):
        info = (
            f"ALLELEID={900000 + number};CLNDN={rng.choice(CONDITIONS)};CLNREVSTAT={_pick(rng, REVIEW)};"
            f"CLNSIG={_pick(rng, SIGNIFICANCE)};CLNVC={_kind(ref, alt)};ORIGIN=1"
        )
        lines.append(f"20\t{pos}\t{800000 + number}\t{ref}\t{alt}\t.\t.\t{info}\n")
    return lines


def gnomad_lines(alleles: list[tuple[int, str, str]], rng: random.Random) -> list[str]:
    lines = []
    for pos, ref, alt in sorted(rng.sample(alleles, len(alleles) * 6 // 10)):
        number = rng.randint(240_000, 251_000)
        frequency = 10 ** rng.uniform(math.log10(1 / number), math.log10(0.6))
        count = max(1, round(frequency * number))
        homozygous = round(number / 2 * (count / number) ** 2)
        popmax = min(1.0, count / number * rng.uniform(1.0, 4.0))
        info = f"AC={count};AN={number};AF={count / number:.5g};nhomalt={homozygous};AF_popmax={popmax:.5g}"
        lines.append(f"20\t{pos}\t.\t{ref}\t{alt}\t{rng.randint(100, 9000)}\tPASS\t{info}\n")
    return lines


def write(path: Path, header: str, lines: list[str]) -> None:
    path.write_text(header + "".join(lines))
    pysam.tabix_compress(str(path), f"{path}.gz", force=True)
    path.unlink()
    print(f"{path.name}.gz: {len(lines)} records")


def main() -> None:
    alleles = _records()
    rng = random.Random(2026)
    write(CLINVAR_OUT, CLINVAR_HEADER, clinvar_lines(alleles, rng))
    write(GNOMAD_OUT, GNOMAD_HEADER, gnomad_lines(alleles, rng))


if __name__ == "__main__":
    main()
