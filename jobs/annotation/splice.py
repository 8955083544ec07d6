"""Splice-site and intron terms (EV BaseTranscriptVariationAllele ``_intron_effects``)."""

from __future__ import annotations

from jobs.annotation.model import Transcript
from jobs.annotation.terms import (
    INTRON,
    SPLICE_ACCEPTOR,
    SPLICE_DONOR,
    SPLICE_DONOR_5TH_BASE,
    SPLICE_DONOR_REGION,
    SPLICE_POLYPYRIMIDINE,
    SPLICE_REGION,
    numbers_hit,
    numbers_text,
    ov,
)  # fmt: skip
from jobs.annotation.vcf import Allele


def intron_effects(tr: Transcript, allele: Allele, s: int, e: int, lo: int, hi: int) -> tuple[int, str]:
    """Splice and intron terms (EV BaseTranscriptVariationAllele intron_effects) and the INTRON text.

    As VEP: each differing region of the allele (``Allele.regions``: an MNV or delins is tested
    base run by base run, not as one span) is tested against the introns VEP looked up once with
    the allele's span: those it overlaps with 3 bases either side (intron_variant and the
    polypyrimidine tract), and those whose boundary zone (3 exon and 7 intron bases at either
    end) it overlaps (splice sites, 5th base, donor region, splice_region). Flags accumulate,
    but splice_region keeps the value of the last (region, boundary intron) pair examined,
    unless a donor or acceptor site was hit by then."""
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
                ppt_f = ppt_f or ov(m_lo, m_hi, i_e - 16, i_e - 2)
                ppt_r = ppt_r or ov(m_lo, m_hi, i_s + 2, i_s + 16)
            if not ((hi >= i_s - 3 and lo <= i_s + 7) or (hi >= i_e - 7 and lo <= i_e + 3)):
                continue  # (not a boundary intron)
            start_site = start_site or ov(r_s, r_e, i_s, i_s + 1)
            end_site = end_site or ov(r_s, r_e, i_e - 1, i_e)
            fifth_f = fifth_f or ov(r_s, r_e, i_s + 4, i_s + 4)
            region_f = region_f or ov(r_s, r_e, i_s + 2, i_s + 5)
            fifth_r = fifth_r or ov(r_s, r_e, i_e - 4, i_e - 4)
            region_r = region_r or ov(r_s, r_e, i_e - 5, i_e - 2)
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
