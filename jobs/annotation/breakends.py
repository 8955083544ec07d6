"""Breakends (VCF 4.x section 5.4: ``t[p[``, ``t]p]``, ``]p]t``, ``[p[t`` and single ``t.``, ``.t``)
annotated as Ensembl VEP 115 annotates them (VEP Parser/VCF.pm, EV StructuralVariationOverlap and
the structural branches of Utils/VariationEffect.pm), as read against its output on the
development truth set:

* The record's own junction is the point after the padding base, ``POS + 1``. Every term, EXON,
  INTRON, cDNA/CDS/protein position and DISTANCE comes from that point, whichever end found the
  transcript.
* A transcript gets an entry for each end within 5 kb of it: the local end with ``Allele`` the
  local junction written as a single breakend (``t.`` for ``t[p[``/``t]p]``, ``.t`` for
  ``]p]t``/``[p[t``, t the REF), and the mate, when it lies on the same contig, with ``Allele``
  the whole ALT. Each entry adds ``feature_truncation`` when its own end lies inside the
  transcript; an entry with no term at all is ``intergenic_variant``.
* At the point: an exon's coding part is ``coding_sequence_variant`` (the start codon adds
  ``start_lost`` and ``start_retained_variant``), a UTR its UTR term, a non-coding exon
  ``non_coding_transcript_exon_variant``; an intron ``intron_variant`` only 2 bases or more from
  its ends, with ``splice_polypyrimidine_tract_variant`` 3-17 bases before the acceptor (no other
  splice term); outside the transcript the upstream or
  downstream term within 5 kb.
* A mated breakend with neither end within 5 kb of a transcript has no entry at all (no CSQ).
* A single breakend is ``chromosome_breakpoint``: the same terms, never ``feature_truncation``;
  far from every transcript it is ``intergenic_variant``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

from jobs.annotation.model import Transcript
from jobs.annotation.sv import FEATURE_TRUNCATION, cds_position, structural_entry
from jobs.annotation.terms import (
    CODING_SEQUENCE,
    DOWNSTREAM,
    FLANK,
    INTERGENIC,
    INTRON,
    NMD_TRANSCRIPT,
    NON_CODING_EXON,
    NON_CODING_TRANSCRIPT,
    SPLICE_POLYPYRIMIDINE,
    START_LOST,
    START_RETAINED,
    UPSTREAM,
    UTR3,
    UTR5,
    Consequence,
    describe,
    numbers_hit,
    numbers_text,
    span_text,
)

SINGLE_LABEL: Final = "chromosome_breakpoint"

_MATED: Final = re.compile(r"^([A-Za-z]*)([\[\]])(.+):([0-9]+)([\[\]])([A-Za-z]*)$")
_SINGLE: Final = re.compile(r"^(\.[A-Za-z]+|[A-Za-z]+\.)$")


def is_breakend(alt: str) -> bool:
    """Whether an ALT is written as a breakend (mated or single)."""
    return "[" in alt or "]" in alt or (len(alt) > 1 and (alt[0] == "." or alt[-1] == "."))


class Breakend:
    """One breakend ALT: the junction at ``start`` (= ``end`` = POS + 1), its mate's position when
    the mate lies on the record's contig (else None), and the ``Allele`` texts of its entries."""

    __slots__ = ("alt", "end", "label", "mate", "start")

    def __init__(self, *, alt: str, point: int, label: str, mate: int | None) -> None:
        self.alt = alt
        self.start = point
        self.end = point
        self.label = label
        self.mate = mate

    def __repr__(self) -> str:
        return f"<Breakend {self.alt} at {self.start}>"

    @property
    def mated(self) -> bool:
        """A breakend with a mate (anywhere), not a single one."""
        return self.label != SINGLE_LABEL


_NOT_A_BREAKEND: Final = "not a breakend as VCF 4.x section 5.4 writes one (t[p[, t]p], ]p]t, [p[t, t., .t)"


def parse_breakend(pos: int, ref: str, alt: str, same_contig: Callable[[str], bool]) -> Breakend | str:
    """The breakend an ALT describes, or why it cannot be read (a reason for the summary)."""
    point = pos + 1
    if _SINGLE.match(alt):
        return Breakend(alt=alt, point=point, label=SINGLE_LABEL, mate=None)
    found = _MATED.match(alt)
    if found is None:
        return f"ALT {alt}: {_NOT_A_BREAKEND}"
    before, opening, mate_contig, mate_pos, closing, after = found.groups()
    if opening != closing or bool(before) == bool(after):
        return f"ALT {alt}: {_NOT_A_BREAKEND}"
    label = f"{ref}." if before else f".{ref}"
    mate = int(mate_pos) if same_contig(mate_contig) else None
    return Breakend(alt=alt, point=point, label=label, mate=mate)


