"""The variant table's layout: its columns, the CSQ fields beside them, the ranks and classes."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from gas_site.errors import ServiceError
from jobs.annotation.breakends import SINGLE_LABEL, is_breakend
from jobs.annotation.sv import sv_class
from jobs.annotation.terms import CODING_TERMS, TERMS
from jobs.annotation.vcf import process_alleles

FORMAT_VERSION = 2  # (2: carriers, ref_gt, zygs and the samples' names, for the genotype table)

# entries per row group: a range of variants or a region skips groups by their statistics; past
# that, larger groups answer faster (less metadata per query: 200k against 64k halved a count)
ROW_GROUP = 200_000

IMPACTS = ("HIGH", "MODERATE", "LOW", "MODIFIER")

NOT_ANNOTATED_RANK = 99  # (a record without CSQ: sorts after every consequence)

CODING = frozenset(term for term, (rank, _) in TERMS.items() if CODING_TERMS >> rank & 1)

VARIANT_CLASSES = ("SNV", "insertion", "deletion", "MNV", "SV")

# the table's own columns; CSQ fields follow under their header names
# (carriers: samples carrying the ALT; ref_gt: the genotype of a sample the genotype table omits; zygs:
# each sample's zygosity letter, for up to genotypes.ZYGS_UP_TO samples; all null without samples)
BASE_COLUMNS = ("v", "rec", "eno", "chrom", "pos", "id", "ref", "alt", "variant_class", "worst", "rank",
                "impact_rank", "coding", "in_dbsnp", "carriers", "ref_gt", "zygs")  # fmt: skip

# the CSQ fields the browser's page shows (the API's pages carry every field)
PAGE_FIELDS = ("Allele", "Consequence", "IMPACT", "SYMBOL", "Gene", "Feature", "BIOTYPE", "EXON", "INTRON", "HGVSc",
               "HGVSp", "Protein_position", "Amino_acids", "Codons", "Existing_variation", "DISTANCE")  # fmt: skip


class TableError(ServiceError):
    """A filter a user gave that cannot be applied (the message says which and why)."""

    code = "invalid_filter"


def csq_field_names(header_lines: Iterable[str]) -> list[str]:
    for line in header_lines:
        if line.startswith("##INFO=<ID=CSQ,"):
            return line.split("Format: ", 1)[1].split('"', 1)[0].split("|")
    return []


def table_columns(csq_fields: Sequence[str]) -> list[str]:
    """The column of each CSQ field: its own name, unless it clashes with a table column."""
    taken = {name.lower() for name in BASE_COLUMNS}
    return [f"CSQ_{name}" if name.lower() in taken else name for name in csq_fields]


def table_schema(csq_columns: Sequence[str], *, samples: Sequence[str] = ()) -> pa.Schema:
    base = [
        ("v", pa.int32()), ("rec", pa.int32()), ("eno", pa.int16()), ("chrom", pa.string()), ("pos", pa.int64()),
        ("id", pa.string()), ("ref", pa.string()), ("alt", pa.string()), ("variant_class", pa.string()),
        ("worst", pa.bool_()), ("rank", pa.int16()), ("impact_rank", pa.int8()), ("coding", pa.bool_()),
        ("in_dbsnp", pa.bool_()), ("carriers", pa.int32()), ("ref_gt", pa.string()),
        ("zygs", pa.string()),
    ]  # fmt: skip
    fields = [pa.field(name, kind) for name, kind in base]
    fields += [pa.field(name, pa.string()) for name in csq_columns]
    return pa.schema(
        fields, metadata={"gas_variant_table": str(FORMAT_VERSION), "gas_samples": json.dumps(list(samples))}
    )


def variant_class(ref: str, alt: str) -> str:
    """VEP's VARIANT_CLASS, in the browser's five classes, of one VCF ALT against its REF."""
    if alt.startswith("<") or "[" in alt or "]" in alt:
        return "SV"
    alleles = process_alleles(1, ref, [alt])
    if not alleles:
        return "SNV" if len(ref) == len(alt) == 1 else "MNV"
    allele = alleles[0]
    if not allele.ref:
        return "insertion"
    if not allele.alt:
        return "deletion"
    return "SNV" if len(allele.ref) == len(allele.alt) == 1 else "MNV"


def entry_rank(consequence: str) -> int:
    ranks = [TERMS[term][0] for term in consequence.split("&") if term in TERMS]
    return min(ranks) if ranks else NOT_ANNOTATED_RANK


def term_of_rank(rank: int) -> str:
    for term, (term_rank, _) in TERMS.items():
        if term_rank == rank:
            return term
    return "not annotated"


def is_gzip(path: Path) -> bool:
    with open(path, "rb") as probe:
        return probe.read(2) == b"\x1f\x8b"


def open_vcf(path: Path) -> Any:
    return gzip.open(path, "rt", encoding="utf-8") if is_gzip(path) else open(path, encoding="utf-8")


def allele_of_label(ref: str, alts: list[str], pos: int) -> dict[str, int]:
    """Each CSQ Allele label of a record -> the 0-based index of its ALT."""
    labels = {allele.label: allele.alt_index - 1 for allele in process_alleles(pos, ref, alts)}
    for index, alt in enumerate(alts):  # (structural ALTs: as written, by class, or as their junction)
        labels.setdefault(alt, index)
        kind = sv_class(alt)
        if kind is not None:
            labels.setdefault(kind, index)
        elif is_breakend(alt):
            for label in (f"{ref}.", f".{ref}", SINGLE_LABEL):
                labels.setdefault(label, index)
    return labels
