"""VEP's pick options (issue 12, item 4): one entry per variant flagged PICK=1, in VEP's pick order
(biotype, then consequence rank, then length, then VEP's own order: transcripts by stable ID,
alleles in turn), PICK after FLAGS as VEP writes it."""

from __future__ import annotations

from jobs.annotation.engine import annotate_vcf
from jobs.annotation.model import Transcript
from jobs.annotation.pick import pick_key, picked, with_pick
from jobs.annotation.terms import CSQ_FIELDS
from tests.engine.conftest import write_vcf

PICK = CSQ_FIELDS.index("FLAGS") + 1


def model(transcript_id: str, biotype: str, exon_length: int, coding: bool) -> Transcript:
    end = 1000 + exon_length - 1
    return Transcript(
        transcript_id=transcript_id, gene_id="G", symbol="G", biotype=biotype, contig="20", strand=1,
        exons=[(1000, end)], coding_start=1000 if coding else None, coding_end=end if coding else None,
        cdna="A" * exon_length,
    )  # fmt: skip


def test_the_pick_order_is_biotype_then_rank_then_length_then_vep_order():
    coding_short = model("T9", "protein_coding", 90, coding=True)
    coding_long = model("T5", "protein_coding", 300, coding=True)
    coding_long_too = model("T1", "protein_coding", 300, coding=True)
    lncrna = model("T0", "lincRNA", 5000, coding=False)
    intron, missense, splice = 20, 13, 3  # (ranks: lower is more severe)
    # a protein-coding transcript wins over a non-coding one with a more severe consequence
    assert pick_key(coding_short, intron, 0) < pick_key(lncrna, splice, 0)
    # then the most severe consequence, whatever the length
    assert pick_key(coding_short, missense, 0) < pick_key(coding_long, intron, 0)
    # then the longer CDS; then the first stable ID; then the first allele
    assert pick_key(coding_long, missense, 1) < pick_key(coding_short, missense, 0)
    assert pick_key(coding_long_too, missense, 1) < pick_key(coding_long, missense, 0)
    assert pick_key(coding_long, missense, 0) < pick_key(coding_long, missense, 1)
    assert pick_key(None, 30, 0) > pick_key(lncrna, 30, 5)  # (intergenic last)


def test_with_pick_puts_the_field_after_flags():
    entry = "|".join(f"v{i}" for i in range(len(CSQ_FIELDS)))
    fields = with_pick(entry, True).split("|")
    assert fields[PICK] == "1" and fields[PICK - 1] == f"v{PICK - 1}" and fields[PICK + 1] == f"v{PICK}"
    assert with_pick(entry, False).split("|")[PICK] == ""


def test_one_entry_per_variant_is_picked_across_its_alleles(demo_reference, tmp_path):
    # SNAP25's region: a multi-allelic SNV over protein-coding and other transcripts
    pos = 10_256_079
    ref = demo_reference.sequence("20", pos, pos)
    alts = [base for base in "ACGT" if base != ref][:2]
    source = write_vcf(tmp_path / "in.vcf", [("20", pos, ref, ",".join(alts)), ("20", 5_000_000, "N", "A")])
    result = annotate_vcf(source, tmp_path / "out.vcf", demo_reference, pick="flag_pick")
    text = result.output.read_text()
    assert "|FLAGS|PICK|SYMBOL_SOURCE|" in text
    for line in (line for line in text.splitlines() if not line.startswith("#")):
        csq = next(item for item in line.split("\t")[7].split(";") if item.startswith("CSQ="))[4:]
        entries = [entry.split("|") for entry in csq.split(",")]
        picked = [entry for entry in entries if entry[PICK] == "1"]
        assert len(picked) == 1, line[:200]
        coding = [entry for entry in entries if entry[7] == "protein_coding"]
        if coding:
            assert picked[0][7] == "protein_coding"
    plain = annotate_vcf(source, tmp_path / "plain.vcf", demo_reference)
    assert "PICK" not in plain.output.read_text()  # (only when asked for, as VEP)


