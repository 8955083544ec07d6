"""A completed job that annotated less than it was given says so: on its page, in its mail, in the API (issue 10)."""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from jobs.models import JobStatus
from tests.helpers import GOOD_VCF, make_token, run, the_job, upload

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("job_settings", "cold_store")]


# -- a completed job that annotated less than it was given says so (issue 10) --------------------
def test_warnings_on_the_page_in_the_mail_and_in_the_api(signed_in_client, django_capture_on_commit_callbacks):
    from jobs.references.bundles import load_reference

    content = GOOD_VCF + (
        "1\t1000\t.\tA\tG\t50\tPASS\t.\n20\t10256079\t.\tN\tA\t50\tPASS\t.\n"
        "20\t10300000\t.\tA\t<FOO>\t50\tPASS\tSVTYPE=FOO;END=10300100\n"
    )
    victim = next(t for t in load_reference("demo").index("20").transcripts if t.transcript_id == "SNAP25-T1")
    saved, victim._exon_cdna = victim._exon_cdna, []  # an engine bug on the records that reach this transcript
    try:
        upload(signed_in_client, "w.vcf", content.encode(), django_capture_on_commit_callbacks)
        run("run_annotator", django_capture_on_commit_callbacks)
    finally:
        victim._exon_cdna = saved
    job = the_job()
    assert job.status == JobStatus.COMPLETED and len(job.warnings) == 4, job.warnings
    assert job.warnings[0].startswith("1 of 5 records could not be annotated because of an internal error")
    assert "line 7: 20:10256079 N>A: IndexError" in job.warnings[0]
    assert job.warnings[1] == (
        "1 structural ALT alleles could not be annotated and were written without CSQ (the log lists them): "
        "line 8: 20:10300000 ALT <FOO>: structural variant type not supported (DEL, DUP, INV, INS, CNV are)"
    )
    assert job.warnings[2] == (  # (the symbolic line's REF is not the genome's base; 1 of 4 on chromosome 20)
        "1 of 4 records (25.0%) have a REF allele that disagrees with the reference genome: the file is probably "
        "for another genome build than GRCh37, or its positions are shifted (the log lists examples): "
        "line 8: 20:10300000 REF A but the genome has C"
    )
    assert job.warnings[3] == (
        "1 of 5 records are on contigs the reference does not have (1) and were passed through without annotation"
    )
    page = signed_in_client.get(reverse("job_detail", args=[job.id])).content.decode()
    assert "Completed with warnings" in page and "could not be annotated" in page
    assert [m.subject for m in mail.outbox] == ["[GAS] Your annotation of w.vcf is ready, with warnings"]
    assert "contigs the reference does not have" in mail.outbox[0].body
    api = Client(HTTP_AUTHORIZATION=f"Bearer {make_token(signed_in_client)}")
    assert api.get(f"/api/v1/jobs/{job.id}").json()["warnings"] == job.warnings
