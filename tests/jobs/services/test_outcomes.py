"""Honest outcomes (issue 11, item 7): what can be known at upload is refused then, with the file
and the reason; what a completed job did not annotate is a warning on its page, in its mail and
in the API (the Scout trio on contigs the demo lacks, a file with shifted positions)."""

from __future__ import annotations

import gzip
import html
import re
from pathlib import Path

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from accounts.services import plan_upgrade
from jobs.models import Job, JobStatus
from tests.helpers import dbsnp_records, make_token, vcf

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("job_settings")]
DATA = Path(__file__).resolve().parents[2] / "data"
def post(client, capture, name: str, content: bytes):
    with capture(execute=True):
        return client.post(reverse("annotate"), {"file": SimpleUploadedFile(name, content)})


def test_a_gzip_cut_short_after_a_good_header_is_refused_at_upload(
    signed_in_client, user, django_capture_on_commit_callbacks
):
    plan_upgrade(user=user)
    whole = gzip.compress(vcf(dbsnp_records(3000)) * 20)
    refused = post(signed_in_client, django_capture_on_commit_callbacks, "cut.vcf.gz", whole[: len(whole) * 2 // 3])
    text = refused.content.decode()
    assert refused.status_code == 400 and not Job.objects.exists()
    assert "cut.vcf.gz: the gzip data is damaged or truncated after" in text and "upload the whole file again" in text


def test_a_file_whose_ref_alleles_all_disagree_with_the_genome_is_refused_at_upload(
    signed_in_client, django_capture_on_commit_callbacks
):
    complement = {"A": "T", "C": "G", "G": "C", "T": "A"}
    wrong = [(pos, complement[ref], ref) for pos, ref, _ in dbsnp_records(50)]
    refused = post(signed_in_client, django_capture_on_commit_callbacks, "other_build.vcf", vcf(wrong))
    text = refused.content.decode()
    assert refused.status_code == 400 and not Job.objects.exists()
    pos, ref, _ = wrong[0]
    assert "other_build.vcf: none of the REF alleles of its first 50 data lines agrees with GRCh37" in text
    assert f"line 3: 20:{pos} REF {ref}, the genome has {complement[ref]}" in text
    assert "another genome build, or its positions are shifted" in text


def test_shifted_positions_complete_with_a_warning_everywhere(
    run_worker, signed_in_client, django_capture_on_commit_callbacks
):
    shifted = [(pos + 1_230_000, ref, alt) for pos, ref, alt in dbsnp_records(400)]
    post(signed_in_client, django_capture_on_commit_callbacks, "shifted.vcf", vcf(shifted))
    run_worker()
    job = Job.objects.get()
    assert job.status == JobStatus.COMPLETED
    [warning] = job.warnings
    assert "of 400 records (" in warning and "have a REF allele that disagrees with the reference genome" in warning
    share = float(warning.split("(")[1].split("%")[0])
    assert 60 < share < 90  # (a random base agrees one time in four)
    assert "probably for another genome build than GRCh37, or its positions are shifted" in warning
    page = signed_in_client.get(reverse("job_detail", args=[job.id])).content.decode()
    assert "Completed with warnings" in page and "disagrees with the reference genome" in page
    assert mail.outbox[-1].subject.endswith("is ready, with warnings") and "disagrees" in mail.outbox[-1].body
    api = Client(HTTP_AUTHORIZATION=f"Bearer {make_token(signed_in_client)}")
    assert api.get(f"/api/v1/jobs/{job.id}").json()["warnings"] == [warning]


def test_the_scout_trio_says_which_records_the_reference_does_not_cover(
    run_worker, signed_in_client, user, django_capture_on_commit_callbacks
):
    plan_upgrade(user=user)  # (the trio is larger than the free plan's upload limit)
    post(
        signed_in_client,
        django_capture_on_commit_callbacks,
        "trio.vcf.gz",
        (DATA / "scout_demo_trio_GRCh37.vcf.gz").read_bytes(),
    )
    run_worker()
    job = Job.objects.get()
    assert job.status == JobStatus.COMPLETED and job.records == 680
    covered = [w for w in job.warnings if "contigs the reference does not have" in w]
    assert covered and covered[0].startswith("661 of 680 records are on contigs the reference does not have")
    assert "Completed with warnings" in signed_in_client.get(reverse("job_detail", args=[job.id])).content.decode()
    assert "661 of 680 records are on contigs" in mail.outbox[-1].body
    listed = signed_in_client.get(reverse("job_list")).content.decode()
    assert "Completed with warnings" in listed


def test_the_upload_page_says_what_the_references_cover(signed_in_client):
    page = signed_in_client.get(reverse("annotate")).content.decode()
    assert "Reference <strong>demo</strong> (GRCh37) annotates chromosome 20; records elsewhere" in page


# -- styled error pages (issue 11, item 8) ------------------------------------------------------
def test_a_missing_job_is_a_styled_404_with_the_site_header(signed_in_client):
    response = signed_in_client.get(reverse("job_detail", args=["00000000-0000-0000-0000-000000000000"]))
    page = response.content.decode()
    assert response.status_code == 404 and 'data-testid="error-page"' in page
    assert "Not found" in page and 'data-testid="nav-user"' in page  # (the header, signed in)


def test_an_upload_over_the_plan_limit_is_a_styled_413(signed_in_client, settings):
    settings.GAS_FREE_MAX_UPLOAD_BYTES = 1000
    big = SimpleUploadedFile("big.vcf", b"#" * 200_000)
    response = signed_in_client.post(reverse("annotate"), {"file": big})
    page = response.content.decode()
    assert response.status_code == 413 and 'data-testid="error-page"' in page
    assert "The file is too large" in page and "Free plan" in page
    # a way back, and the upgrade as a link (it was plain text)
    assert f'href="{reverse("annotate")}" data-testid="back-to-upload"' in page
    assert f'href="{reverse("subscribe")}" data-testid="upgrade-link"' in page


def test_a_form_without_its_csrf_token_is_a_styled_403(user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.post(reverse("token_create"), {"name": "x"})
    assert response.status_code == 403 and "The form had expired" in response.content.decode()


def test_a_server_error_is_a_styled_500(client, monkeypatch):
    from accounts import views

    def broken(request):
        raise RuntimeError("boom")

    monkeypatch.setattr(views, "render", lambda *args, **kwargs: broken(None))
    client.raise_request_exception = False
    response = client.get(reverse("home"))
    assert response.status_code == 500 and "Something went wrong on our side" in response.content.decode()


# -- polish (issue 11, item 8) ----------------------------------------------------------------------
def test_a_job_can_be_named_and_files_of_the_same_name_are_told_apart(
    signed_in_client, django_capture_on_commit_callbacks
):
    content = vcf(dbsnp_records(5))
    with django_capture_on_commit_callbacks(execute=True):
        signed_in_client.post(
            reverse("annotate"), {"file": SimpleUploadedFile("in.vcf", content), "name": "Trio, run 2"}
        )
    post(signed_in_client, django_capture_on_commit_callbacks, "in.vcf", content)
    named, plain = Job.objects.exclude(name=""), Job.objects.filter(name="")
    [named], [plain] = named, plain
    assert (named.name, named.title, plain.title) == ("Trio, run 2", "Trio, run 2", "in.vcf")
    listed = signed_in_client.get(reverse("job_list")).content.decode()
    assert "Trio, run 2" in listed and str(named.id)[:8] in listed and str(plain.id)[:8] in listed
    assert "table-responsive" in listed  # (the list scrolls sideways on a phone instead of overflowing)
    detail = signed_in_client.get(reverse("job_detail", args=[named.id])).content.decode()
    assert "<title>Trio, run 2 · GAS</title>" in detail
    assert named.submitted_at.strftime("%Y-%m-%d %H:%M UTC") in detail  # one format, with the time zone
    api = Client(HTTP_AUTHORIZATION=f"Bearer {make_token(signed_in_client)}")
    with django_capture_on_commit_callbacks(execute=True):
        made = api.post("/api/v1/jobs", {"file": SimpleUploadedFile("in.vcf", content), "name": "from a script"})
    assert made.json()["name"] == "from a script"


def test_the_job_page_follows_a_restore_live_without_reloading_itself(signed_in_client, user, other_user):
    """Issue 27: no <meta refresh>; a page with a job still moving polls a JSON view of its state, whose
    key changes when the state does (then the page is fetched anew: static/js/live.js)."""
    from archive.models import ResultArchive, ResultState

    job = Job.objects.create(owner=user, input_name="x.vcf", input_key="k", reference_name="demo",
                             status=JobStatus.COMPLETED, result_key="r")  # fmt: skip
    archive = ResultArchive.objects.create(job=job, state=ResultState.ARCHIVED)
    page = signed_in_client.get(reverse("job_detail", args=[job.id])).content.decode()
    assert "data-live-url" not in page and "js/live.js" not in page
    archive.state = ResultState.RESTORING
    archive.save()
    for name, args in (("job_detail", [job.id]), ("job_list", [])):
        page = signed_in_client.get(reverse(name, args=args)).content.decode()
        assert 'http-equiv="refresh"' not in page and "js/live.js" in page
        poll = re.search(r'data-live-url="([^"]+)" data-live-key="([^"]+)"', page)
        assert poll, name
        url, key = html.unescape(poll[1]), html.unescape(poll[2])
        answer = signed_in_client.get(url).json()
        assert answer["key"] == key == "COMPLETED:RESTORING" and answer["jobs"][0]["id"] == str(job.id)
    archive.state = ResultState.AVAILABLE
    archive.save()
    assert signed_in_client.get(url).json()["key"] != key  # (the page reloads once, showing the result back)
    outsider = Client()
    outsider.force_login(other_user)
    assert outsider.get(url).json() == {"key": "", "jobs": []}  # (someone else's job is not there)
    assert signed_in_client.get(reverse("job_statuses"), {"ids": "nonsense"}).status_code == 400


def test_a_job_can_ask_for_a_vep_pick_option(run_worker, signed_in_client, django_capture_on_commit_callbacks):
    content = vcf(dbsnp_records(20))
    with django_capture_on_commit_callbacks(execute=True):
        signed_in_client.post(reverse("annotate"), {"file": SimpleUploadedFile("in.vcf", content), "pick": "flag_pick"})
    run_worker()
    job = Job.objects.get()
    assert job.pick == "flag_pick" and job.status == JobStatus.COMPLETED
    download = signed_in_client.get(reverse("job_download", args=[job.id, "result"]))
    text = gzip.decompress(b"".join(download.streaming_content)).decode()
    assert "|FLAGS|PICK|SYMBOL_SOURCE|" in text
    at = next(line for line in text.splitlines() if "ID=CSQ" in line).split("Format: ")[1].split("|").index("PICK")
    for line in (line for line in text.splitlines() if not line.startswith("#")):
        csq = next(item for item in line.split("\t")[7].split(";") if item.startswith("CSQ="))[4:]
        assert [entry.split("|")[at] for entry in csq.split(",")].count("1") == 1  # (one per record)
    assert "--flag_pick" in signed_in_client.get(reverse("job_detail", args=[job.id])).content.decode()
    api = Client(HTTP_AUTHORIZATION=f"Bearer {make_token(signed_in_client)}")
    with django_capture_on_commit_callbacks(execute=True):
        refused = api.post("/api/v1/jobs", {"file": SimpleUploadedFile("in.vcf", content), "pick": "best"})
    assert refused.status_code == 400 and "pick 'best': expected one of flag_pick" in refused.json()["detail"]


def test_a_job_can_ask_for_vep_transcript_flags(run_worker, signed_in_client, django_capture_on_commit_callbacks):
    content = vcf(dbsnp_records(5))
    api = Client(HTTP_AUTHORIZATION=f"Bearer {make_token(signed_in_client)}")
    with django_capture_on_commit_callbacks(execute=True):
        created = api.post(
            "/api/v1/jobs", {"file": SimpleUploadedFile("in.vcf", content), "flags": "protein, canonical"}
        )
    assert created.status_code == 201 and created.json()["flags"] == ["canonical", "protein"]  # (VEP's order)
    run_worker()
    job = Job.objects.get()
    assert job.status == JobStatus.COMPLETED
    download = signed_in_client.get(reverse("job_download", args=[job.id, "result"]))
    text = gzip.decompress(b"".join(download.streaming_content)).decode()
    assert "|HGNC_ID|CANONICAL|ENSP|" in text
    assert "--canonical --protein" in signed_in_client.get(reverse("job_detail", args=[job.id])).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        refused = api.post("/api/v1/jobs", {"file": SimpleUploadedFile("in.vcf", content), "flags": "mane,all"})
    assert refused.status_code == 400 and "flag 'all': expected some of canonical, mane" in refused.json()["detail"]
