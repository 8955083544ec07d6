"""Coding terms (EV Utils/VariationEffect.pm coding predicates, as refined for VEP 115) and the
allele-to-CDS mapping with its codons and peptides (EV TranscriptVariationAllele ``codon``,
``peptide``)."""

from __future__ import annotations

import re

from jobs.annotation.model import Transcript
from jobs.annotation.sequence import is_acgt, translate
from jobs.annotation.terms import (
    CODING_SEQUENCE,
    FRAMESHIFT,
    INCOMPLETE_TERMINAL_CODON,
    INFRAME_DELETION,
    INFRAME_INSERTION,
    MISSENSE,
    PROTEIN_ALTERING,
    START_LOST,
    START_RETAINED,
    STOP_GAINED,
    STOP_LOST,
    STOP_RETAINED,
    SYNONYMOUS,
    ov,
)  # fmt: skip
from jobs.annotation.vcf import Allele

AFTER_STOP = re.compile(r"\*.+")


def _peptide(codon: str, table: int) -> str:
    if not codon:
        return "-"
    pep = translate(codon, table)
    if len(codon) % 3 and pep != "*":
        pep += "X"
    return pep or "-"


class Mapping:
    """An allele mapped onto a transcript: cDNA, CDS and protein coordinates and codons."""

    __slots__ = (
        "alt_codon",
        "alt_pep",
        "alt_tx",
        "cdna_end",
        "cdna_start",
        "cds_end",
        "cds_start",
        "ref_codon",
        "ref_pep",
        "substitution",
        "tl_end",
        "tl_start",
    )  # fmt: skip
    cdna_start: int | None
    cdna_end: int | None
    cds_start: int | None
    cds_end: int | None
    tl_start: int | None
    tl_end: int | None
    ref_codon: str | None
    alt_codon: str | None
    ref_pep: str | None
    alt_pep: str | None
    alt_tx: str  # the allele's bases in the transcript's direction
    substitution: bool  # as many bases for as many

    def __init__(self, tr: Transcript | None, s: int, e: int, insertion: bool, alt_tx: str) -> None:
        self.alt_tx = alt_tx
        self.substitution = not insertion and len(alt_tx) == e - s + 1
        self.cds_start = self.cds_end = self.tl_start = self.tl_end = None
        self.ref_codon = self.alt_codon = self.ref_pep = self.alt_pep = None
        if tr is None:  # the shared "maps nowhere" value
            self.cdna_start = self.cdna_end = None
            return
        if insertion:
            t5, t3 = (e, s) if tr.strand == 1 else (s, e)
            c5, c3 = tr.cdna_position(t5), tr.cdna_position(t3)
            if c5 is not None and c3 is not None:
                self.cdna_start, self.cdna_end = c3, c5
            elif c5 is not None:
                self.cdna_start, self.cdna_end = c5 + 1, c5
            elif c3 is not None:
                self.cdna_start, self.cdna_end = c3, c3 - 1
            else:
                self.cdna_start = self.cdna_end = None
        else:
            first, last = (s, e) if tr.strand == 1 else (e, s)
            self.cdna_start, self.cdna_end = tr.cdna_position(first), tr.cdna_position(last)
        ccs, cce = tr.ccs, tr.cce
        if ccs is None or cce is None:
            return
        if self.cdna_start is not None and ccs <= self.cdna_start <= cce:
            self.cds_start = self.cdna_start - ccs + 1
            self.tl_start = (self.cds_start + 2) // 3
        if self.cdna_end is not None and ccs <= self.cdna_end <= cce:
            self.cds_end = self.cdna_end - ccs + 1
            self.tl_end = (self.cds_end + 2) // 3
        if self.tl_start is None or self.tl_end is None or self.cds_start is None or self.cds_end is None:
            return
        cds = tr.cds
        window_start = (self.tl_start - 1) * 3
        ref_codon = cds[window_start : self.tl_end * 3] if self.tl_start <= self.tl_end else ""
        span = self.cds_end - self.cds_start + 1
        # (the alternate window spans whole codons even past an incomplete last codon, reading on
        # into the 3'UTR, as VEP's `codon`; the reference window stops at the CDS end). Only the
        # window of CDS + allele + CDS + 3'UTR is built, not the whole edited sequence.
        whole = (self.tl_end - self.tl_start + 1) * 3 if self.tl_start <= self.tl_end else 0
        need = whole + len(alt_tx) - span
        head = cds[window_start : self.cds_start - 1] + alt_tx
        more = need - len(head)
        if more > 0:
            tail = cds[self.cds_end : self.cds_end + more]
            if len(tail) < more:
                tail += tr.utr3_vep[: more - len(tail)]
            head += tail
        alt_codon = head[:need] if need > 0 else ""
        self.ref_codon, self.alt_codon = ref_codon, alt_codon
        self.ref_pep, self.alt_pep = _peptide(ref_codon, tr.codon_table), _peptide(alt_codon, tr.codon_table)


