"""Issue 30, items 1 and 3: the source catalogue (``source available``, ``source install``) against a
local mirror in each provider's layout, with small files built in their real formats: ClinVar's VCF
and its .md5, a gnomAD sites VCF per chromosome, AlphaMissense's TSV, REVEL's zipped CSV, CADD's TSV."""

from __future__ import annotations

import gzip
import hashlib
import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from jobs.models import AnnotationSource, Job, JobStatus
from jobs.sources.catalogue import listed_md5
from jobs.sources.registry import source_dir
from tests.helpers import GOOD_VCF, api_client
from tests.mirror import Mirror

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("job_settings")]

CLINVAR = (
    "##fileformat=VCFv4.1\n##source=ClinVar\n##reference=GRCh37\n"
    '##ID=<Description="ClinVar Variation ID">\n'
    '##INFO=<ID=ALLELEID,Number=1,Type=Integer,Description="the ClinVar Allele ID">\n'
    '##INFO=<ID=CLNDN,Number=.,Type=String,Description="ClinVar\'s preferred disease name">\n'
    '##INFO=<ID=CLNREVSTAT,Number=.,Type=String,Description="ClinVar review status">\n'
    '##INFO=<ID=CLNSIG,Number=.,Type=String,Description="Aggregate germline classification">\n'
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    "20\t63426\t1001\tG\tA\t.\t.\tALLELEID=9001;CLNDN=Example_disease;"
    "CLNREVSTAT=criteria_provided,_multiple_submitters,_no_conflicts;CLNSIG=Pathogenic\n"
    "20\t123273\t1002\tA\tT\t.\t.\tALLELEID=9002;CLNDN=not_provided;CLNREVSTAT=criteria_provided,_single_submitter;"
    "CLNSIG=Benign\n"
)
GNOMAD = (
    "##fileformat=VCFv4.2\n"
    '##INFO=<ID=AC,Number=A,Type=Integer,Description="Alternate allele count">\n'
    '##INFO=<ID=AF,Number=A,Type=Float,Description="Alternate allele frequency">\n'
    '##INFO=<ID=AF_popmax,Number=A,Type=Float,Description="Maximum allele frequency across populations">\n'
    '##INFO=<ID=nhomalt,Number=A,Type=Integer,Description="Count of homozygous individuals">\n'
    '##INFO=<ID=vep,Number=.,Type=String,Description="Consequence annotations from VEP">\n'
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    "20\t63426\trs1\tG\tA,C\t100\tPASS\tAC=3,1;AF=0.0005,0.0001;AF_popmax=0.002,0.0004;nhomalt=0,0;vep=A|x\n"
    "20\t123273\t.\tA\tT\t100\tPASS\tAC=900;AF=0.15;AF_popmax=0.3;nhomalt=12;vep=T|y\n"
)
ALPHAMISSENSE = (
    "# Copyright 2023 DeepMind Technologies Limited\n#\n# Licensed under CC BY-NC-SA 4.0 license\n"
    "#CHROM\tPOS\tREF\tALT\tgenome\tuniprot_id\ttranscript_id\tprotein_variant\tam_pathogenicity\tam_class\n"
    "chr20\t63426\tG\tA\thg19\tQ9NQ87\tENST00000382410.3\tA10T\t0.0909\tlikely_benign\n"
    "chr20\t123273\tA\tT\thg19\tQ9NQ87\tENST00000382410.3\tK20M\t0.9012\tlikely_pathogenic\n"
)
REVEL = (
    "chr,hg19_pos,grch38_pos,ref,alt,aaref,aaalt,REVEL,Ensembl_transcriptid\n"
    "20,63426,82819,G,A,A,T,0.123,ENST00000382410\n"
    "20,123273,142632,A,T,K,M,0.871,ENST00000382410\n"
)
CADD = (
    "## CADD GRCh37-v1.7 (c) University of Washington, Hudson-Alpha Institute for Biotechnology and Berlin Institute "
    "of Health at Charite - Universitatsmedizin Berlin 2013-2023. All rights reserved.\n"
    "#Chrom\tPos\tRef\tAlt\tRawScore\tPHRED\n"
    "20\t63426\tG\tA\t0.211\t4.532\n20\t63426\tG\tC\t0.301\t5.101\n20\t123273\tA\tT\t2.91\t24.3\n"
)


