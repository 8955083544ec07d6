"""VEP's transcript flags (issue 12, item 3) and the gene-model dialects that carry them (item 2):
CANONICAL, MANE, MANE_SELECT, MANE_PLUS_CLINICAL, TSL, APPRIS, CCDS and ENSP after HGNC_ID as VEP
writes them, filled from GENCODE GTF tags and NCBI RefSeq GFF3 attributes, and the pick order that
reads them (MANE Select before canonical before APPRIS before TSL before biotype ...)."""

# ruff: noqa: E501 - gene-model lines are kept whole, as the providers write them

from __future__ import annotations

import random
from pathlib import Path

import pytest

from jobs.annotation.engine import annotate_vcf
from jobs.annotation.errors import AnnotationError
from jobs.annotation.gene_models import _gff_attributes, _gtf_attributes, read_gff3, transcript_flags
from jobs.annotation.model import Transcript
from jobs.annotation.pick import pick_key
from jobs.annotation.reference import Reference, import_reference
from tests.engine.conftest import csq_entries, write_vcf

ALL_FLAGS = ("canonical", "mane", "tsl", "appris", "ccds", "protein")


def test_gencode_gtf_tags_become_vep_flag_values():
    attributes = _gtf_attributes(
        'gene_id "ENSG1"; transcript_id "ENST1.2"; tag "basic"; tag "Ensembl_canonical"; tag "MANE_Select"; '
        'tag "appris_principal_3"; tag "CCDS"; ccdsid "CCDS13.1"; transcript_support_level "1";'
    )
    assert attributes["tag"] == "basic,Ensembl_canonical,MANE_Select,appris_principal_3,CCDS"
    assert transcript_flags(attributes, "ENST1.2") == ("YES", "MANE_Select", "", "", "1", "P3", "CCDS13.1")
    alternative = _gtf_attributes('transcript_id "ENST2"; tag "appris_alternative_2"; transcript_support_level "NA";')
    assert transcript_flags(alternative, "ENST2") == ("", "", "", "", "", "A2", "")
    assert transcript_flags(_gtf_attributes('transcript_id "ENST3"; tag "basic";'), "ENST3") == ()


def test_ncbi_and_mane_gff3_attributes_name_the_counterpart():
    ncbi = _gff_attributes(
        "ID=rna-NM_000546.6;Parent=gene-TP53;Dbxref=Ensembl:ENST00000269305.9,GeneID:7157,"
        "GenBank:NM_000546.6,HGNC:HGNC:11998,CCDS:CCDS11118.1;gbkey=mRNA;gene=TP53;tag=MANE Select"
    )
    assert transcript_flags(ncbi, "NM_000546.6") == ("", "MANE_Select", "ENST00000269305.9", "", "", "", "CCDS11118.1")
    mane = _gff_attributes(
        "ID=ENST00000646891.2;Parent=ENSG00000157764.14;Dbxref=RefSeq:NM_004333.6;"
        "tag=MANE_Plus_Clinical,Ensembl_canonical;transcript_support_level=5"
    )
    assert transcript_flags(mane, "ENST00000646891.2") == ("YES", "MANE_Plus_Clinical", "", "NM_004333.6", "5", "", "")


def _coding(transcript_id: str, cds: int, flags: tuple[str, ...] = ()) -> Transcript:
    return Transcript(
        transcript_id=transcript_id, gene_id="G", symbol="G", biotype="protein_coding", contig="20", strand=1,
        exons=[(1000, 1000 + cds - 1)], coding_start=1000, coding_end=1000 + cds - 1, cdna="A" * cds, flags=flags,
    )  # fmt: skip


def test_the_pick_order_reads_mane_canonical_appris_tsl_then_ccds():
    def flags(canonical="", mane="", tsl="", appris="", ccds=""):
        return (canonical, mane, "", "", tsl, appris, ccds)

    plain_long = _coding("T0", 900)
    missense, intron = 13, 20
    order = [
        _coding("T9", 90, flags(mane="MANE_Select")),
        _coding("T8", 90, flags(mane="MANE_Plus_Clinical")),
        _coding("T7", 90, flags(canonical="YES")),
        _coding("T6", 90, flags(appris="P1")),
        _coding("T5", 90, flags(appris="A1")),
        _coding("T4", 90, flags(tsl="1")),
        _coding("T3", 90, flags(tsl="2")),
        plain_long,
    ]
    keys = [pick_key(transcript, intron, 0) for transcript in order]
    assert keys == sorted(keys)  # (each criterion beats every later one, even a more severe consequence)
    assert pick_key(order[-2], intron, 0) < pick_key(plain_long, missense, 0)
    assert pick_key(_coding("T2", 90, flags(ccds="CCDS1.1")), intron, 0) < pick_key(plain_long, intron, 0)
    assert pick_key(_coding("T1", 90, flags(ccds="CCDS1.1")), intron, 0) < pick_key(plain_long, missense, 0)


