"""Consequences, positions and HGVS of one allele on one transcript, by Ensembl VEP 115's rules.

Conventions (as VEP's): 1-based genomic coordinates; an allele spans ``s..e`` and an
insertion has ``s == e + 1``; ``ov(a, b, c, d)`` is ``b >= c and a <= d``, so an insertion
overlaps a region only when both flanking bases are inside it. Consequences use the
unshifted allele; HGVS alone is shifted 3' in the transcript's direction.
"""

from __future__ import annotations

import re
from typing import Final

from jobs.annotation.model import Transcript
from jobs.annotation.reference import ContigBases
from jobs.annotation.sequence import is_acgt, revcomp, three_letter, translate
from jobs.annotation.vcf import Allele

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

_VERSIONED = re.compile(r"\.\d+$")
_AFTER_STOP = re.compile(r"\*.+")


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
_CODING: Final = (
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


def _peptide(codon: str, table: int) -> str:
    if not codon:
        return "-"
    pep = translate(codon, table)
    if len(codon) % 3 and pep != "*":
        pep += "X"
    return pep or "-"


class _Mapping:
    """An allele mapped onto a transcript: cDNA, CDS and protein coordinates and codons."""

    __slots__ = (
        "alt_codon",
        "alt_pep",
        "cdna_end",
        "cdna_start",
        "cds_end",
        "cds_start",
        "ref_codon",
        "ref_pep",
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

    def __init__(self, tr: Transcript | None, s: int, e: int, insertion: bool, alt_tx: str) -> None:
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


_NO_MAPPING = _Mapping(None, 0, 0, False, "")


def _intron_effects(tr: Transcript, allele: Allele, s: int, e: int, lo: int, hi: int) -> tuple[int, str]:
    """Splice and intron terms (EV BaseTranscriptVariationAllele _intron_effects) and the INTRON text.

    As VEP: each differing region of the allele (``Allele.regions``: an MNV or delins is tested
    base run by base run, not as one span) is tested against the introns near the allele; flags
    accumulate, but splice_region keeps the value of the last (region, boundary intron) pair
    examined, unless a donor or acceptor site was hit by then."""
    plus = tr.strand == 1
    widen = 12 if tr.has_frameshift_intron else 0
    introns = tr.introns
    first, stop = tr.introns_between(lo, hi, 20)
    low, high = numbers_hit(introns, first, stop, s, e, plus)
    regions = allele.diff_regions
    start_site = end_site = fifth_f = fifth_r = region_f = region_r = ppt_f = ppt_r = False
    region = intronic = False
    for r_s, r_e in regions:
        r_ins = r_s == r_e + 1
        m_lo, m_hi = (r_e, r_s) if r_ins else (r_s, r_e)  # (the tract is tested min/max, as VEP 115)
        for index in range(first, stop):  # (VEP looks the introns up with the allele's span)
            i_s, i_e = introns[index]
            if i_e - i_s <= 12 and ov(r_s, r_e, i_s, i_e):  # inside a "frameshift intron": nothing
                continue
            if hi >= i_s - 3 and lo <= i_e + 3:  # an intron near the allele
                if ov(r_s, r_e, i_s + 2, i_e - 2) or (r_ins and (r_s == i_s + 2 or r_e == i_e - 2)):
                    intronic = True
            if not ((hi >= i_s - 3 and lo <= i_s + 16) or (hi >= i_e - 16 and lo <= i_e + 3)):
                continue  # (not a boundary intron)
            start_site = start_site or ov(r_s, r_e, i_s, i_s + 1)
            end_site = end_site or ov(r_s, r_e, i_e - 1, i_e)
            fifth_f = fifth_f or ov(r_s, r_e, i_s + 4, i_s + 4)
            region_f = region_f or ov(r_s, r_e, i_s + 2, i_s + 5)
            ppt_f = ppt_f or ov(m_lo, m_hi, i_e - 16, i_e - 2)
            fifth_r = fifth_r or ov(r_s, r_e, i_e - 4, i_e - 4)
            region_r = region_r or ov(r_s, r_e, i_e - 5, i_e - 2)
            ppt_r = ppt_r or ov(m_lo, m_hi, i_s + 2, i_s + 16)
            if not (start_site or end_site):
                region = _splice_region_overlap(r_s, r_e, i_s, i_e, r_ins)
    donor, acceptor = (start_site, end_site) if plus else (end_site, start_site)
    fifth = fifth_f if plus else fifth_r
    donor_region = (region_f if plus else region_r) and not fifth
    ppt = ppt_f if plus else ppt_r
    if ppt:  # not next to an exon (widened by 12 bp when the transcript has a frameshift intron)
        near_first, near_stop = tr.exons_between(lo, hi, widen)
        for x in range(near_first, near_stop):
            if hi >= tr.exons[x][0] - widen and lo <= tr.exons[x][1] + widen:
                ppt = False
                break
    mask = 0
    if donor:
        mask |= SPLICE_DONOR
    if acceptor:
        mask |= SPLICE_ACCEPTOR
    if fifth:
        mask |= SPLICE_DONOR_5TH_BASE
    if donor_region:
        mask |= SPLICE_DONOR_REGION
    if ppt:
        mask |= SPLICE_POLYPYRIMIDINE
    if region and not (donor or acceptor or fifth or donor_region):
        mask |= SPLICE_REGION
    if intronic:
        mask |= INTRON
    return mask, numbers_text(low, high, len(introns))


def _splice_region_overlap(r_s: int, r_e: int, i_s: int, i_e: int, insertion: bool) -> bool:
    """VEP's _intron_overlap: intron bases 3..8 from either end, the 3 exon bases beside it, or an
    insertion exactly at exon|intron, intron|exon, +2|+3 or -3|-2."""
    return (
        ov(r_s, r_e, i_s + 2, i_s + 7)
        or ov(r_s, r_e, i_e - 7, i_e - 2)
        or ov(r_s, r_e, i_s - 3, i_s - 1)
        or ov(r_s, r_e, i_e + 1, i_e + 3)
        or (insertion and (r_s == i_s or r_e == i_e or r_s == i_s + 2 or r_e == i_e - 2))
    )


def annotate_transcript(
    allele: Allele, tr: Transcript, genome: ContigBases, source: str
) -> tuple[Consequence | None, str]:
    """``allele`` on ``tr``: its consequence and its CSQ entry (every field, escaped; ``source``
    names the last, custom field's value), or (None, "") when the transcript is out of reach."""
    s, e = allele.start, allele.end
    ts, te = tr.start, tr.end
    if e >= ts and s <= te:
        return _annotate_within(allele, tr, genome, s, e, source)
    before, after = ts - FLANK <= e < ts, te < s <= te + FLANK
    if not (before or after):
        return None, ""
    upstream = before if tr.strand == 1 else after
    distance = min(abs(s - ts), abs(s - te), abs(e - ts), abs(e - te))
    consequence = describe(UPSTREAM if upstream else DOWNSTREAM)
    return consequence, (
        f"{allele.label}|{consequence.text}|{consequence.impact}|{csq_head(tr)}||||||||||{allele.existing}|{distance}|{tr.strand}"
        f"||||{source}||"
    )


# an allele that reaches no transcript: Allele|intergenic_variant|MODIFIER and every other field empty
_INTERGENIC_HEAD = "|intergenic_variant|MODIFIER" + "|" * (CSQ_FIELDS.index("Existing_variation") - 2)
_INTERGENIC_TAIL = "|" * (len(CSQ_FIELDS) - CSQ_FIELDS.index("Existing_variation"))


def intergenic_entry(label: str, existing: str = "") -> tuple[Consequence, str]:
    """The one CSQ entry of an allele (named ``label``) that reaches no transcript."""
    return describe(INTERGENIC), f"{label}{_INTERGENIC_HEAD}{existing}{_INTERGENIC_TAIL}"


def csq_head(tr: Transcript) -> str:
    """SYMBOL|Gene|Feature_type|Feature|BIOTYPE, escaped once per transcript (SYMBOL spaces become %20)."""
    if not tr.csq_head:
        tr.csq_head = "|".join([
            csq_escape(tr.symbol.replace(" ", "%20")), csq_escape(tr.gene_id), "Transcript",
            csq_escape(tr.transcript_id), csq_escape(tr.biotype),
        ])  # fmt: skip
    return tr.csq_head


def _annotate_within(
    allele: Allele, tr: Transcript, genome: ContigBases, s: int, e: int, source: str
) -> tuple[Consequence, str]:
    insertion = s == e + 1
    lo, hi = (e, s) if insertion else (s, e)
    ts, te, strand = tr.start, tr.end, tr.strand
    hgvsc = hgvsp = cdna_text = cds_text = protein_text = amino_text = codon_text = offset_text = ""

    alt_a = allele.alt
    la, lr = len(alt_a), len(allele.ref)
    exons = tr.exons
    first, stop = tr.exons_between(lo, hi)
    exon_low, exon_high = numbers_hit(exons, first, stop, s, e, strand == 1)
    exon_hit = exon_low > 0
    if not exon_hit:  # an insertion touching an exon with one flank counts too (min/max overlap)
        for i in range(first, stop):
            if hi >= exons[i][0] and lo <= exons[i][1]:
                exon_hit = True
                break
    if not insertion and la == 0 and s <= ts and e >= te:  # (the INTRON numbers are still given)
        _, intron_text = _intron_effects(tr, allele, s, e, lo, hi)
        mask = TRANSCRIPT_ABLATION
    else:
        mask, intron_text = _intron_effects(tr, allele, s, e, lo, hi)

    # without an exon hit nothing maps to the cDNA: no positions, UTR or coding terms
    alt_tx = ""
    mapping = _NO_MAPPING
    if exon_hit:
        alt_tx = revcomp(alt_a) if strand == -1 else alt_a
        mapping = _Mapping(tr, s, e, insertion, alt_tx)
        cdna_text = span_text(mapping.cdna_start, mapping.cdna_end)
    if mask & TRANSCRIPT_ABLATION:
        pass
    elif tr.has_cds:
        cs, ce = tr.coding_start, tr.coding_end
        assert cs is not None and ce is not None
        if exon_hit and (mapping.cdna_start is not None or mapping.cdna_end is not None or exon_low > 0):
            before = (insertion and s == cs) or ov(s, e, ts, cs - 1)
            after = (insertion and e == ce) or ov(s, e, ce + 1, te)
            if before if strand == 1 else after:
                mask |= UTR5
            if after if strand == 1 else before:
                mask |= UTR3
        if exon_hit and hi >= cs and lo <= ce:
            mask |= _coding_terms(tr, allele, mapping, alt_tx)
            # (an insertion with a flank outside the CDS gets no CDS or protein position, as VEP)
            if not insertion or (mapping.cds_start is not None and mapping.cds_end is not None):
                cds_text = span_text(mapping.cds_start, mapping.cds_end)
                protein_text = span_text(mapping.tl_start, mapping.tl_end)
            if mapping.ref_pep is not None and mapping.alt_pep is not None:
                amino_text = (
                    mapping.ref_pep if mapping.ref_pep == mapping.alt_pep else f"{mapping.ref_pep}/{mapping.alt_pep}"
                )
                codon_text = _codon_text(tr, mapping, lr, la)
    elif tr.biotype != "protein_coding":
        fully_covered = not insertion and lo <= ts and hi >= te
        if exon_low > 0 and not fully_covered:
            mask |= NON_CODING_EXON
        else:
            mask |= NON_CODING_TRANSCRIPT
    if tr.biotype == "nonsense_mediated_decay":
        mask |= NMD_TRANSCRIPT
    if not mask:
        mask = INTERGENIC

    if not alt_a or is_acgt(alt_a):
        # (HGVSp needs VEP's "coding" pre-predicate: a coding term, or an unshifted allele that
        # maps into the CDS at one end at least; the shifted allele must then lie in the CDS)
        coding = bool(mask & _CODING) or mapping.cds_start is not None or mapping.cds_end is not None
        hgvs = _hgvs(tr, allele, genome, mask, coding)
        if hgvs is not None:
            hgvsc, hgvsp, shift = hgvs
            hgvsc = csq_escape(hgvsc)
            if hgvsp:
                hgvsp = csq_escape(hgvsp).replace("=", "%3D")
            if shift:
                offset_text = str(shift * strand)
    consequence = describe(mask)
    exon_text = numbers_text(exon_low, exon_high, len(exons))
    return consequence, (
        f"{allele.label}|{consequence.text}|{consequence.impact}|{csq_head(tr)}|{exon_text}|{intron_text}|{hgvsc}|"
        f"{hgvsp}|{cdna_text}|{cds_text}|{protein_text}|{amino_text}|{codon_text}|{allele.existing}||{strand}||||{source}|{offset_text}|"
    )


def _codon_text(tr: Transcript, mapping: _Mapping, lr: int, la: int) -> str:
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


def _kept_stop_insertion(
    tr: Transcript, m: _Mapping, la: int, insertion: bool, cds_len: int, ref_pep: str, alt_pep: str
) -> bool:
    """VEP 115 calls an insertion in the last sense codon or just before the stop codon
    stop_retained when it shifts the frame or adds at most two codons; where the CDS has no stop
    codon (an incomplete end), a frameshifting insertion inside the last whole codon that keeps its
    residue first. (Measured on the dev truth set; the predicate that does this is not in the VEP
    code we could read.)"""
    if not insertion or m.cds_end is None or m.tl_start is None:
        return False
    if cds_len % 3 == 0 and translate(tr.cds[cds_len - 3 :], tr.codon_table) == "*":
        return m.cds_end <= cds_len - 3 and m.tl_start >= len(tr.protein) and (la % 3 != 0 or la <= 6)
    last_whole = cds_len // 3
    return m.tl_start == last_whole and la % 3 != 0 and bool(ref_pep) and alt_pep.startswith(ref_pep)


def _coding_terms(tr: Transcript, allele: Allele, m: _Mapping, alt_tx: str) -> int:
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
        stop_retained = not (R == "X" and A == "X") and (
            (R == A[0] and "*" in A)
            or (A[0] == "*" and m.tl_start is not None and m.tl_start > len(tr.protein))
            or ("*" in R and "*" in A and R.index("*") == A.index("*"))
            or _kept_stop_insertion(tr, m, la, insertion, cds_len, R, A)
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
    start_retained = (
        os_
        and (
            (not indel and edited_start is not None and edited_start[utr5_len : utr5_len + 3] == "ATG")
            # (an indel: the CDS unchanged at the end of the edited sequence, or ATG still at its start)
            or (
                indel
                and edited_start is not None
                and (not start_altered or edited_start[utr5_len : utr5_len + 3] == "ATG")
            )
        )
    )
    inframe_insertion = False
    if la > lr and codon_pair and len(alt_codon) > len(ref_codon) and R is not None and A is not None:
        if not (start_retained and A.endswith(R)):
            cut = _AFTER_STOP.sub("*", A)
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
        (
            start_altered
            and not (inframe_insertion or inframe_deletion)
            and not (
                edited_start is not None
                and edited_start[:utr5_len] == utr5
                and edited_start[utr5_len : utr5_len + 3] == "ATG"
            )
        )
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


# -- HGVS ------------------------------------------------------------------------------------
def _shift(allele: Allele, tr: Transcript, genome: ContigBases) -> tuple[int, int, str, int]:
    """3'-shift an insertion or deletion in the transcript's direction: (s, e, moved bases, shift)."""
    s, e = allele.start, allele.end
    insertion = s == e + 1
    bases = allele.alt if insertion else genome.get(s, e)
    if not allele.shiftable or not bases:
        return s, e, bases, 0
    shift = 0
    if tr.strand == 1:
        window = genome.get(s if insertion else e + 1, (s if insertion else e + 1) + MAX_SHIFT)
        while shift < len(window) and window[shift] == bases[0]:
            bases = bases[1:] + bases[0]
            shift += 1
        return s + shift, e + shift, bases, shift
    end = e if insertion else s - 1
    window = genome.get(max(1, end - MAX_SHIFT), end)[::-1]
    while shift < len(window) and window[shift] == bases[-1]:
        bases = bases[-1] + bases[:-1]
        shift += 1
    return s - shift, e - shift, bases, shift


def _format_cdna(tr: Transcript, x: int) -> str:
    if tr.ccs is None or tr.cce is None:
        return str(x)
    if x > tr.cce:
        return f"*{x - tr.cce}"
    if x >= tr.ccs:
        return str(x - tr.ccs + 1)
    return str(x - tr.ccs)


def _hgvs_position(tr: Transcript, pos: int) -> str | None:
    if pos < tr.start or pos > tr.end:
        return None
    x, offset = tr.cdna_anchor(pos)
    if offset == 0:
        return _format_cdna(tr, x)
    if tr.cce is not None and x == tr.cce and offset > 0:
        return f"*{offset}"
    return f"{_format_cdna(tr, x)}{'+' if offset > 0 else ''}{offset}"


def _hgvs_range(tr: Transcript, first: int, last: int) -> str | None:
    """Genomic positions given in transcript order."""
    start = _hgvs_position(tr, first)
    if first == last or start is None:
        return start
    end = _hgvs_position(tr, last)
    return None if end is None else f"{start}_{end}"


def _hgvs(tr: Transcript, allele: Allele, genome: ContigBases, mask: int, coding: bool) -> tuple[str, str, int] | None:
    s0, e0 = allele.start, allele.end
    insertion = s0 == e0 + 1
    inside = (e0 >= tr.start and s0 <= tr.end) if insertion else (s0 >= tr.start and e0 <= tr.end)
    deletion = not allele.alt and bool(allele.ref)
    # (an indel reaching past the transcript gets no HGVSc, but still an HGVSp when its shifted
    # place lies inside, as VEP)
    if not inside and not ((insertion or deletion) and allele.shiftable and tr.has_cds and coding):
        return None
    plus = tr.strand == 1
    prefix = tr.hgvs_prefix
    if s0 == e0 and len(allele.alt) == 1:  # a substitution of one base, the commonest case
        ref_g = genome.get(s0, s0)
        if allele.alt == ref_g:
            return None
        where = _hgvs_position(tr, s0)
        if where is None:
            return None
        hgvsp = ""
        if tr.has_cds and mask & _CODING:
            hgvsp = _hgvs_protein(tr, allele, s0, e0, allele.alt, mask) or ""
        if plus:
            return f"{prefix}{where}{ref_g}>{allele.alt}", hgvsp, 0
        return f"{prefix}{where}{revcomp(ref_g)}>{revcomp(allele.alt)}", hgvsp, 0
    if (insertion or deletion) and allele.shiftable:
        s, e, moved, shift = _shift(allele, tr, genome)
    else:
        s, e, moved, shift = s0, e0, "", 0
    if (e < tr.start or s > tr.end) if insertion else (s < tr.start or e > tr.end):
        return None
    ref_g = "" if insertion else genome.get(s, e)
    alt_g = moved if insertion else ("" if deletion else allele.alt)
    if not insertion and alt_g == ref_g:
        return None
    ref_t = ref_g if plus else revcomp(ref_g)
    alt_t = alt_g if plus else revcomp(alt_g)
    # genomic positions of the changed bases in transcript order, or the insertion's flanks
    positions = list(range(s, e + 1)) if plus else list(range(e, s - 1, -1))
    if insertion:
        flank5, flank3 = (e, s) if plus else (s, e)
    else:  # the bases just outside the changed ones, should clipping leave an insertion
        flank5, flank3 = (s - 1, e + 1) if plus else (e + 1, s - 1)
    kind = ""
    dup: tuple[int, int] | None = None
    if not alt_t:
        kind = "del"
    elif not ref_t:
        length = len(alt_t)
        if plus:
            next_bases, prev_bases = genome.get(s, s + length - 1), genome.get(e - length + 1, e)
            next_span, prev_span = (s, s + length - 1), (e - length + 1, e)
        else:
            next_bases, prev_bases = revcomp(genome.get(e - length + 1, e)), revcomp(genome.get(s, s + length - 1))
            next_span, prev_span = (e, e - length + 1), (s + length - 1, s)
        # (a duplicated copy that would reach outside the transcript is written as an insertion)
        if next_bases == alt_t and _within(tr, next_span):
            kind, dup = "dup", next_span
        elif prev_bases == alt_t and _within(tr, prev_span):
            kind, dup = "dup", prev_span
        else:
            kind = "ins"
    elif len(ref_t) == len(alt_t):
        kind = ">" if len(ref_t) == 1 else ("inv" if alt_t == revcomp(ref_t) else "delins")
    else:
        kind = "dup" if alt_t == ref_t * 2 else "delins"
        if kind == "dup":
            dup = (positions[0], positions[-1])
    clipped = False
    if kind not in ("dup", "ins", "del", ">"):
        clipped = True
        while ref_t and alt_t and ref_t[0] == alt_t[0]:
            ref_t, alt_t = ref_t[1:], alt_t[1:]
            flank5 = positions[0]
            positions = positions[1:]
        while ref_t and alt_t and ref_t[-1] == alt_t[-1]:
            ref_t, alt_t = ref_t[:-1], alt_t[:-1]
            flank3 = positions[-1]
            positions = positions[:-1]
        if len(ref_t) == 1 and len(alt_t) == 1:
            kind = ">"
        elif not ref_t:
            kind = "ins"
        elif not alt_t:
            kind = "del"
    if kind == "dup":
        assert dup is not None
        where = _hgvs_range(tr, dup[0], dup[1])
        text = f"{where}dup" if where else None
    elif kind == "ins":
        p5, p3 = _hgvs_position(tr, flank5), _hgvs_position(tr, flank3)
        if clipped and p5 and p3 and p3.startswith("*"):
            p5, p3 = p3, p5  # VEP quirk: an insertion clipped out of a longer allele, in the 3'UTR, high-to-low
        text = f"{p5}_{p3}ins{alt_t}" if p5 and p3 else None
    else:
        where = _hgvs_range(tr, positions[0], positions[-1]) if positions else None
        if where is None:
            text = None
        elif kind == ">":
            text = f"{where}{ref_t}>{alt_t}"
        elif kind == "del":
            text = f"{where}del"
        elif kind == "inv":
            text = f"{where}inv"
        else:
            text = f"{where}delins{alt_t}"
    hgvsp = ""
    if tr.has_cds and coding:
        # (VEP quirk: on the minus strand, an insertion shifted further than its own length reaches
        # the protein unrotated at the shifted place)
        inserted = alt_g
        if insertion:
            inserted = allele.alt if not plus and shift > len(allele.alt) else moved
        hgvsp = _hgvs_protein(tr, allele, s, e, inserted, mask) or ""
    if not inside:
        text = None
    if text is None and not hgvsp:
        return None
    return (f"{prefix}{text}" if text is not None else ""), hgvsp, shift


def _within(tr: Transcript, span: tuple[int, int]) -> bool:
    return tr.start <= min(span) and max(span) <= tr.end


def _protein_prefix(tr: Transcript) -> str:
    pid = tr.protein_id
    return (pid if _VERSIONED.search(pid) else f"{pid}.1") + ":p."


def _hgvs_protein(tr: Transcript, allele: Allele, s: int, e: int, alt_g: str, mask: int) -> str | None:
    """HGVSp as VEP writes it (EV TranscriptVariationAllele `hgvs_protein`): the peptides at the
    3'-shifted position, clipped, typed, moved 3' and formatted, quirks included."""
    insertion = s == e + 1
    alt_tx = alt_g if tr.strand == 1 else revcomp(alt_g)
    m = _Mapping(tr, s, e, insertion, alt_tx)
    if m.tl_start is None or m.tl_end is None or m.ref_pep is None or m.alt_pep is None:
        return None
    ref_pep, alt_pep = m.ref_pep, m.alt_pep
    if (
        len(alt_tx) == e - s + 1
        and len(ref_pep) == 1
        and len(alt_pep) == 1
        and ref_pep != "-"
        and alt_pep != "-"
        and not mask & _ENDS
    ):  # (a substitution changing one residue for one, the commonest case: what the steps give)
        ref3, alt3 = _RESIDUE[ref_pep], _RESIDUE[alt_pep]
        same = ref3 == alt3  # (a stop and an incomplete codon are both Ter: X/* is "=", as VEP)
        return f"{_protein_prefix(tr)}{ref3}{m.tl_start}{'=' if same else alt3}"
    p = _ProteinChange(tr, m, alt_tx, mask)
    if not p.build():
        return None
    return _protein_prefix(tr) + p.format()


_ENDS: Final = START_LOST | STOP_LOST | FRAMESHIFT
_RESIDUE: Final = {aa: three_letter(aa).replace("Xaa", "Ter") for aa in "ACDEFGHIKLMNPQRSTVWY*XU"}


def _perl_substr(text: str, offset: int, length: int | None = None) -> str:
    """Perl's substr: a negative offset counts from the end."""
    if offset < 0:
        offset = max(len(text) + offset, 0)
    return text[offset:] if length is None else text[offset : offset + length]


class _ProteinChange:
    """The working state of one HGVSp: reference and alternate peptides, first and last position."""

    def __init__(self, tr: Transcript, m: _Mapping, alt_tx: str, mask: int) -> None:
        assert m.tl_start is not None and m.tl_end is not None and m.ref_pep is not None and m.alt_pep is not None
        self.tr, self.m, self.alt_tx, self.mask = tr, m, alt_tx, mask
        self.ref, self.alt = m.ref_pep, m.alt_pep
        self.start, self.end = m.tl_start, m.tl_end
        self.kind = ""
        self.original_ref: str | None = None
        self.preseq = ""

    # -- the peptides
    def build(self) -> bool:
        if self.ref != self.alt:
            self._clip()
        self._classify()
        if self.kind == "fs":
            self._frameshift_peptides()
        elif self.kind == "ins":
            post = self._surrounding(self.end + 1)
            if post is not None:
                self._move_3prime(post)
            if "*" not in self.alt and self._is_duplication():
                return True
            first = min(self.start, self.end)
            flank = self._surrounding(first, 2)
            if not flank:
                return False
            self.ref = flank
        elif self.kind == "del":
            post = self._surrounding(self.end + 1)
            if post is not None:
                self._move_3prime(post)
        if self.ref != "-":
            self.ref = three_letter(self.ref)
        self.alt = "del" if self.alt == "-" else three_letter(self.alt)
        if self.mask & START_LOST:
            self.alt, self.kind = "?", ""
        elif self.kind == "del":
            if not self.ref:
                return False  # (VEP re-translates here; a deletion always has reference residues)
            self.alt = "del"
        elif self.kind == "fs":
            self.ref = self.ref[:3]
        self.ref = self.ref.replace("Xaa", "Ter")
        self.alt = self.alt.replace("Xaa", "Ter")
        return True

    def _clip(self) -> None:
        """Drop the residues the peptides share at either end (`_clip_alleles`)."""
        self.original_ref = self.ref
        ref, alt = self.ref, self.alt
        for _ in range(len(ref)):
            if ref[:1] == "*" and alt[:1] == "*":
                return  # (a stop re-created: nothing is clipped)
            if ref[:1] != alt[:1]:
                break
            self.preseq += ref[:1]
            ref, alt, self.start = ref[1:], alt[1:], self.start + 1
        for _ in range(len(ref)):
            if ref[-1:] != alt[-1:]:
                break
            ref, alt, self.end = ref[:-1], alt[:-1], self.end - 1
        self.ref, self.alt = ref, alt

    def _classify(self) -> None:
        if self._is_frameshift():
            self.kind = "fs"
            return
        self.ref = self.ref.replace("*", "X", 1)
        self.alt = self.alt.replace("*", "X", 1)
        ref, alt = self.ref, self.alt
        if ref in ("-", ""):
            self.kind = "ins"
        elif alt in ("-", ""):
            self.kind = "del"
        elif len(ref) == 1 and len(alt) == 1:
            self.kind = ">"
        elif len(ref) != len(alt) or (len(alt) > 1 and len(ref) > 1):
            self.kind = "delins"
        else:
            self.kind = ">"

    def _is_frameshift(self) -> bool:
        """The frameshift predicate at the shifted place (VEP re-evaluates it there)."""
        m, cds_len = self.m, len(self.tr.cds)
        if m.cds_start is None or m.cds_end is None or m.tl_start is None or self.mask & STOP_RETAINED:
            return False
        if 0 < cds_len - (m.tl_start * 3 - 3) < 3:  # (the incomplete last codon)
            return False
        return abs(len(self.alt_tx) - (m.cds_end - m.cds_start + 1)) % 3 != 0

    def _alternate_translation(self) -> str:
        """The CDS with the allele, and the 3'UTR after it, translated (`_get_alternate_cds`)."""
        tr, m = self.tr, self.m
        assert m.cds_start is not None and m.cds_end is not None
        edited = tr.cds[: m.cds_start - 1] + self.alt_tx + tr.cds[m.cds_end :]
        if len(edited) < 3:
            edited = ""
        return translate(edited + tr.utr3_vep, tr.codon_table)

    def _frameshift_peptides(self) -> None:
        """The first residue that differs, from the shifted first codon on (`_get_fs_peptides`)."""
        alt_trans = self._alternate_translation()
        ref_trans = self.tr.protein + "*"
        assert self.m.tl_start is not None
        self.start = self.m.tl_start
        if self.start > len(alt_trans):
            self.alt, self.kind = "del", "del"
            return
        while self.start <= len(alt_trans):
            self.ref = ref_trans[self.start - 1 : self.start]
            self.alt = alt_trans[self.start - 1]
            if self.ref == "*" and self.alt == "*":
                self.kind = "="
                return
            if self.ref != self.alt:
                return
            self.start += 1

    def _surrounding(self, position: int, length: int | None = None) -> str | None:
        protein = self.tr.protein
        if self.original_ref is not None and self.original_ref.startswith("*"):
            protein += self.original_ref
        if len(protein) <= position:
            return None
        return _perl_substr(protein, position - 1, length)

    def _move_3prime(self, post: str) -> None:
        """Rotate the inserted or deleted residues along the residues after them."""
        moving = self.alt if self.kind == "ins" else self.ref
        if not moving:
            return
        for n in range(len(post) - len(moving) + 1):
            if moving[0] != post[n]:
                break
            self.start, self.end = self.start + 1, self.end + 1
            moving = moving[1:] + moving[0]
        if self.kind == "ins":
            self.alt = moving
        else:
            self.ref = moving

    def _is_duplication(self) -> bool:
        upstream = (self.tr.protein + "*")[: max(self.start - 1, 0)] + self.preseq
        at = self.start - len(self.alt) - 1
        if at < 0 or len(upstream) < at + len(self.alt) or upstream[at : at + len(self.alt)] != self.alt:
            return False
        self.kind = "dup"
        self.end = self.start - 1
        self.start -= len(self.alt)
        self.alt = three_letter(self.alt)
        return True

    def _extra_residues(self, first: int, frameshift: bool) -> str:
        """Residues to the new stop codon (`_stop_loss_extra_AA`), or "?"."""
        if not first:
            return "?"
        alt_trans = self._alternate_translation()
        stop = alt_trans.find("*") + 1
        if not stop:
            return "?"
        extra = stop - first if frameshift else stop - 1 - len(self.tr.protein)
        return str(extra) if extra > 0 else "?"

    # -- the text
    def format(self) -> str:
        ref, alt, start, end, kind = self.ref, self.alt, self.start, self.end, self.kind
        if ref == alt and kind not in ("fs", "ins"):
            return f"{ref}{start}="
        if self.mask & STOP_LOST and kind in ("del", ">"):
            where = f"{ref[:3]}{start}_{ref[-3:]}{end}" if kind == "del" and len(ref) > 3 else f"{ref}{start}"
            return f"{where}{alt[:3]}extTer{self._extra_residues(start - 1, False)}"
        if kind == "dup":
            if start < end:
                return f"{alt[:3]}{start}_{alt[-3:]}{end}dup"
            return f"{alt}{start}dup"
        if kind == ">":
            return f"{ref}{start}{alt}"
        if kind in ("delins", "ins"):
            alt = re.sub(r"Ter\w+", "Ter", alt, count=1)
            if start == end and kind == "delins":
                return f"{ref[:3]}{start}delins{alt}"
            if start > end:
                start, end = end, start
            return f"{ref[:3]}{start}_{ref[-3:]}{end}{kind}{alt}"
        if kind == "fs":
            if alt == "Ter":
                return f"{ref}{start}{alt}"
            return f"{ref}{start}{alt}fsTer{self._extra_residues(start - 1, True)}"
        if kind == "del":
            if len(ref) > 3:
                return f"{ref[:3]}{start}_{ref[-3:]}{end}del"
            return f"{ref}{start}del"
        if start != end:
            return f"{ref}{start}_{alt}{end}"
        return f"{ref}{start}{alt}"
