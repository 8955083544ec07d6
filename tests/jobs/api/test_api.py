"""The JSON API: tokens from the profile page, the same checks and ownership rules as the pages."""

from __future__ import annotations

import gzip
import re
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from jobs.models import ApiToken, Job, JobStatus
from tests.helpers import GOOD_VCF, make_token

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("job_settings")]


@pytest.fixture
def token(signed_in_client) -> str:
    return make_token(signed_in_client)


@pytest.fixture
def api(token) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


def submit(api: Client, name: str, content: bytes, capture):
    with capture(execute=True):
        return api.post("/api/v1/jobs", {"file": SimpleUploadedFile(name, content)})


def test_token_is_shown_once_and_stored_hashed(signed_in_client, user):
    response = signed_in_client.post(reverse("token_create"), {"name": "laptop"}, follow=True)
    match = re.search(r'data-testid="new-token">([^<]+)<', response.content.decode())
    assert match, "the new token is shown once on the profile page"
    raw = match.group(1)
    stored = ApiToken.objects.get(user=user)
    assert raw.startswith("gas_") and stored.key_hash != raw and raw not in stored.key_hash
    assert raw not in signed_in_client.get(reverse("profile")).content.decode()


def test_submit_poll_download_delete(api, user, django_capture_on_commit_callbacks):
    response = submit(api, "ok.vcf", GOOD_VCF.encode(), django_capture_on_commit_callbacks)
    assert response.status_code == 201, response.content
    job_id = response.json()["id"]
    assert response.json()["status"] == "PENDING"
    with django_capture_on_commit_callbacks(execute=True):
        call_command("run_annotator", "--once", "--wait", "0")
    detail = api.get(f"/api/v1/jobs/{job_id}").json()
    assert detail["status"] == "COMPLETED" and detail["records"] == 2 and detail["progress"] == 1.0
    assert detail["result_url"].endswith(f"/api/v1/jobs/{job_id}/result")
    assert [job["id"] for job in api.get("/api/v1/jobs").json()["items"]] == [job_id]
    result = api.get(f"/api/v1/jobs/{job_id}/result")
    assert result.status_code == 200
    assert "CSQ=" in gzip.decompress(b"".join(result.streaming_content)).decode()
    log = api.get(f"/api/v1/jobs/{job_id}/log")
    assert b"Total variants (records): 2" in b"".join(log.streaming_content)
    assert api.delete(f"/api/v1/jobs/{job_id}").status_code == 204
    assert api.get(f"/api/v1/jobs/{job_id}").status_code == 404


def test_errors_are_json_with_proper_status(api, settings, django_capture_on_commit_callbacks):
    bad = submit(api, "notes.vcf", b"hello\n", django_capture_on_commit_callbacks)
    assert bad.status_code == 400 and "is not a VCF" in bad.json()["detail"]
    settings.GAS_FREE_MAX_UPLOAD_BYTES = 100_000
    big = GOOD_VCF.encode() + b"20\t100\t.\tA\tG\t50\tPASS\t.\n" * 8000
    too_large = submit(api, "big.vcf", big, django_capture_on_commit_callbacks)
    assert too_large.status_code == 413 and "too large" in too_large.json()["detail"]
    assert api.get(f"/api/v1/jobs/{uuid.uuid4()}").status_code == 404
    assert Job.objects.count() == 0


def test_pending_job_cannot_be_deleted(api, django_capture_on_commit_callbacks):
    job_id = submit(api, "ok.vcf", GOOD_VCF.encode(), django_capture_on_commit_callbacks).json()["id"]
    response = api.delete(f"/api/v1/jobs/{job_id}")
    assert response.status_code == 409 and "finished" in response.json()["detail"]


def test_no_or_revoked_token_is_401(signed_in_client, user):
    assert Client().get("/api/v1/jobs").status_code == 401
    assert Client(HTTP_AUTHORIZATION="Bearer gas_nope").get("/api/v1/jobs").status_code == 401
    raw = make_token(signed_in_client)
    token = ApiToken.objects.get(user=user)
    assert Client(HTTP_AUTHORIZATION=f"Bearer {raw}").get("/api/v1/jobs").status_code == 200
    signed_in_client.post(reverse("token_revoke", args=[token.id]))
    assert Client(HTTP_AUTHORIZATION=f"Bearer {raw}").get("/api/v1/jobs").status_code == 401


def test_other_users_jobs_are_404_in_the_api(api, other_user, user):
    job = Job.objects.create(owner=other_user, input_name="x.vcf", input_key="x", reference_name="demo",
                             status=JobStatus.COMPLETED, result_key="a/b", log_key="a/c")  # fmt: skip
    for path in (f"/api/v1/jobs/{job.id}", f"/api/v1/jobs/{job.id}/result", f"/api/v1/jobs/{job.id}/log"):
        assert api.get(path).status_code == 404, path
    assert api.delete(f"/api/v1/jobs/{job.id}").status_code == 404
    assert api.get("/api/v1/jobs").json()["items"] == []
    assert Job.objects.filter(id=job.id).exists()


def test_openapi_schema_is_served(client):
    schema = client.get("/api/v1/openapi.json").json()
    assert schema["info"]["title"] == "GAS API"
    assert "[Back to GAS](/)" in schema["info"]["description"]  # (the docs page links back to the site)
    assert {"/api/v1/jobs", "/api/v1/jobs/{job_id}", "/api/v1/jobs/{job_id}/result"} <= set(schema["paths"])
