"""The API's contract (issue 27): one error body ``{"code", "detail"}`` for every refusal, one page
envelope ``{count, next_cursor, items}`` for every list, both declared in the OpenAPI schema."""

from __future__ import annotations

import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client

from jobs.api import api as the_api
from jobs.models import Job, JobStatus
from tests.helpers import GOOD_VCF, api_client

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("job_settings")]
LISTS = (
    "/api/v1/jobs", "/api/v1/sources", "/api/v1/regions", "/api/v1/jobs/{job}/variants", "/api/v1/jobs/{job}/genes"
)


@pytest.fixture
def api(signed_in_client) -> Client:
    return api_client(signed_in_client)


@pytest.fixture
def finished(api, django_capture_on_commit_callbacks) -> str:
    """A completed job of the signed-in user, made through the API; its id."""
    with django_capture_on_commit_callbacks(execute=True):
        made = api.post("/api/v1/jobs", {"file": SimpleUploadedFile("ok.vcf", GOOD_VCF.encode())})
    with django_capture_on_commit_callbacks(execute=True):
        call_command("run_annotator", "--once", "--wait", "0")
    assert Job.objects.get(id=made.json()["id"]).status == JobStatus.COMPLETED
    return made.json()["id"]


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["code"] == code and isinstance(body["detail"], str) and body["detail"], body
    return body


@pytest.mark.parametrize("path", LISTS)
def test_every_list_answers_one_envelope(api, finished, path):
    body = api.get(path.format(job=finished)).json()
    assert {"count", "next_cursor", "items"} <= set(body) and isinstance(body["items"], list), body
    assert isinstance(body["count"], int) and body["count"] >= len(body["items"])