def _genome(path: Path, length: int = 20_000) -> tuple[Path, str]:
    rng = random.Random(12)
    bases = "".join(rng.choice("ACGT") for _ in range(length))
    bases = bases[:2999] + "ATG" + bases[3002:]
    path.write_text(">20\n" + "\n".join(bases[i : i + 60] for i in range(0, length, 60)) + "\n")
    return path, bases


GTF = """\
20\tHAVANA\tgene\t2000\t9000\t.\t+\t.\tgene_id "ENSG9"; gene_name "GENE9"; gene_type "protein_coding";
20\tHAVANA\ttranscript\t3000\t4000\t.\t+\t.\tgene_id "ENSG9"; transcript_id "ENST1"; transcript_type "protein_coding"; tag "basic"; tag "Ensembl_canonical"; tag "MANE_Select"; tag "appris_principal_1"; ccdsid "CCDS5.1"; transcript_support_level "1";
20\tHAVANA\texon\t3000\t4000\t.\t+\t.\tgene_id "ENSG9"; transcript_id "ENST1";
20\tHAVANA\tCDS\t3000\t3299\t0\t+\t.\tgene_id "ENSG9"; transcript_id "ENST1"; protein_id "ENSP1";
20\tHAVANA\ttranscript\t2000\t9000\t.\t+\t.\tgene_id "ENSG9"; transcript_id "ENST2"; transcript_type "protein_coding"; tag "basic";
20\tHAVANA\texon\t2000\t9000\t.\t+\t.\tgene_id "ENSG9"; transcript_id "ENST2";
20\tHAVANA\tCDS\t3000\t5999\t0\t+\t.\tgene_id "ENSG9"; transcript_id "ENST2"; protein_id "ENSP2";
"""


@pytest.fixture
def tagged_reference(tmp_path) -> Reference:
    fasta, _ = _genome(tmp_path / "genome.fa")
    model = tmp_path / "tagged.gtf"
    model.write_text(GTF)
    import_reference(name="tagged", build="GRCh38", gene_model=model, fasta=fasta, destination=tmp_path / "tagged")
    return Reference(tmp_path / "tagged")


def test_flag_columns_follow_hgnc_id_with_vep_values(tagged_reference, tmp_path):
    _, bases = _genome(tmp_path / "again.fa")
    pos = 3100
    alt = "A" if bases[pos - 1] != "A" else "C"
    source = write_vcf(tmp_path / "in.vcf", [("20", pos, bases[pos - 1], alt), ("20", 15_000, bases[14_999], "N")])
    result = annotate_vcf(source, tmp_path / "out.vcf", tagged_reference, flags=ALL_FLAGS[::-1], pick="flag_pick")
    header = result.output.read_text().split("Format: ")[1].split('"')[0].split("|")
    assert header[20:33] == [
        "FLAGS", "PICK", "SYMBOL_SOURCE", "HGNC_ID", "CANONICAL", "MANE", "MANE_SELECT", "MANE_PLUS_CLINICAL",
        "TSL", "APPRIS", "CCDS", "ENSP", "SOURCE",
    ]  # fmt: skip
    entries = {entry[6]: dict(zip(header, entry, strict=True)) for entry in csq_entries(result.output)}
    tagged, plain = entries["ENST1"], entries["ENST2"]
    assert (tagged["CANONICAL"], tagged["MANE"], tagged["TSL"], tagged["APPRIS"], tagged["CCDS"], tagged["ENSP"]) == (
        "YES", "MANE_Select", "1", "P1", "CCDS5.1", "ENSP1",
    )  # fmt: skip
    assert tagged["MANE_SELECT"] == tagged["MANE_PLUS_CLINICAL"] == ""  # (a GTF names no RefSeq counterpart)
    assert [plain[name] for name in header[24:31]] == [""] * 7 and plain["ENSP"] == "ENSP2"
    # MANE Select wins over the longer CDS that length alone would pick
    assert tagged["PICK"] == "1" and plain["PICK"] == ""
    intergenic = next(entry for entry in csq_entries(result.output) if entry[1] == "intergenic_variant")
    assert len(intergenic) == len(header) and set(intergenic[24:32]) == {""}


