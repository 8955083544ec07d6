"""Structural variants: symbolic ALT alleles (``<DEL>``, ``<DUP>``, ``<INV>``, ``<CNV>``, ``<INS>``)
annotated as Ensembl VEP 115 annotates them (EV Utils/VariationEffect.pm, the structural-variant
branches; TranscriptStructuralVariationAllele).

VEP's rules, as read against its output on the development truth set:
* The allele is named by its class: ``deletion``, ``duplication``, ``tandem_duplication``,
  ``inversion``, ``insertion``, ``copy_number_variation``; HGVS, codons and amino acids stay empty.
* The span starts after the padding base (POS + 1) and runs |SVLEN| bases, or to INFO END without
  SVLEN; an insertion sits between POS and POS + 1.
* A deletion covering a whole transcript is ``transcript_ablation`` (a duplication:
  ``transcript_amplification``; anything else: ``coding_transcript_variant`` or
  ``non_coding_transcript_variant``), with no EXON, INTRON or positions. Otherwise location terms
  (UTRs, ``coding_sequence_variant``, ``intron_variant``, non-coding exon) come from what the span
  overlaps, plus ``feature_truncation`` for a deletion that reaches an exon, ``feature_elongation``
  for a duplication or insertion inside the transcript that reaches an exon, and ``stop_lost``
  for a deletion over the stop codon. No splice terms, no start_lost.
* Positions are mapped end by end (``1079-?`` when the far end falls outside an exon).
Other types are not annotated; the engine reports them by reason. Breakends: ``breakends``.
"""

from __future__ import annotations

from typing import Final

from jobs.annotation.consequence import csq_head
from jobs.annotation.model import Transcript
from jobs.annotation.terms import (
    CODING_SEQUENCE,
    DOWNSTREAM,
    FLANK,
    FRAMESHIFT,
    INFRAME_DELETION,
    INTRON,
    NMD_TRANSCRIPT,
    NON_CODING_EXON,
    NON_CODING_TRANSCRIPT,
    STOP_LOST,
    TRANSCRIPT_ABLATION,
    UPSTREAM,
    UTR3,
    UTR5,
    Consequence,
    describe,
    numbers_hit,
    numbers_text,
    span_text,
)
from jobs.annotation.vcf import info_fields

CODING_TRANSCRIPT: Final = 1 << 31
TRANSCRIPT_AMPLIFICATION: Final = 1 << 8
FEATURE_ELONGATION: Final = 1 << 9
FEATURE_TRUNCATION: Final = 1 << 10

MAX_SV_LENGTH: Final = 10_000_000  # bp, as VEP's --max_sv_size default

# symbolic ALT type (its first part, before ':') -> VEP's class name
_CLASSES: Final = {
    "DEL": "deletion",
    "DUP": "duplication",
    "INV": "inversion",
    "INS": "insertion",
    "CNV": "copy_number_variation",
}
_LOSS: Final = frozenset({"deletion"})
_GAIN: Final = frozenset({"duplication", "tandem_duplication"})
_ELONGATING: Final = frozenset({"duplication", "tandem_duplication", "insertion"})


class StructuralAllele:
    """One symbolic ALT allele: ``start..end`` on the genome (an insertion has end = start - 1)."""

    __slots__ = ("alt_index", "end", "kind", "start")

    def __init__(self, alt_index: int, kind: str, start: int, end: int) -> None:
        self.alt_index = alt_index
        self.kind = kind
        self.start = start
        self.end = end

    def __repr__(self) -> str:
        return f"<StructuralAllele {self.kind} {self.start}-{self.end}>"

    @property
    def label(self) -> str:
        return self.kind


def _first_int(text: str | None) -> int | None:
    if text is None:
        return None
    first = text.split(",")[0]
    try:
        return int(first)
    except ValueError:
        return None


def sv_class(alt: str) -> str | None:
    """VEP's class name for a symbolic ALT (``<DUP:TANDEM>`` is tandem_duplication), or None."""
    if not (alt.startswith("<") and alt.endswith(">")):
        return None
    parts = alt[1:-1].upper().split(":")
    if parts[0] == "DUP" and len(parts) > 1 and parts[1] == "TANDEM":
        return "tandem_duplication"
    return _CLASSES.get(parts[0])


def structural_alleles(pos: int, alts: list[str], info: str) -> tuple[list[StructuralAllele], list[str]]:
    """The record's symbolic ALTs that can be annotated, and for each one that cannot, why."""
    found: list[StructuralAllele] = []
    refused: list[str] = []
    fields: dict[str, str] | None = None
    for index, alt in enumerate(alts, 1):
        if not alt.startswith("<"):  # (sequences, and breakends: jobs.annotation.breakends)
            continue
        kind = sv_class(alt)
        if kind is None:
            refused.append(f"ALT {alt}: structural variant type not supported (DEL, DUP, INV, INS, CNV are)")
            continue
        # VEP: the span starts after the padding base and runs SVLEN bases when SVLEN is given, else to END
        start = pos + 1
        fields = info_fields(info) if fields is None else fields
        length = _first_int(fields.get("SVLEN"))
        end = start + abs(length) - 1 if length else _first_int(fields.get("END"))
        if end is None:
            refused.append(f"ALT {alt}: no INFO END or SVLEN, so its extent is unknown")
            continue
        if kind == "insertion" and not length:  # (VEP: with SVLEN, an insertion spans SVLEN bases as well)
            end = start - 1
        elif end < start:
            refused.append(f"ALT {alt}: END {end} lies before POS {pos}")
            continue
        if end - start + 1 > MAX_SV_LENGTH:
            refused.append(f"ALT {alt}: {end - start + 1:,} bp is longer than the {MAX_SV_LENGTH:,} bp limit")
            continue
        found.append(StructuralAllele(index, kind, start, end))
    return found, refused