def test_a_list_is_paged_by_following_next_cursor(api, finished, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        api.post("/api/v1/jobs", {"file": SimpleUploadedFile("two.vcf", GOOD_VCF.encode())})
    first = api.get("/api/v1/jobs", {"limit": 1}).json()
    assert first["count"] == 2 and len(first["items"]) == 1 and first["next_cursor"]
    second = api.get("/api/v1/jobs", {"limit": 1, "cursor": first["next_cursor"]}).json()
    assert second["next_cursor"] is None and second["items"][0]["id"] != first["items"][0]["id"]
    variants = api.get(f"/api/v1/jobs/{finished}/variants", {"limit": 1}).json()
    following = api.get(f"/api/v1/jobs/{finished}/variants", {"limit": 1, "cursor": variants["next_cursor"]}).json()
    assert variants["items"] != following["items"] and following["next_cursor"] is None
    assert variants["variants"] == variants["items"]  # (the former key, kept for one release)


@pytest.mark.parametrize("path, params, code", [
    ("/api/v1/jobs", {"offset": "-1"}, "invalid_parameter"),
    ("/api/v1/jobs", {"limit": "0"}, "invalid_parameter"),
    ("/api/v1/jobs", {"limit": "ten"}, "invalid_parameter"),
    ("/api/v1/jobs", {"cursor": "not-a-cursor"}, "invalid_cursor"),
    ("/api/v1/jobs", {"cursor": "99999999999999999999"}, "invalid_cursor"),
    ("/api/v1/jobs/{job}/variants", {"cursor": "x1"}, "invalid_cursor"),
    ("/api/v1/jobs/{job}/variants", {"cursor": "a" + "9" * 25 + ".0"}, "invalid_cursor"),
    ("/api/v1/jobs/{job}/variants", {"limit": "1001"}, "invalid_parameter"),
    ("/api/v1/jobs/{job}/variants", {"consequence": "bogus_variant"}, "invalid_filter"),
    ("/api/v1/jobs/{job}/variants", {"region": "20:9-1"}, "invalid_filter"),
    ("/api/v1/jobs/{job}/genes", {"cursor": "-3"}, "invalid_cursor"),
    ("/api/v1/jobs/{job}/genes", {"impact": "SEVERE"}, "invalid_filter"),
    ("/api/v1/jobs/{job}/export/xlsx", {}, "invalid_filter"),
])  # fmt: skip
def test_a_bad_bound_cursor_or_filter_is_a_400_with_a_code(api, finished, path, params, code):
    assert_error(api.get(path.format(job=finished), params), 400, code)


def test_each_kind_of_refusal_has_its_code_and_status(
    api, finished, other_user, settings, django_capture_on_commit_callbacks
):
    theirs = Job.objects.create(owner=other_user, input_name="x.vcf", input_key="x", reference_name="demo")
    assert_error(api.get(f"/api/v1/jobs/{theirs.id}"), 404, "not_found")
    assert_error(api.get(f"/api/v1/jobs/{uuid.uuid4()}/variants"), 404, "not_found")
    assert_error(api.delete("/api/v1/regions/987654"), 404, "not_found")
    assert_error(Client().get("/api/v1/jobs"), 401, "unauthorized")
    invalid = assert_error(api.get("/api/v1/jobs/not-a-uuid"), 422, "invalid_request")
    assert invalid["errors"] and invalid["errors"][0]["loc"]  # (what pydantic found, where)
    with django_capture_on_commit_callbacks(execute=True):
        pending = api.post("/api/v1/jobs", {"file": SimpleUploadedFile("p.vcf", GOOD_VCF.encode())}).json()["id"]
    assert_error(api.delete(f"/api/v1/jobs/{pending}"), 409, "job_not_finished")
    assert_error(api.post("/api/v1/jobs", {"file": SimpleUploadedFile("n.vcf", b"hello\n")}), 400, "invalid_upload")
    settings.GAS_FREE_MAX_UPLOAD_BYTES = 100
    assert_error(api.post("/api/v1/jobs", {"file": SimpleUploadedFile("b.vcf", GOOD_VCF.encode())}), 413, "too_large")
    bed = SimpleUploadedFile("r.bed", b"20\t5\n")
    assert_error(api.post("/api/v1/regions", {"file": bed}), 400, "invalid_source")


def test_every_route_declares_the_error_body_and_walks_to_it():
    """Each operation of the schema declares its errors as ErrorOut ({code, detail}); each one, called
    without a token (or, for a job's routes, on a job that is not the caller's), answers that body."""
    schema = the_api.get_openapi_schema()
    error_out = schema["components"]["schemas"]["ErrorOut"]
    assert set(error_out["required"]) == {"code", "detail"}
    operations = [(path, method, op) for path, item in schema["paths"].items() for method, op in item.items()]
    assert len(operations) >= 14
    for path, method, operation in operations:
        declared = {status: answer for status, answer in operation["responses"].items() if str(status).startswith("4")}
        assert declared, f"{method} {path} declares no error"
        for status, answer in declared.items():
            assert answer["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorOut"), (path, status)
        url = path.replace("{job_id}", str(uuid.uuid4())).replace("{fmt}", "tsv").replace("{region_set_id}", "1")
        assert_error(getattr(Client(), method)(url), 401, "unauthorized")
    for path in (list_path.replace("{job}", "{job_id}") for list_path in LISTS):
        ok = schema["paths"][path]["get"]["responses"][200]["content"]["application/json"]["schema"]["$ref"]
        page = schema["components"]["schemas"][ok.rsplit("/", 1)[-1]]
        assert {"count", "next_cursor", "items"} <= set(page["required"]), path


def test_the_filters_are_the_declared_parameters(api, finished):
    """The variant filters are declared in the schema (``class`` included) and those are what is applied:
    a list as commas or as the parameter repeated."""
    schema = the_api.get_openapi_schema()
    declared = {p["name"] for p in schema["paths"]["/api/v1/jobs/{job_id}/variants"]["get"]["parameters"]}
    assert {"consequence", "impact", "gene", "region", "class", "dbsnp", "q", "sort", "limit", "cursor"} <= declared
    url = f"/api/v1/jobs/{finished}/variants"
    every = api.get(url).json()["items"]
    terms = sorted({variant["consequence"] for variant in every})
    assert len(terms) == 2  # (GOOD_VCF: two records, two most severe terms)
    assert api.get(url, {"consequence": terms[0]}).json()["count"] == 1
    assert api.get(url, {"consequence": terms}).json()["count"] == 2  # (repeated)
    assert api.get(url, {"consequence": ",".join(terms)}).json()["count"] == 2  # (commas)
    assert api.get(url, {"class": "SNV"}).json()["count"] == 2
    assert api.get(url, {"class": "deletion"}).json()["count"] == 0
    assert_error(api.get(url, {"class": "tandem"}), 400, "invalid_filter")


def test_a_bug_is_a_500_in_json_without_internals(api, finished, monkeypatch):
    from jobs.results import summary as job_summary

    def broken(**kwargs):
        raise RuntimeError("/srv/gas/secret/path exploded")

    monkeypatch.setattr(job_summary, "job_summary", broken)
    body = assert_error(api.get(f"/api/v1/jobs/{finished}/summary"), 500, "internal_error")
    assert "/srv" not in body["detail"] and "exploded" not in body["detail"]