def test_flags_only_when_asked_and_unknown_ones_refused(tagged_reference, tmp_path):
    source = write_vcf(tmp_path / "in.vcf", [("20", 3100, "N", "A")])
    plain = annotate_vcf(source, tmp_path / "plain.vcf", tagged_reference).output.read_text()
    assert "|HGNC_ID|SOURCE|" in plain and "CANONICAL" not in plain
    only = annotate_vcf(source, tmp_path / "ccds.vcf", tagged_reference, flags=("ccds",)).output.read_text()
    assert "|HGNC_ID|CCDS|SOURCE|" in only
    with pytest.raises(AnnotationError, match="unknown flag option 'everything'"):
        annotate_vcf(source, tmp_path / "x.vcf", tagged_reference, flags=("everything",))


NCBI_GFF3 = """\
##gff-version 3
##sequence-region NC_000020.11 1 20000
NC_000020.11\tRefSeq\tregion\t1\t20000\t.\t+\t.\tID=NC_000020.11:1..20000;Dbxref=taxon:9606;Name=20;chromosome=20;gbkey=Src;genome=chromosome
NC_000020.11\tBestRefSeq\tgene\t2000\t9000\t.\t+\t.\tID=gene-GENE9;Dbxref=GeneID:9999,HGNC:HGNC:99;Name=GENE9;gbkey=Gene;gene=GENE9;gene_biotype=protein_coding
NC_000020.11\tBestRefSeq\tmRNA\t3000\t4000\t.\t+\t.\tID=rna-NM_000009.3;Parent=gene-GENE9;Dbxref=Ensembl:ENST1.4,GeneID:9999,GenBank:NM_000009.3,HGNC:HGNC:99;Name=NM_000009.3;gbkey=mRNA;gene=GENE9;tag=MANE Select;transcript_id=NM_000009.3
NC_000020.11\tBestRefSeq\texon\t3000\t4000\t.\t+\t.\tID=exon-NM_000009.3-1;Parent=rna-NM_000009.3;gbkey=mRNA;gene=GENE9;transcript_id=NM_000009.3
NC_000020.11\tBestRefSeq\tCDS\t3000\t3299\t.\t+\t0\tID=cds-NP_000009.1;Parent=rna-NM_000009.3;Dbxref=CCDS:CCDS5.1,GeneID:9999;Name=NP_000009.1;gbkey=CDS;gene=GENE9;protein_id=NP_000009.1
NC_000020.11\tGnomon\tlnc_RNA\t2000\t9000\t.\t+\t.\tID=rna-XR_000001.1;Parent=gene-GENE9;Dbxref=GeneID:9999;gbkey=ncRNA;gene=GENE9;transcript_id=XR_000001.1;exception=unclassified transcription discrepancy
NC_000020.11\tGnomon\texon\t2000\t9000\t.\t+\t.\tID=exon-XR_000001.1-1;Parent=rna-XR_000001.1;gbkey=ncRNA;gene=GENE9;transcript_id=XR_000001.1
"""


