"""Consequences, positions and HGVS of one allele on one transcript, by Ensembl VEP 115's rules:
the CSQ entry composed from the location terms here, the splice terms (``splice``), the coding
terms (``coding``) and HGVS (``hgvs``). Consequences use the unshifted allele; HGVS alone is
shifted 3' in the transcript's direction.
"""

from __future__ import annotations

from jobs.annotation.coding import NO_MAPPING, Mapping, coding_terms, display_codons
from jobs.annotation.hgvs import hgvs_notations
from jobs.annotation.model import Transcript
from jobs.annotation.reference import ContigBases
from jobs.annotation.sequence import is_acgt, revcomp
from jobs.annotation.splice import intron_effects
from jobs.annotation.terms import (
    CODING_TERMS,
    CSQ_FIELDS,
    DOWNSTREAM,
    FLANK,
    INTERGENIC,
    NMD_TRANSCRIPT,
    NON_CODING_EXON,
    NON_CODING_TRANSCRIPT,
    TRANSCRIPT_ABLATION,
    UPSTREAM,
    UTR3,
    UTR5,
    Consequence,
    csq_escape,
    describe,
    numbers_hit,
    numbers_text,
    ov,
    span_text,
)  # fmt: skip
from jobs.annotation.vcf import Allele


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
        _, intron_text = intron_effects(tr, allele, s, e, lo, hi)
        mask = TRANSCRIPT_ABLATION
    else:
        mask, intron_text = intron_effects(tr, allele, s, e, lo, hi)

    # without an exon hit nothing maps to the cDNA: no positions, UTR or coding terms
    alt_tx = ""
    mapping = NO_MAPPING
    if exon_hit:
        alt_tx = revcomp(alt_a) if strand == -1 else alt_a
        mapping = Mapping(tr, s, e, insertion, alt_tx)
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
            mask |= coding_terms(tr, allele, mapping, alt_tx)
            # (an insertion with a flank outside the CDS gets no CDS or protein position, as VEP)
            if not insertion or (mapping.cds_start is not None and mapping.cds_end is not None):
                cds_text = span_text(mapping.cds_start, mapping.cds_end)
                protein_text = span_text(mapping.tl_start, mapping.tl_end)
            if mapping.ref_pep is not None and mapping.alt_pep is not None:
                amino_text = (
                    mapping.ref_pep if mapping.ref_pep == mapping.alt_pep else f"{mapping.ref_pep}/{mapping.alt_pep}"
                )
                codon_text = display_codons(tr, mapping, lr, la)
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
        coding = bool(mask & CODING_TERMS) or mapping.cds_start is not None or mapping.cds_end is not None
        hgvs = hgvs_notations(tr, allele, genome, mask, coding, mapping)
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