@pytest.fixture
def mirror(tmp_path):
    root = tmp_path / "mirror"
    clinvar = root / "pub/clinvar/vcf_GRCh37/clinvar.vcf.gz"
    clinvar.parent.mkdir(parents=True)
    clinvar.write_bytes(gzip.compress(CLINVAR.encode()))
    digest = hashlib.md5(clinvar.read_bytes(), usedforsecurity=False).hexdigest()
    (root / "pub/clinvar/vcf_GRCh37/clinvar.vcf.gz.md5").write_text(f"{digest}  clinvar_20251130.vcf.gz\n")
    gnomad = root / "gcp-public-data--gnomad/release/2.1.1/vcf/exomes/gnomad.exomes.r2.1.1.sites.20.vcf.bgz"
    gnomad.parent.mkdir(parents=True)
    gnomad.write_bytes(gzip.compress(GNOMAD.encode()))
    alphamissense = root / "dm_alphamissense/AlphaMissense_hg19.tsv.gz"
    alphamissense.parent.mkdir(parents=True)
    alphamissense.write_bytes(gzip.compress(ALPHAMISSENSE.encode()))
    revel = root / "records/7072866/files/revel-v1.3_all_chromosomes.zip"
    revel.parent.mkdir(parents=True)
    with zipfile.ZipFile(revel, "w") as archive:
        archive.writestr("revel_with_transcript_ids", REVEL)  # (its real member has no suffix)
    cadd = root / "download/CADD/v1.7/GRCh37/whole_genome_SNVs.tsv.gz"
    cadd.parent.mkdir(parents=True)
    cadd.write_bytes(gzip.compress(CADD.encode()))
    with Mirror(root) as served:
        yield served


def install(mirror: Mirror, name: str, *args: str) -> str:
    out = io.StringIO()
    call_command("source", "install", name, "--reference", "demo", "--mirror", mirror.url, *args, stdout=out)
    return out.getvalue()


def kept_text(source: AnnotationSource) -> str:
    return gzip.decompress((source_dir() / source.path).read_bytes()).decode()


def test_the_catalogue_lists_every_entry_with_its_licence():
    out = io.StringIO()
    call_command("source", "available", stdout=out)
    listed = out.getvalue()
    for name in ("clinvar-grch37", "clinvar-grch38", "gnomad-exomes-grch37", "gnomad-genomes-grch38",
                 "alphamissense-grch38", "revel-grch37", "cadd-grch38", "spliceai-grch38",
                 "dbnsfp-grch37"):  # fmt: skip
        assert f"{name}\t" in listed
    assert "CC BY-NC-SA 4.0 (non-commercial) (non-commercial)" in listed and "basespace" in listed


def test_clinvar_is_downloaded_resumed_checked_trimmed_and_registered(mirror):
    mirror.break_once.add("/pub/clinvar/vcf_GRCh37/clinvar.vcf.gz")
    said = install(mirror, "clinvar-grch37")
    assert "Installed clinvar-grch37 for demo" in said and "ClinVar_CLNSIG" in said
    assert any(path.endswith("clinvar.vcf.gz") and wanted for path, wanted in mirror.requests)  # (resumed by Range)
    source = AnnotationSource.objects.get(name="clinvar-grch37")
    assert (source.short_name, source.fields, source.match_type) == ("ClinVar", ["CLNSIG", "CLNREVSTAT", "CLNDN"],
                                                                     "exact")  # fmt: skip
    assert source.licence.startswith("NCBI ClinVar: public domain") and source.release
    text = kept_text(source)
    assert "ALLELEID" not in text and "CLNSIG=Pathogenic" in text  # (only the chosen fields kept)