def test_ncbi_refseq_gff3_reads_as_vep_reads_it(tmp_path):
    model = tmp_path / "GCF_000001405.40_GRCh38.p14_genomic.gff"
    model.write_text(NCBI_GFF3)
    transcripts = {t.transcript_id: t for t in read_gff3(model)}
    coding, lncrna = transcripts["NM_000009.3"], transcripts["XR_000001.1"]
    assert (coding.gene_id, coding.symbol, coding.biotype, coding.protein_id) == (
        "9999",
        "GENE9",
        "protein_coding",
        "NP_000009.1",
    )
    assert (coding.contig, coding.contig_alias) == ("NC_000020.11", "20")
    assert coding.flags == ("", "MANE_Select", "ENST1.4", "", "", "", "CCDS5.1")  # (NCBI: CCDS on the CDS lines)
    assert lncrna.biotype == "ncRNA" and lncrna.exception  # (gbkey, as VEP's GFF parser falls back to)

    fasta, bases = _genome(tmp_path / "genome.fa")
    report = import_reference(name="refseq", build="GRCh38", gene_model=model, fasta=fasta, destination=tmp_path / "rs")
    assert (report.transcripts, report.dropped) == (2, 0)
    reference = Reference(tmp_path / "rs")
    assert reference.resolve_contig("NC_000020.11") == reference.resolve_contig("chr20") == "20"
    assert reference.manifest["transcripts_with_exception"] == 1
    pos = 3100
    alt = "A" if bases[pos - 1] != "A" else "C"
    header = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    source = write_vcf(tmp_path / "in.vcf", [("NC_000020.11", pos, bases[pos - 1], alt)], header=header)
    result = annotate_vcf(source, tmp_path / "out.vcf", reference, flags=("mane", "ccds"), pick="flag_pick")
    entries = {entry[6]: entry for entry in csq_entries(result.output)}
    names = result.output.read_text().split("Format: ")[1].split('"')[0].split("|")
    nm = dict(zip(names, entries["NM_000009.3"], strict=True))
    assert (nm["Gene"], nm["MANE"], nm["MANE_SELECT"], nm["CCDS"], nm["PICK"]) == (
        "9999", "MANE_Select", "ENST1.4", "CCDS5.1", "1",
    )  # fmt: skip


def test_an_assembly_report_gives_every_name_of_a_sequence(tmp_path):
    fasta, _ = _genome(tmp_path / "genome.fa")
    model = tmp_path / "model.gff3"
    model.write_text(NCBI_GFF3.replace("genome=chromosome", "genome=other"))  # (no region names: the report must)
    report = tmp_path / "GCF_000001405.40_GRCh38.p14_assembly_report.txt"
    report.write_text(
        "# Assembly name:  GRCh38.p14\n"
        "# Sequence-Name\tSequence-Role\tAssigned-Molecule\tAssigned-Molecule-Location/Type\tGenBank-Accn\t"
        "Relationship\tRefSeq-Accn\tAssembly-Unit\tSequence-Length\tUCSC-style-name\n"
        "20\tassembled-molecule\t20\tChromosome\tCM000682.2\t=\tNC_000020.11\tPrimary Assembly\t64444167\tchr20\n"
    )
    import_reference(
        name="r", build="GRCh38", gene_model=model, fasta=fasta, destination=tmp_path / "r", assembly_report=report
    )
    reference = Reference(tmp_path / "r")
    assert reference.manifest["transcript_count"] == 2
    assert {reference.resolve_contig(name) for name in ("20", "chr20", "NC_000020.11", "CM000682.2")} == {"20"}


def test_a_gff3_is_read_sequence_by_sequence_and_one_out_of_order_refused(tmp_path):
    from jobs.annotation.errors import InputFormatError

    other = (
        NCBI_GFF3.replace("NC_000020.11", "NC_000021.9")
        .replace("GENE9", "GENE21")
        .replace("NM_000009.3", "NM_000021.1")
    )
    body = [line for line in other.splitlines() if not line.startswith("#")]
    model = tmp_path / "two.gff3"
    model.write_text(NCBI_GFF3 + "\n".join(body) + "\n")
    assert [t.contig for t in read_gff3(model)] == ["NC_000020.11", "NC_000020.11", "NC_000021.9", "NC_000021.9"]
    model.write_text(NCBI_GFF3 + "\n".join(body) + "\n" + NCBI_GFF3.splitlines()[-1] + "\n")
    line = len((NCBI_GFF3 + "\n".join(body)).splitlines()) + 1
    with pytest.raises(InputFormatError, match=f"line {line}: the lines of sequence NC_000020.11 are not together"):
        list(read_gff3(model))


def test_a_truncated_gzipped_gene_model_is_refused_not_read_short(tmp_path):
    import gzip as gz

    from jobs.annotation.errors import InputFormatError

    whole = gz.compress((NCBI_GFF3 * 1).encode())
    model = tmp_path / "cut.gff3.gz"
    model.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(InputFormatError, match="the gzip file is damaged or truncated"):
        list(read_gff3(model))
    model.write_bytes(whole)
    assert len(list(read_gff3(model))) == 2