NO_MAPPING = Mapping(None, 0, 0, False, "")


def display_codons(tr: Transcript, mapping: Mapping, lr: int, la: int) -> str:
    """VEP's display codons: the allele's own bases upper case (its full length, intron bases too)."""
    ref_codon, alt_codon = mapping.ref_codon or "", mapping.alt_codon or ""
    assert mapping.cdna_start is not None and tr.ccs is not None
    first = (mapping.cdna_start - tr.ccs) % 3

    def styled(codon: str, length: int) -> str:
        if not codon:
            return "-"
        lower = codon.lower()
        return lower[:first] + codon[first : first + length].upper() + lower[first + length :]

    return f"{styled(ref_codon, lr)}/{styled(alt_codon, la)}"


def _lengthening_keeps_stop(
    tr: Transcript, m: Mapping, la: int, lr: int, insertion: bool, cds_len: int, ref_pep: str, alt_pep: str
) -> bool:
    """VEP 115 calls an insertion in the last sense codon or just before the stop codon
    stop_retained when it shifts the frame or adds at most two codons (inside the last sense
    codon, only keeping that residue first); one inside the stop codon when it adds a single
    residue before the stop (``*/W*``); where the CDS has no stop codon (an incomplete end), an
    allele that lengthens the CDS at its last whole codon (an insertion there, or a longer ALT left
    untrimmed in a multi-allelic record whose span reaches it) when it shifts the frame or adds at
    most two codons, and keeps its residues first. (Measured on the dev truth set; the predicate
    that does this is not in the VEP code we could read.)"""
    if m.cds_end is None or m.tl_start is None or not (insertion or la > lr):
        return False
    if cds_len % 3 == 0 and translate(tr.cds[cds_len - 3 :], tr.codon_table) == "*":
        if not insertion:
            return False
        if m.cds_end > cds_len - 3:  # inside the stop codon: one residue before the kept stop
            return ref_pep == "*" and len(alt_pep) == 2 and alt_pep[1] == "*" and alt_pep[0] != "*"
        return (
            m.tl_start >= len(tr.protein)
            and (la % 3 != 0 or la <= 6)
            and (not ref_pep or alt_pep.startswith(ref_pep))  # (inside the last codon: its residue kept first)
        )
    added = la - lr
    last_whole = cds_len // 3
    reaches_last = m.tl_start == last_whole or (not insertion and m.tl_end == last_whole)
    return reaches_last and (added % 3 != 0 or added <= 6) and bool(ref_pep) and alt_pep.startswith(ref_pep)