def annotate_structural(sv: StructuralAllele, tr: Transcript, source: str) -> tuple[Consequence | None, str]:
    """``sv`` on ``tr``: its consequence and CSQ entry, or (None, "") when out of reach."""
    s, e = sv.start, sv.end
    ts, te = tr.start, tr.end
    if e < ts - FLANK or s > te + FLANK:
        return None, ""
    if e < ts or s > te:
        upstream = (e < ts) if tr.strand == 1 else (s > te)
        distance = min(abs(s - ts), abs(s - te), abs(e - ts), abs(e - te))
        consequence = describe(UPSTREAM if upstream else DOWNSTREAM)
        return consequence, structural_entry(sv.label, tr, consequence, "", "", "", "", "", str(distance), source)
    if s <= ts and e >= te:  # the whole transcript
        if sv.kind in _LOSS:
            mask = TRANSCRIPT_ABLATION
        elif sv.kind in _GAIN:
            mask = TRANSCRIPT_AMPLIFICATION
        else:  # (an inversion, an insertion, a copy number of unknown sign)
            mask = CODING_TRANSCRIPT if tr.has_cds else NON_CODING_TRANSCRIPT
        consequence = describe(mask)
        return consequence, structural_entry(sv.label, tr, consequence, "", "", "", "", "", "", source)
    mask, exon_text, intron_text = _location(sv, tr)
    cdna_text = cds_text = protein_text = ""
    plus = tr.strand == 1
    cdna_first, cdna_last = tr.cdna_position(s if plus else e), tr.cdna_position(e if plus else s)
    cdna_text = span_text(cdna_first, cdna_last)
    if tr.has_cds:
        cds_first, cds_last = cds_position(tr, cdna_first), cds_position(tr, cdna_last)
        cds_text = span_text(cds_first, cds_last)
        protein_text = span_text(
            None if cds_first is None else (cds_first + 2) // 3, None if cds_last is None else (cds_last + 2) // 3
        )
    consequence = describe(mask)
    entry = structural_entry(
        sv.label, tr, consequence, exon_text, intron_text, cdna_text, cds_text, protein_text, "", source
    )
    return consequence, entry


def _location(sv: StructuralAllele, tr: Transcript) -> tuple[int, str, str]:
    """The terms of a span that overlaps the transcript without covering it, and its EXON/INTRON texts."""
    s, e = sv.start, sv.end
    plus = tr.strand == 1
    exons, introns = tr.exons, tr.introns
    exon_low, exon_high = numbers_hit(exons, 0, len(exons), s, e, plus)
    intron_low, intron_high = numbers_hit(introns, 0, len(introns), s, e, plus)
    exon_hit, mask = exon_low > 0, 0
    if intron_low:
        mask |= INTRON
    if exon_hit and sv.kind in _LOSS:
        mask |= FEATURE_TRUNCATION
    if exon_hit and sv.kind in _ELONGATING and s >= tr.start and e <= tr.end:
        mask |= FEATURE_ELONGATION
    cs, ce = tr.coding_start, tr.coding_end
    if cs is not None and ce is not None:
        coding = [(max(x_s, cs), min(x_e, ce)) for x_s, x_e in exons if x_s <= ce and x_e >= cs]
        if any(e >= c_s and s <= c_e for c_s, c_e in coding):
            mask |= _coding(sv, coding)
        # (as VEP: the span reaches past the coding start, and it overlaps an exon somewhere)
        if exon_hit and s < cs:
            mask |= UTR5 if plus else UTR3
        if exon_hit and e > ce:
            mask |= UTR3 if plus else UTR5
        stop = (ce - 2, ce) if plus else (cs, cs + 2)
        if sv.kind in _LOSS and e >= stop[0] and s <= stop[1]:
            mask |= STOP_LOST
    elif exon_hit:
        mask |= NON_CODING_EXON
    else:
        mask |= NON_CODING_TRANSCRIPT
    if tr.biotype == "nonsense_mediated_decay":
        mask |= NMD_TRANSCRIPT
    if not mask:  # (an insertion point on a transcript end: nothing more specific applies)
        mask = CODING_TRANSCRIPT if tr.has_cds else NON_CODING_TRANSCRIPT
    return mask, numbers_text(exon_low, exon_high, len(exons)), numbers_text(intron_low, intron_high, len(introns))


def _coding(sv: StructuralAllele, coding: list[tuple[int, int]]) -> int:
    """A deletion inside one exon's coding part shifts the frame or not; anything else is unknown."""
    if sv.kind in _LOSS and any(c_s <= sv.start and sv.end <= c_e for c_s, c_e in coding):
        return INFRAME_DELETION if (sv.end - sv.start + 1) % 3 == 0 else FRAMESHIFT
    return CODING_SEQUENCE


def cds_position(tr: Transcript, cdna: int | None) -> int | None:
    """The CDS position of a cDNA position, or None outside the CDS."""
    ccs, cce = tr.ccs, tr.cce
    if cdna is None or ccs is None or cce is None or not ccs <= cdna <= cce:
        return None
    return cdna - ccs + 1


def structural_entry(
    label: str,
    tr: Transcript,
    consequence: Consequence,
    exon_text: str,
    intron_text: str,
    cdna_text: str,
    cds_text: str,
    protein_text: str,
    distance: str,
    source: str,
) -> str:
    return (
        f"{label}|{consequence.text}|{consequence.impact}|{csq_head(tr)}|{exon_text}|{intron_text}|||"
        f"{cdna_text}|{cds_text}|{protein_text}||||{distance}|{tr.strand}||||{source}||"
    )
