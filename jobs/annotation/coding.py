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


def coding_terms(tr: Transcript, allele: Allele, m: Mapping, alt_tx: str) -> int:
    """EV Utils/VariationEffect.pm coding predicates, as refined for VEP 115 (see module docs)."""
    ccs, cce = tr.ccs, tr.cce
    assert ccs is not None and cce is not None
    cds_len = cce - ccs + 1
    la, lr = len(allele.alt), len(allele.ref)
    insertion = allele.start == allele.end + 1
    indel = la != lr
    cdna_s, cdna_e = m.cdna_start, m.cdna_end
    both_cdna = cdna_s is not None and cdna_e is not None
    unambiguous = is_acgt(allele.alt) or not allele.alt

    if insertion:
        within_cds = (
            cdna_s is not None and cdna_e is not None and (cdna_e - ccs + 1) > 0 and (cdna_s - ccs + 1) <= cds_len
        )
        fully_in_cds = m.cds_start is not None and m.cds_end is not None
    else:
        lo, hi = allele.start, allele.end
        cs, ce = tr.coding_start, tr.coding_end
        assert cs is not None and ce is not None
        within_cds = any(max(lo, x_s, cs) <= min(hi, x_e, ce) for x_s, x_e in tr.exons)
        fully_in_cds = m.cds_start is not None and m.cds_end is not None and m.cds_end - m.cds_start + 1 == lr
    codons_defined = m.ref_codon is not None and m.alt_codon is not None
    pair = codons_defined and fully_in_cds and unambiguous
    ref_pep = (m.ref_pep or "").replace("-", "")
    alt_pep = (m.alt_pep or "").replace("-", "")
    R, A = (ref_pep, alt_pep) if pair else (None, None)

    partial = m.tl_start is not None and 0 < cds_len - (m.tl_start * 3 - 3) < 3
    os_ = both_cdna and ov(cdna_s, cdna_e, ccs, ccs + 2)  # type: ignore[arg-type]
    ot_ = both_cdna and ov(cdna_s, cdna_e, cce - 2, cce)  # type: ignore[arg-type]

    edited_start = None
    # (VEP's 5'UTR here, like its 3'UTR, is read from the mirrored region on the minus strand)
    utr5 = tr.utr5_vep
    if both_cdna and unambiguous and os_:
        seq = utr5 + tr.cds
        edited_start = seq[: cdna_s - 1] + alt_tx + seq[cdna_s - 1 + (cdna_e - cdna_s + 1) :]  # type: ignore[operator]
    utr5_len = len(tr.utr5)
    start_altered = False
    if edited_start is not None and indel:
        start_altered = len(edited_start) < len(tr.cds) or tr.cds != edited_start[-len(tr.cds) :]
    inv_start_altered = edited_start is not None and utr5_len > 0 and edited_start[utr5_len : utr5_len + 3] != "ATG"
    stop_altered = False
    if both_cdna and unambiguous and ot_ and indel and m.cds_start is not None:
        # (VEP's 3'UTR here is the mirrored one on the minus strand, as for HGVSp counts)
        seq = tr.cds + tr.utr3_vep
        edited = seq[: m.cds_start - 1] + alt_tx + seq[m.cds_start - 1 + (cdna_e - cdna_s + 1) :]  # type: ignore[operator]
        stop_altered = len(edited) < len(tr.cds) or translate(edited[len(tr.cds) - 3 : len(tr.cds)]) != "*"

    stop_lost = ("*" in R and "*" not in A) if R is not None and A is not None else stop_altered
    if partial or stop_lost:
        stop_retained = False
    elif A:
        assert R is not None
        stop_retained = (
            not (R == "X" and A == "X")
            and (
                (R == A[0] and "*" in A)
                or (A[0] == "*" and m.tl_start is not None and m.tl_start > len(tr.protein))
                or ("*" in R and "*" in A and R.index("*") == A.index("*"))
                or _lengthening_keeps_stop(tr, m, la, lr, insertion, cds_len, R, A)
                # (an MNV from the last whole codon into an incomplete last one that changes only the
                # latter: VEP reads that X as a stop and calls it retained)
                or (not indel and len(R) > 1 and R[-1] == "X" and len(A) == len(R) and A[:-1] == R[:-1])
            )
        )
    else:
        stop_retained = indel and ot_ and not stop_altered
    stop_gained = not stop_retained and R is not None and A is not None and "*" in A and "*" not in R
    frameshift = (
        indel
        and not partial
        and not stop_retained
        and m.cds_start is not None
        and m.cds_end is not None
        and abs(la - (m.cds_end - m.cds_start + 1)) % 3 != 0
    )
    codon_pair = codons_defined and not frameshift
    ref_codon, alt_codon = (m.ref_codon or "").replace("-", ""), (m.alt_codon or "").replace("-", "")
    # (the 5'UTR kept and ATG right after it; never so for a transcript without a 5'UTR)
    utr5_then_atg = (
        edited_start is not None
        and utr5_len > 0
        and edited_start[:utr5_len] == utr5
        and edited_start[utr5_len : utr5_len + 3] == "ATG"
    )
    start_retained = os_ and (
        (not indel and edited_start is not None and edited_start[utr5_len : utr5_len + 3] == "ATG")
        # (an indel: the CDS unchanged at the end of the edited sequence, or ATG still after the 5'UTR)
        or (indel and edited_start is not None and (not start_altered or utr5_then_atg))
    )
    inframe_insertion = False
    if la > lr and codon_pair and len(alt_codon) > len(ref_codon) and R is not None and A is not None:
        if not (start_retained and A.endswith(R)):
            cut = AFTER_STOP.sub("*", A)
            inframe_insertion = cut.startswith(R) or cut.endswith(R)
    inframe_deletion = False
    if not partial and codon_pair and len(alt_codon) < len(ref_codon):
        if ref_codon.startswith(alt_codon) or ref_codon.endswith(alt_codon):
            inframe_deletion = True
        else:
            r, a = ref_codon, alt_codon
            while r and a and r[0] == a[0]:
                r, a = r[1:], a[1:]
            while r and a and r[-1] == a[-1]:
                r, a = r[:-1], a[:-1]
            inframe_deletion = not a and len(r) % 3 == 0
    start_lost = os_ and (
        (start_altered and not (inframe_insertion or inframe_deletion) and not utr5_then_atg)
        or inv_start_altered
        or (
            R is not None
            and A is not None
            and bool(R)
            and bool(A)
            and A != "X"
            and m.tl_start == 1
            and not A.startswith(R)
            and not A.endswith(R)
        )
    )
    if start_lost:
        inframe_insertion = False
    missense = (
        R is not None
        and A is not None
        and R != A
        and len(R) == len(A)
        and not (start_lost or stop_lost or stop_gained or partial or stop_retained or frameshift)
    )
    protein_altering = (
        R is not None
        and A is not None
        and len(R) != len(A)
        and not R.startswith("*")
        and not A.startswith("*")
        and not A.startswith(R)
        and not A.endswith(R)
        and not (inframe_deletion or start_lost or frameshift)
    )
    synonymous = (
        bool(R)
        and A == R
        and not stop_retained
        and not start_retained
        and "X" not in (R or "")
        and "X" not in (A or "")
    )
    coding_unknown = (
        within_cds
        and (m.alt_pep is None or R is None or "X" in ref_pep or "X" in alt_pep)
        and not (
            frameshift or inframe_deletion or protein_altering or start_lost or start_retained or stop_lost
            or stop_retained
        )
    )  # fmt: skip
    mask = 0
    for bit, flag in (
        (STOP_GAINED, stop_gained),
        (FRAMESHIFT, frameshift),
        (STOP_LOST, stop_lost),
        (START_LOST, start_lost),
        (INFRAME_INSERTION, inframe_insertion),
        (INFRAME_DELETION, inframe_deletion),
        (MISSENSE, missense),
        (PROTEIN_ALTERING, protein_altering),
        (INCOMPLETE_TERMINAL_CODON, partial and within_cds),
        (START_RETAINED, start_retained),
        (STOP_RETAINED, stop_retained),
        (SYNONYMOUS, synonymous),
        (CODING_SEQUENCE, coding_unknown),
    ):
        if flag:
            mask |= bit
    return mask
