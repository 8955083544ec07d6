"""Consequence terms as bit masks (bit n is the term of VEP rank n), the CSQ field list, and the
small formatting helpers every part of the engine shares.

Conventions (as VEP's): 1-based genomic coordinates; an allele spans ``s..e`` and an insertion
has ``s == e + 1``; ``ov(a, b, c, d)`` is ``b >= c and a <= d``, so an insertion overlaps a region
only when both flanking bases are inside it.
"""

from __future__ import annotations

from typing import Final

# rank, impact (EV Utils/Constants.pm %OVERLAP_CONSEQUENCES)
TERMS: dict[str, tuple[int, str]] = {
    "transcript_ablation": (1, "HIGH"),
    "splice_acceptor_variant": (2, "HIGH"),
    "splice_donor_variant": (3, "HIGH"),
    "stop_gained": (4, "HIGH"),
    "frameshift_variant": (5, "HIGH"),
    "stop_lost": (6, "HIGH"),
    "start_lost": (7, "HIGH"),
    "transcript_amplification": (8, "HIGH"),
    "feature_elongation": (9, "HIGH"),
    "feature_truncation": (10, "HIGH"),
    "inframe_insertion": (11, "MODERATE"),
    "inframe_deletion": (12, "MODERATE"),
    "missense_variant": (13, "MODERATE"),
    "protein_altering_variant": (14, "MODERATE"),
    "splice_donor_5th_base_variant": (15, "LOW"),
    "splice_region_variant": (16, "LOW"),
    "splice_donor_region_variant": (17, "LOW"),
    "splice_polypyrimidine_tract_variant": (18, "LOW"),
    "incomplete_terminal_codon_variant": (19, "LOW"),
    "start_retained_variant": (20, "LOW"),
    "stop_retained_variant": (21, "LOW"),
    "synonymous_variant": (22, "LOW"),
    "coding_sequence_variant": (23, "MODIFIER"),
    "mature_miRNA_variant": (24, "MODIFIER"),
    "5_prime_UTR_variant": (25, "MODIFIER"),
    "3_prime_UTR_variant": (26, "MODIFIER"),
    "non_coding_transcript_exon_variant": (27, "MODIFIER"),
    "intron_variant": (28, "MODIFIER"),
    "NMD_transcript_variant": (29, "MODIFIER"),
    "non_coding_transcript_variant": (30, "MODIFIER"),
    "coding_transcript_variant": (31, "MODIFIER"),
    "upstream_gene_variant": (32, "MODIFIER"),
    "downstream_gene_variant": (33, "MODIFIER"),
    "intergenic_variant": (40, "MODIFIER"),
}
FLANK = 5000
MAX_SHIFT = 1000
CSQ_FIELDS = (
    "Allele|Consequence|IMPACT|SYMBOL|Gene|Feature_type|Feature|BIOTYPE|EXON|INTRON|HGVSc|HGVSp|cDNA_position|"
    "CDS_position|Protein_position|Amino_acids|Codons|Existing_variation|DISTANCE|STRAND|FLAGS|SYMBOL_SOURCE|"
    "HGNC_ID|SOURCE|HGVS_OFFSET"
).split("|")


def ov(a: int, b: int, c: int, d: int) -> bool:
    return b >= c and a <= d