class CodingChange:
    """What VEP's coding predicates read of one allele on one transcript, worked out once: the
    peptides when both codons are known (``ref_pep``/``alt_pep``, None otherwise), whether the
    allele touches the start or stop codon, and the sequence around each edited by the allele."""

    def __init__(self, tr: Transcript, allele: Allele, m: Mapping, alt_tx: str) -> None:
        ccs, cce = tr.ccs, tr.cce
        assert ccs is not None and cce is not None
        self.tr, self.m = tr, m
        self.cds_len = cce - ccs + 1
        self.la, self.lr = len(allele.alt), len(allele.ref)
        self.insertion = allele.start == allele.end + 1
        self.indel = self.la != self.lr
        self.unambiguous = is_acgt(allele.alt) or not allele.alt
        self.within_cds = _within_cds(tr, allele, m, self.cds_len, self.insertion)
        fully_in_cds = m.cds_start is not None and m.cds_end is not None and (
            self.insertion or m.cds_end - m.cds_start + 1 == self.lr
        )
        self.codons_defined = m.ref_codon is not None and m.alt_codon is not None
        self.ref_pep_all = (m.ref_pep or "").replace("-", "")
        self.alt_pep_all = (m.alt_pep or "").replace("-", "")
        pair = self.codons_defined and fully_in_cds and self.unambiguous
        self.ref_pep: str | None = self.ref_pep_all if pair else None
        self.alt_pep: str | None = self.alt_pep_all if pair else None
        self.ref_codon = (m.ref_codon or "").replace("-", "")
        self.alt_codon = (m.alt_codon or "").replace("-", "")
        self.partial_codon = m.tl_start is not None and 0 < self.cds_len - (m.tl_start * 3 - 3) < 3
        both_cdna = m.cdna_start is not None and m.cdna_end is not None
        self.at_start_codon = both_cdna and ov(m.cdna_start, m.cdna_end, ccs, ccs + 2)  # type: ignore[arg-type]
        self.at_stop_codon = both_cdna and ov(m.cdna_start, m.cdna_end, cce - 2, cce)  # type: ignore[arg-type]
        self.utr5_len = len(tr.utr5)
        edited = _edited_start(tr, m, alt_tx) if self.unambiguous and self.at_start_codon else None
        self.edited_start = edited
        # the three bases after the 5'UTR in the edited start region ("" when there is none)
        self.start_codon_after_utr5 = edited[self.utr5_len : self.utr5_len + 3] if edited is not None else ""
        # an indel that changes the CDS at the end of the edited start region
        cds = tr.cds
        self.start_altered = (
            edited is not None and self.indel and (len(edited) < len(cds) or cds != edited[-len(cds) :])
        )
        # the 5'UTR kept and ATG right after it; never so for a transcript without a 5'UTR
        self.utr5_then_atg = (
            edited is not None and self.utr5_len > 0 and edited[: self.utr5_len] == tr.utr5_vep
            and self.start_codon_after_utr5 == "ATG"
        )  # fmt: skip
        self.stop_altered = (
            self.unambiguous and self.at_stop_codon and self.indel and m.cds_start is not None
            and _edited_stop_altered(tr, m, alt_tx)
        )  # fmt: skip


def _within_cds(tr: Transcript, allele: Allele, m: Mapping, cds_len: int, insertion: bool) -> bool:
    if insertion:
        ccs = tr.ccs
        assert ccs is not None
        cdna_s, cdna_e = m.cdna_start, m.cdna_end
        return cdna_s is not None and cdna_e is not None and (cdna_e - ccs + 1) > 0 and (cdna_s - ccs + 1) <= cds_len
    lo, hi = allele.start, allele.end
    cs, ce = tr.coding_start, tr.coding_end
    assert cs is not None and ce is not None
    return any(max(lo, x_s, cs) <= min(hi, x_e, ce) for x_s, x_e in tr.exons)


