"""One reference per job, chosen or detected (issue 12, item 5): a VCF left to GAS goes to the
installed bundle its ##contig lengths (else its ##reference line) fit; a build not installed is
refused with a message naming it and the command that installs it; the job page shows the build,
provider and release."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from jobs.annotation.reference import import_reference
from jobs.models import Job, JobStatus
from jobs.references.matching import header_contigs, reference_for_header
from tests.engine.test_flags import GTF

pytestmark = pytest.mark.django_db

GRCH38_CHR20 = 64_444_167


def _vcf(length: int, reference_line: str = "") -> bytes:
    contig = f"##contig=<ID=20,length={length}>\n" if length else ""
    return (
        f"##fileformat=VCFv4.2\n{reference_line}{contig}#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
        "20\t3100\t.\tN\tA\t50\tPASS\t.\n"
    ).encode()


@pytest.fixture(scope="session")
def grch38_bundle(tmp_path_factory) -> Path:
    """A GRCh38-sized chromosome 20 (synthetic bases, one tagged gene) as an installed bundle."""
    root = tmp_path_factory.mktemp("grch38")
    fasta = root / "chr20.fa"
    with open(fasta, "w") as handle:
        handle.write(">20\n")
        line = "ACGTTGCA" * 8 + "\n"  # (64 bases a line)
        full, rest = divmod(GRCH38_CHR20, 64)
        handle.write(line * full + line[:rest] + "\n")
    model = root / "model.gtf"
    model.write_text(GTF)
    import_reference(
        name="grch38-test", build="GRCh38", gene_model=model, fasta=fasta, destination=root / "bundle",
        provider="GENCODE (basic)", release="49",
    )  # fmt: skip
    fasta.unlink()
    return root / "bundle"


@pytest.fixture
def references(tmp_path, settings, demo_reference_dir, job_queues) -> Path:
    root = tmp_path / "references"
    root.mkdir()
    os.symlink(demo_reference_dir / "demo", root / "demo")
    settings.GAS_REFERENCE_DIR = root
    settings.GAS_DEFAULT_REFERENCE = "demo"
    return root


@pytest.fixture
def job_queues(settings):
    settings.GAS_QUEUES = {
        alias: {"BACKEND": "gas_site.queues.database.DatabaseQueue", "NAME": f"test-{alias}", "OPTIONS": {}}
        for alias in ("jobs", "archive", "restore", "thaw")
    }
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def test_header_contigs_and_reference_line():
    lines = ["##reference=file:///refs/GRCh38.fa", "##contig=<ID=chr1,length=248956422,assembly=GRCh38>"]
    assert header_contigs(lines) == ({"chr1": 248956422}, "file:///refs/GRCh38.fa")


def test_a_grch38_file_with_only_grch37_installed_names_the_build_and_the_command(references):
    with pytest.raises(Exception) as caught:
        reference_for_header(_vcf(GRCH38_CHR20).decode().splitlines())
    message = str(caught.value)
    assert "The file's ##contig lengths are those of GRCh38, and no GRCh38 reference is installed here" in message
    assert "(installed: demo (GRCh37))" in message
    assert "python manage.py reference install ensembl-grch38 (or gencode-grch38-basic" in message
    with pytest.raises(Exception, match="##reference line names GRCh38"):
        reference_for_header(_vcf(0, "##reference=GRCh38.primary_assembly.fa\n").decode().splitlines())
    # (no lengths, no ##reference: the default, as before)
    assert reference_for_header(_vcf(0).decode().splitlines()).name == "demo"


@pytest.mark.slow
def test_with_both_installed_each_file_goes_to_its_build(
    references, grch38_bundle, signed_in_client, run_worker, django_capture_on_commit_callbacks
):
    os.symlink(grch38_bundle, references / "grch38-test")
    for content, expected in ((_vcf(GRCH38_CHR20), "grch38-test"), (_vcf(63_025_520), "demo")):
        with django_capture_on_commit_callbacks(execute=True):
            response = signed_in_client.post(reverse("annotate"), {"file": SimpleUploadedFile("in.vcf", content)})
        assert response.status_code == 302, response.content.decode()[:2000]
        assert Job.objects.order_by("-submitted_at").first().reference_name == expected
    assert reference_for_header(_vcf(0, "##reference=hg38\n").decode().splitlines()).name == "grch38-test"
    run_worker()
    run_worker()
    job = Job.objects.get(reference_name="grch38-test")
    assert job.status == JobStatus.COMPLETED, job.error_message
    page = signed_in_client.get(reverse("job_detail", args=[job.id])).content.decode()
    assert 'grch38-test <span class="text-muted">(GRCh38, GENCODE (basic) 49)</span>' in page