# Terms travel as bit masks: bit n is the term of rank n, so the lowest bit is the most severe
# and reading the bits upwards gives VEP's order.
TRANSCRIPT_ABLATION: Final = 1 << 1
SPLICE_ACCEPTOR: Final = 1 << 2
SPLICE_DONOR: Final = 1 << 3
STOP_GAINED: Final = 1 << 4
FRAMESHIFT: Final = 1 << 5
STOP_LOST: Final = 1 << 6
START_LOST: Final = 1 << 7
INFRAME_INSERTION: Final = 1 << 11
INFRAME_DELETION: Final = 1 << 12
MISSENSE: Final = 1 << 13
PROTEIN_ALTERING: Final = 1 << 14
SPLICE_DONOR_5TH_BASE: Final = 1 << 15
SPLICE_REGION: Final = 1 << 16
SPLICE_DONOR_REGION: Final = 1 << 17
SPLICE_POLYPYRIMIDINE: Final = 1 << 18
INCOMPLETE_TERMINAL_CODON: Final = 1 << 19
START_RETAINED: Final = 1 << 20
STOP_RETAINED: Final = 1 << 21
SYNONYMOUS: Final = 1 << 22
CODING_SEQUENCE: Final = 1 << 23
UTR5: Final = 1 << 25
UTR3: Final = 1 << 26
NON_CODING_EXON: Final = 1 << 27
INTRON: Final = 1 << 28
NMD_TRANSCRIPT: Final = 1 << 29
NON_CODING_TRANSCRIPT: Final = 1 << 30
UPSTREAM: Final = 1 << 32
DOWNSTREAM: Final = 1 << 33
INTERGENIC: Final = 1 << 40
CODING_TERMS: Final = (
    STOP_GAINED | FRAMESHIFT | STOP_LOST | START_LOST | INFRAME_INSERTION | INFRAME_DELETION | MISSENSE
    | PROTEIN_ALTERING | INCOMPLETE_TERMINAL_CODON | START_RETAINED | STOP_RETAINED | SYNONYMOUS | CODING_SEQUENCE
)  # fmt: skip
_TERM_OF_RANK = {rank: term for term, (rank, _) in TERMS.items()}


def term_names(mask: int) -> list[str]:
    """The terms of ``mask``, most severe first."""
    return [_TERM_OF_RANK[rank] for rank in range(mask.bit_length()) if mask >> rank & 1]


class Consequence:
    """What the CSQ entry and the counts need of a set of terms."""

    __slots__ = ("impact", "rank", "severe", "text")

    def __init__(self, mask: int) -> None:
        names = term_names(mask)
        self.text = "&".join(names)
        self.severe = names[0]
        self.rank, self.impact = TERMS[self.severe]


_CONSEQUENCES: dict[int, Consequence] = {}


def describe(mask: int) -> Consequence:
    consequence = _CONSEQUENCES.get(mask)
    if consequence is None:
        consequence = _CONSEQUENCES[mask] = Consequence(mask)
    return consequence


def csq_escape(value: str) -> str:
    """A CSQ value: the characters that separate VCF fields, CSQ entries and CSQ fields replaced."""
    if "," in value or ";" in value or "|" in value or " " in value or "\t" in value:
        for old, new in ((",", "&"), (";", "%3B"), ("|", "&"), (" ", "_"), ("\t", "_")):
            value = value.replace(old, new)
    return value


def span_text(start: int | None, end: int | None) -> str:
    """VEP's position format: a, a-b, low-high for an insertion, ? for an unknown side."""
    if start is None and end is None:
        return ""
    if start is None or end is None:
        return f"{'?' if start is None else start}-{'?' if end is None else end}"
    if start == end:
        return str(start)
    low, high = (start, end) if start < end else (end, start)
    return f"{low}-{high}"


def numbers_text(low: int, high: int, total: int) -> str:
    """VEP's EXON/INTRON text: 'n/total' or 'low-high/total'; '' when none was hit (low 0)."""
    if low == 0:
        return ""
    return f"{low}/{total}" if low == high else f"{low}-{high}/{total}"


def numbers_hit(intervals: list[tuple[int, int]], first: int, stop: int, s: int, e: int, plus: bool) -> tuple[int, int]:
    """The lowest and highest numbers (1-based, in transcript order) of the exons or introns
    ``intervals[first:stop]`` that overlap s..e; (0, 0) for none."""
    first_hit = last_hit = -1
    for index in range(first, stop):
        i_s, i_e = intervals[index]
        if e >= i_s and s <= i_e:
            if first_hit < 0:
                first_hit = index
            last_hit = index
    if first_hit < 0:
        return 0, 0
    if plus:
        return first_hit + 1, last_hit + 1
    return len(intervals) - last_hit, len(intervals) - first_hit