def near(position: int, tr: Transcript) -> bool:
    return tr.start - FLANK <= position <= tr.end + FLANK


def breakend_entries(bnd: Breakend, tr: Transcript, source: str) -> list[tuple[Consequence, str]]:
    """``bnd``'s entries on ``tr``: one for each end within 5 kb of it (none when neither is)."""
    local_near = near(bnd.start, tr)
    mate = bnd.mate
    mate_near = mate is not None and near(mate, tr)
    if not local_near and not mate_near:
        return []
    mask, texts = _at_point(bnd.start, tr) if local_near else (0, ("",) * 6)
    found: list[tuple[Consequence, str]] = []
    if local_near:
        inside = bnd.mated and tr.start <= bnd.start <= tr.end
        found.append(_entry(bnd.label, mask | (FEATURE_TRUNCATION if inside else 0), tr, texts, source))
    if mate is not None and mate_near:
        inside = tr.start <= mate <= tr.end
        found.append(_entry(bnd.alt, mask | (FEATURE_TRUNCATION if inside else 0), tr, texts, source))
    return found


def _entry(label: str, mask: int, tr: Transcript, texts: tuple[str, ...], source: str) -> tuple[Consequence, str]:
    consequence = describe(mask or INTERGENIC)
    exon, intron, cdna, cds, protein, distance = texts
    return consequence, structural_entry(label, tr, consequence, exon, intron, cdna, cds, protein, distance, source)


def _at_point(p: int, tr: Transcript) -> tuple[int, tuple[str, ...]]:
    """The terms of the junction point ``p`` (within 5 kb of ``tr``) and its EXON, INTRON, cDNA, CDS,
    protein and DISTANCE texts."""
    plus = tr.strand == 1
    if p < tr.start or p > tr.end:
        upstream = (p < tr.start) == plus
        distance = tr.start - p if p < tr.start else p - tr.end
        return (UPSTREAM if upstream else DOWNSTREAM), ("", "", "", "", "", str(distance))
    exons, introns = tr.exons, tr.introns
    exon_low, _ = numbers_hit(exons, 0, len(exons), p, p, plus)
    intron_low, _ = numbers_hit(introns, 0, len(introns), p, p, plus)
    mask = NMD_TRANSCRIPT if tr.biotype == "nonsense_mediated_decay" else 0
    cdna: int | None = None
    cds: int | None = None
    if exon_low:
        mask |= _exon_terms(p, tr)
        cdna = tr.cdna_position(p)
        cds = cds_position(tr, cdna)
    elif intron_low:
        i_s, i_e = introns[intron_low - 1] if plus else introns[len(introns) - intron_low]
        if i_s + 2 <= p <= i_e - 2:
            mask |= INTRON
        into_acceptor = i_e - p + 1 if plus else p - i_s + 1  # (1 = the intron's last base)
        if 3 <= into_acceptor <= 17:
            mask |= SPLICE_POLYPYRIMIDINE
        if not tr.has_cds:
            mask |= NON_CODING_TRANSCRIPT
    protein = None if cds is None else (cds + 2) // 3
    texts = (
        numbers_text(exon_low, exon_low, len(exons)), numbers_text(intron_low, intron_low, len(introns)),
        span_text(cdna, cdna), span_text(cds, cds), span_text(protein, protein), "",
    )  # fmt: skip
    return mask, texts


def _exon_terms(p: int, tr: Transcript) -> int:
    """An exonic point: its coding, UTR or non-coding exon term."""
    cs, ce = tr.coding_start, tr.coding_end
    if cs is None or ce is None:
        return NON_CODING_EXON
    plus = tr.strand == 1
    if p < cs:
        return UTR5 if plus else UTR3
    if p > ce:
        return UTR3 if plus else UTR5
    start_codon = (cs, cs + 2) if plus else (ce - 2, ce)
    if start_codon[0] <= p <= start_codon[1]:
        return CODING_SEQUENCE | START_LOST | START_RETAINED
    return CODING_SEQUENCE
