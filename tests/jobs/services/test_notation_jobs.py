"""Variants pasted on the upload page, sent as ``text=`` to the API, or uploaded as a .txt file of
notations: checked line by line before a job is queued, resolved on the annotator, annotated; the
lines that cannot be placed become the job's warnings (issue 28)."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from jobs.models import JobStatus
from jobs.results.filters import parse_filter
from jobs.results.tables import table_for
from jobs.services.notation_inputs import pasted_upload
from jobs.services.uploads import UploadRejected
from tests.helpers import api_client, run, the_job

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("job_settings", "cold_store")]

PASTED = "20:g.36030940G>A\nNC_000020.10:36030939:G:A\nrs147063585\n\nNM_000059.4:c.5946del\n20:36030940-36030940/T\n"


def test_pasted_variants_become_a_job_with_their_notations_as_ids(signed_in_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in_client.post(reverse("annotate"), {"variants": PASTED})
    job = the_job()
    assert response.status_code == 302 and job.input_name == "pasted_variants.txt"
    run("run_annotator", django_capture_on_commit_callbacks)
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED, job.error_message
    assert job.records == 4 and job.result_key.endswith("pasted_variants.annot.vcf.gz")
    assert job.warnings == [
        "1 of 5 notations could not be resolved and are not in the results: line 5: NM_000059.4:c.5946del: "
        "unknown transcript or gene NM_000059.4 (not in reference demo)"
    ]
    rows = table_for(job).page(parse_filter({}))
    assert [(row["pos"], row["id"]) for row in rows] == [
        (63426, "rs147063585"), (36030940, "20:g.36030940G>A"), (36030940, "NC_000020.10:36030939:G:A"),
        (36030940, "20:36030940-36030940/T"),
    ]  # fmt: skip
    page = signed_in_client.get(reverse("job_detail", args=[job.id])).content.decode()
    assert "could not be resolved" in page and "NM_000059.4:c.5946del" in page


def test_a_line_that_is_no_notation_is_refused_before_queueing(signed_in_client):
    response = signed_in_client.post(reverse("annotate"), {"variants": "20:g.36030940G>A\n\nchr20 100 A G\n"})
    assert response.status_code == 400 and the_job() is None
    assert (
        "pasted_variants.txt, line 3: &#x27;chr20 100 A G&#x27; is not a variant notation GAS reads"
        in response.content.decode()
    )
    response = signed_in_client.post(
        reverse("annotate"), {"variants": "rs1", "file": SimpleUploadedFile("a.vcf", b"x")}
    )
    assert response.status_code == 400 and "not both" in response.content.decode()
    response = signed_in_client.post(reverse("annotate"), {"variants": "  \n"})
    assert response.status_code == 400 and "Choose a VCF file, or paste variants below." in response.content.decode()


def test_none_resolved_fails_the_job_with_the_reasons(signed_in_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        signed_in_client.post(reverse("annotate"), {"variants": "FOO-T1:c.1A>G\n20:g.1000000A>C\n"})
    run("run_annotator", django_capture_on_commit_callbacks)
    job = the_job()
    assert job.status == JobStatus.FAILED
    assert job.error_message.startswith("pasted_variants.txt: none of the 2 notations could be resolved: line 1: ")
    assert "unknown transcript or gene FOO-T1" in job.error_message


def test_the_api_takes_text_and_text_files(signed_in_client, django_capture_on_commit_callbacks):
    api = api_client(signed_in_client)
    with django_capture_on_commit_callbacks(execute=True):
        made = api.post("/api/v1/jobs", {"text": "20:g.36030940G>A\nrs147063585\n"})
    assert made.status_code == 201, made.content
    assert made.json()["input_name"] == "pasted_variants.txt"
    with django_capture_on_commit_callbacks(execute=True):
        made = api.post("/api/v1/jobs", {"file": SimpleUploadedFile("mine.txt", b"NC_000020.10:36030939:G:A\n")})
    assert made.status_code == 201 and made.json()["input_name"] == "mine.txt"
    neither = api.post("/api/v1/jobs", {"name": "x"})
    assert neither.status_code == 400 and neither.json()["code"] == "invalid_parameter"
    huge = api.post("/api/v1/jobs", {"text": "rs1\n" * 50_000})  # (the plan's limit holds for text as for files)
    assert huge.status_code == 413 and huge.json()["code"] == "too_large", huge.json()
    with pytest.raises(UploadRejected, match="1,000,004 characters pasted: up to 1,000,000 go in the box"):
        pasted_upload("rs1\n" * 250_001)
    bad = api.post("/api/v1/jobs", {"text": "not a variant"})
    assert bad.status_code == 400 and "line 1" in bad.json()["detail"]
    run("run_annotator", django_capture_on_commit_callbacks)
    run("run_annotator", django_capture_on_commit_callbacks)
    statuses = sorted(api.get("/api/v1/jobs").json()["items"], key=lambda job: job["input_name"])
    assert [(job["input_name"], job["status"], job["records"]) for job in statuses] == [
        ("mine.txt", "COMPLETED", 1), ("pasted_variants.txt", "COMPLETED", 2)
    ]  # fmt: skip


def test_the_command_line_reads_each_format(tmp_path, capsys):
    source = tmp_path / "variants.txt"
    source.write_text("SRC-T2:c.1219G>A\n20 36030940 36030940 G/A +\nSNAP25-T1:p.Met1?\n")
    call_command("annotate", str(source), "-o", str(tmp_path / "out.vcf"), "--quiet", "--reference", "demo")
    body = [line.split("\t") for line in (tmp_path / "out.vcf").read_text().splitlines() if not line.startswith("#")]
    assert [(row[1], row[2]) for row in body] == [
        ("36030940", "SRC-T2:c.1219G>A"),
        ("36030940", "20_36030940_36030940_G/A_+"),
    ]
    assert "SRC-T2:c.1219G>A|" in body[0][7]
    assert "1 of 3 notations could not be resolved" in capsys.readouterr().err
    spdi = tmp_path / "spdi.txt"
    spdi.write_text("NC_000020.10:36030939:G:A\n")
    with pytest.raises(CommandError, match=r"none of the 1 notations could be resolved: line 1: .*not written as hgvs"):
        call_command("annotate", str(spdi), "-o", str(tmp_path / "s.vcf"), "--quiet", "--format", "hgvs")