def _edited_start(tr: Transcript, m: Mapping, alt_tx: str) -> str:
    """The 5'UTR and CDS with the allele in place. (VEP's 5'UTR here, like its 3'UTR, is read from
    the mirrored region on the minus strand.)"""
    cdna_s, cdna_e = m.cdna_start, m.cdna_end
    assert cdna_s is not None and cdna_e is not None
    seq = tr.utr5_vep + tr.cds
    return seq[: cdna_s - 1] + alt_tx + seq[cdna_s - 1 + (cdna_e - cdna_s + 1) :]


def _edited_stop_altered(tr: Transcript, m: Mapping, alt_tx: str) -> bool:
    """The CDS and 3'UTR with the allele in place no longer end the CDS with a stop codon. (VEP's
    3'UTR here is the mirrored one on the minus strand, as for HGVSp counts.)"""
    cdna_s, cdna_e, cds_s = m.cdna_start, m.cdna_end, m.cds_start
    assert cdna_s is not None and cdna_e is not None and cds_s is not None
    seq = tr.cds + tr.utr3_vep
    edited = seq[: cds_s - 1] + alt_tx + seq[cds_s - 1 + (cdna_e - cdna_s + 1) :]
    return len(edited) < len(tr.cds) or translate(edited[len(tr.cds) - 3 : len(tr.cds)]) != "*"


# -- one predicate per term (EV Utils/VariationEffect.pm), each given the terms it depends on ----
def stop_lost(c: CodingChange) -> bool:
    ref, alt = c.ref_pep, c.alt_pep
    if ref is not None and alt is not None:
        return "*" in ref and "*" not in alt
    return c.stop_altered


def stop_retained(c: CodingChange, lost: bool) -> bool:
    ref, alt, m = c.ref_pep, c.alt_pep, c.m
    if c.partial_codon or lost:
        return False
    if not alt:
        return c.indel and c.at_stop_codon and not c.stop_altered
    assert ref is not None
    return not (ref == "X" and alt == "X") and (
        (ref == alt[0] and "*" in alt)
        or (alt[0] == "*" and m.tl_start is not None and m.tl_start > len(c.tr.protein))
        or ("*" in ref and "*" in alt and ref.index("*") == alt.index("*"))
        or _lengthening_keeps_stop(c.tr, m, c.la, c.lr, c.insertion, c.cds_len, ref, alt)
        # (an MNV from the last whole codon into an incomplete last one that changes only the
        # latter: VEP reads that X as a stop and calls it retained)
        or (not c.indel and len(ref) > 1 and ref[-1] == "X" and len(alt) == len(ref) and alt[:-1] == ref[:-1])
    )


def stop_gained(c: CodingChange, retained: bool) -> bool:
    ref, alt = c.ref_pep, c.alt_pep
    return not retained and ref is not None and alt is not None and "*" in alt and "*" not in ref


def frameshift(c: CodingChange, retained: bool) -> bool:
    m = c.m
    return (
        c.indel and not c.partial_codon and not retained and m.cds_start is not None and m.cds_end is not None
        and abs(c.la - (m.cds_end - m.cds_start + 1)) % 3 != 0
    )  # fmt: skip


def start_retained(c: CodingChange) -> bool:
    if not c.at_start_codon or c.edited_start is None:
        return False
    if not c.indel:
        return c.start_codon_after_utr5 == "ATG"
    # (an indel: the CDS unchanged at the end of the edited sequence, or ATG still after the 5'UTR)
    return not c.start_altered or c.utr5_then_atg


def inframe_insertion(c: CodingChange, shifted: bool, start_kept: bool) -> bool:
    ref, alt = c.ref_pep, c.alt_pep
    if not (c.la > c.lr and c.codons_defined and not shifted and len(c.alt_codon) > len(c.ref_codon)):
        return False
    if ref is None or alt is None or (start_kept and alt.endswith(ref)):
        return False
    cut = AFTER_STOP.sub("*", alt)
    return cut.startswith(ref) or cut.endswith(ref)