def test_a_checksum_mismatch_names_the_file_and_registers_nothing(mirror):
    (mirror.root / "pub/clinvar/vcf_GRCh37/clinvar.vcf.gz.md5").write_text("0" * 32 + "  clinvar_20251130.vcf.gz\n")
    with pytest.raises(CommandError, match=r"clinvar.vcf.gz: checksum mismatch: clinvar.vcf.gz.md5 gives 0{32}"):
        install(mirror, "clinvar-grch37")
    assert not AnnotationSource.objects.exists()


def test_licences_that_restrict_commercial_use_need_acceptance(mirror):
    with pytest.raises(CommandError, match=r"restricts commercial use; pass --accept-licence"):
        install(mirror, "alphamissense-grch37")
    assert "Installed alphamissense-grch37" in install(mirror, "alphamissense-grch37", "--accept-licence")
    source = AnnotationSource.objects.get()
    assert source.field_types["am_pathogenicity"]["type"] == "Float"
    assert "20\t123273\t.\tA\tT\t.\t.\tam_pathogenicity=0.9012;am_class=likely_pathogenic" in kept_text(source)


def test_tables_are_converted_and_a_job_uses_every_source(mirror, signed_in_client, drain,
                                                          django_capture_on_commit_callbacks):  # fmt: skip
    install(mirror, "clinvar-grch37")
    install(mirror, "gnomad-exomes-grch37", "--chromosomes", "20")
    install(mirror, "revel-grch37", "--accept-licence")
    install(mirror, "cadd-grch37", "--accept-licence", "--fields", "PHRED")
    with pytest.raises(CommandError, match="clinvar-grch38 is for GRCh38; reference demo is GRCh37"):
        install(mirror, "clinvar-grch38")
    with pytest.raises(CommandError, match="spliceai-grch37: sign in at basespace"):
        install(mirror, "spliceai-grch37", "--accept-licence")
    names = "clinvar-grch37,gnomad-exomes-grch37,revel-grch37,cadd-grch37"
    with django_capture_on_commit_callbacks(execute=True):
        upload = SimpleUploadedFile("ok.vcf", GOOD_VCF.encode())
        signed_in_client.post(reverse("annotate"), {"file": upload, "sources": names.split(",")})
    drain("run_annotator")
    job = Job.objects.get()
    assert job.status == JobStatus.COMPLETED, job.error_message
    assert {entry["name"]: entry["licence"] for entry in job.sources}["revel-grch37"].startswith("REVEL: free")
    api = api_client(signed_in_client)
    rows = api.get(f"/api/v1/jobs/{job.id}/variants").json()["items"]
    fields = {row["pos"]: row["entries"][0] for row in rows}
    assert fields[63426]["ClinVar_CLNSIG"] == "Pathogenic" and fields[63426]["gnomADe_AF"] == "0.0005"
    assert fields[123273]["REVEL_REVEL"] == "0.871" and fields[123273]["CADD_PHRED"] == "24.3"
    rare = api.get(f"/api/v1/jobs/{job.id}/variants", {"where": ["gnomADe_AF<0.01|missing", "ClinVar_stars>=2"]})
    assert [row["pos"] for row in rare.json()["items"]] == [63426]
    page = signed_in_client.get(reverse("job_detail", args=[job.id])).content.decode()
    assert "REVEL: free for non-commercial use" in page and "CADD" in page  # (each source's licence named)
    result = signed_in_client.get(reverse("job_download", args=[job.id, "result"]))
    header = [line for line in gzip.decompress(b"".join(result.streaming_content)).decode().splitlines()
              if line.startswith("##INFO=<ID=ClinVar")]  # fmt: skip
    assert header[0] == '##INFO=<ID=ClinVar,Number=.,Type=String,Description="clinvar-grch37: clinvar-grch37.vcf.gz, ' \
        'weekly release (latest)">'
    assert not any(str(source_dir()) in line for line in header)  # (no server path in what users download)


def test_md5_files_name_the_dated_file():
    digest = "d41d8cd98f00b204e9800998ecf8427e"
    assert listed_md5(f"{digest}  clinvar_20251130.vcf.gz\n") == digest
    assert listed_md5("no hash here") is None
    assert listed_md5(f"{'a' * 32}  one\n{'b' * 32}  two\n") is None  # (which one? none)