def test_picked_chooses_per_variant_per_allele_or_per_gene():
    a, b = model("A1", "protein_coding", 300, coding=True), model("B1", "protein_coding", 600, coding=True)
    b.gene_id = "GB"
    keys = [pick_key(a, 13, 0), pick_key(b, 20, 0), pick_key(a, 20, 1), pick_key(b, 20, 1), pick_key(None, 30, 2)]
    genes = ["G", "GB", "G", "GB", ""]
    assert picked("pick", keys, genes) == picked("flag_pick", keys, genes) == {0}  # (missense beats intron)
    assert picked("pick_allele", keys, genes) == {0, 3, 4}  # (allele 1: the longer B1)
    assert picked("per_gene", keys, genes) == {0, 1, 4}  # (each gene's best; no gene: kept)


def test_pick_keeps_one_entry_and_pick_allele_one_per_allele(demo_reference, tmp_path):
    import pytest

    from jobs.annotation.errors import AnnotationError

    pos = 10_256_079
    ref = demo_reference.sequence("20", pos, pos)
    alts = [base for base in "ACGT" if base != ref][:2]
    source = write_vcf(tmp_path / "in.vcf", [("20", pos, ref, ",".join(alts))])

    def entries(mode: str) -> list[list[str]]:
        out = annotate_vcf(source, tmp_path / f"{mode}.vcf", demo_reference, pick=mode).output.read_text()
        line = next(line for line in out.splitlines() if not line.startswith("#"))
        assert "PICK" not in out.split("#CHROM")[0]  # (the keeping modes add no field)
        csq = next(item for item in line.split("\t")[7].split(";") if item.startswith("CSQ="))[4:]
        return [entry.split("|") for entry in csq.split(",")]

    assert len(entries("pick")) == 1
    assert sorted(entry[0] for entry in entries("pick_allele")) == sorted(alts)
    genes = [entry[4] for entry in entries("per_gene")]
    assert len(genes) == len(set(genes))
    with pytest.raises(AnnotationError, match="pick option 'best'"):
        annotate_vcf(source, tmp_path / "x.vcf", demo_reference, pick="best")


def test_ties_are_broken_as_vep_115_broke_them_on_the_dev_set(demo_reference, tmp_path):
    """VEP 115.2's own choices (shared/data/dev, --flag_pick and --per_gene on GENCODE 19): a non-coding
    transcript's length is its spliced length (HAR1B-T2, 896 bases, over HAR1B-T1, 773, and HAR1A-T1);
    when every criterion ties, the first transcript in VEP's order, its stable id then "_" (SIRPB1-T13
    before SIRPB1-T1; SNAP25-AS1-T2 kept for its gene)."""
    records = [("20", 61733530, "AAATGA", "A"), ("20", 1586484, "TGGAATC", "T"), ("20", 10007283, "CCA", "C")]
    source = write_vcf(tmp_path / "in.vcf", records)

    def chosen(mode: str) -> dict[int, list[str]]:
        text = annotate_vcf(source, tmp_path / f"{mode}.vcf", demo_reference, pick=mode).output.read_text()
        found = {}
        for line in (line for line in text.splitlines() if not line.startswith("#")):
            csq = next(item for item in line.split("\t")[7].split(";") if item.startswith("CSQ="))[4:]
            entries = [entry.split("|") for entry in csq.split(",")]
            kept = [e for e in entries if e[PICK] == "1"] if mode == "flag_pick" else entries
            found[int(line.split("\t")[1])] = [entry[6] for entry in kept]
        return found

    flagged = chosen("flag_pick")
    assert flagged[61733530] == ["HAR1B-T2"] and flagged[1586484] == ["SIRPB1-T13"]
    assert "SNAP25-AS1-T2" in chosen("per_gene")[10007283]