def inframe_deletion(c: CodingChange, shifted: bool) -> bool:
    r, a = c.ref_codon, c.alt_codon
    if c.partial_codon or not c.codons_defined or shifted or len(a) >= len(r):
        return False
    if r.startswith(a) or r.endswith(a):
        return True
    while r and a and r[0] == a[0]:
        r, a = r[1:], a[1:]
    while r and a and r[-1] == a[-1]:
        r, a = r[:-1], a[:-1]
    return not a and len(r) % 3 == 0


def start_lost(c: CodingChange, inframe: bool) -> bool:
    if not c.at_start_codon:
        return False
    ref, alt = c.ref_pep, c.alt_pep
    return (
        (c.start_altered and not inframe and not c.utr5_then_atg)
        or (c.edited_start is not None and c.utr5_len > 0 and c.start_codon_after_utr5 != "ATG")
        or (
            bool(ref) and bool(alt) and alt != "X" and c.m.tl_start == 1
            and not alt.startswith(ref) and not alt.endswith(ref)  # type: ignore[union-attr, arg-type]
        )
    )  # fmt: skip


def missense(c: CodingChange, other_change: bool) -> bool:
    ref, alt = c.ref_pep, c.alt_pep
    return ref is not None and alt is not None and ref != alt and len(ref) == len(alt) and not other_change


def protein_altering(c: CodingChange, other_change: bool) -> bool:
    ref, alt = c.ref_pep, c.alt_pep
    return (
        ref is not None and alt is not None and len(ref) != len(alt)
        and not ref.startswith("*") and not alt.startswith("*") and not alt.startswith(ref) and not alt.endswith(ref)
        and not other_change
    )  # fmt: skip


def synonymous(c: CodingChange, retained: bool, start_kept: bool) -> bool:
    ref, alt = c.ref_pep, c.alt_pep
    return (
        bool(ref) and alt == ref and not retained and not start_kept
        and "X" not in (ref or "") and "X" not in (alt or "")
    )  # fmt: skip


def coding_unknown(c: CodingChange, known_change: bool) -> bool:
    """coding_sequence_variant: within the CDS, with no peptide to tell what changed."""
    return (
        c.within_cds and not known_change
        and (c.m.alt_pep is None or c.ref_pep is None or "X" in c.ref_pep_all or "X" in c.alt_pep_all)
    )  # fmt: skip


def coding_terms(tr: Transcript, allele: Allele, m: Mapping, alt_tx: str) -> int:
    """EV Utils/VariationEffect.pm coding predicates, as refined for VEP 115 (see module docs)."""
    c = CodingChange(tr, allele, m, alt_tx)
    lost = stop_lost(c)
    retained = stop_retained(c, lost)
    gained = stop_gained(c, retained)
    shifted = frameshift(c, retained)
    start_kept = start_retained(c)
    inserted = inframe_insertion(c, shifted, start_kept)
    deleted = inframe_deletion(c, shifted)
    start_gone = start_lost(c, inserted or deleted)
    inserted = inserted and not start_gone
    altering = protein_altering(c, deleted or start_gone or shifted)
    known = shifted or deleted or altering or start_gone or start_kept or lost or retained
    mask = 0
    for bit, flag in (
        (STOP_GAINED, gained),
        (FRAMESHIFT, shifted),
        (STOP_LOST, lost),
        (START_LOST, start_gone),
        (INFRAME_INSERTION, inserted),
        (INFRAME_DELETION, deleted),
        (MISSENSE, missense(c, start_gone or lost or gained or c.partial_codon or retained or shifted)),
        (PROTEIN_ALTERING, altering),
        (INCOMPLETE_TERMINAL_CODON, c.partial_codon and c.within_cds),
        (START_RETAINED, start_kept),
        (STOP_RETAINED, retained),
        (SYNONYMOUS, synonymous(c, retained, start_kept)),
        (CODING_SEQUENCE, coding_unknown(c, known)),
    ):
        if flag:
            mask |= bit
    return mask
