"""Issue 25, item 9: the smaller gaps, each as a user or operator met it."""

from __future__ import annotations

import logging
import logging.config

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from gas_site.log_filters import ClientErrorsWithoutTraceback
from jobs.models import Job, RegionSet
from tests.helpers import GOOD_VCF, make_token

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("job_settings")]


@pytest.fixture
def api(signed_in_client):
    return Client(HTTP_AUTHORIZATION=f"Bearer {make_token(signed_in_client)}")


@pytest.mark.parametrize("query", [{"offset": "-5"}, {"offset": "99999999999999999999"}, {"limit": "-1"},
                                   {"limit": "0"}, {"limit": "201"}, {"limit": "ten"}])  # fmt: skip
def test_job_list_paging_out_of_range_is_a_400_in_json(api, query):
    response = api.get("/api/v1/jobs", query)
    assert response.status_code == 400 and response["Content-Type"].startswith("application/json")
    name = next(iter(query))
    assert response.json()["detail"].startswith(f"{name} ") and "expected a whole number" in response.json()["detail"]
    assert api.get("/api/v1/jobs", {"limit": "200", "offset": "0"}).status_code == 200


def test_regions_that_mean_nothing_are_refused(api):
    from jobs.results.filters import parse_filter
    from jobs.results.schema import TableError

    for region in ("20:1-0", "20:0-0", "20:0-100", ";;;", " ; "):
        with pytest.raises(TableError):
            parse_filter({"region": region})
    assert parse_filter({"region": "20:5-"}).regions[0].end == 0  # (start- : to the end of the chromosome)
    assert parse_filter({"region": ""}).regions == ()


def test_an_unknown_reference_name_shows_no_server_path(api, settings):
    response = api.post(
        "/api/v1/jobs", {"file": SimpleUploadedFile("x.vcf", GOOD_VCF.encode()), "reference": "../../etc/passwd"}
    )
    detail = response.json()["detail"]
    assert response.status_code == 400 and "is not installed (installed: demo)" in detail
    assert str(settings.GAS_REFERENCE_DIR) not in detail and "/" not in detail.split("'")[-1]


@pytest.mark.parametrize(("name", "expected"), [("a\x00b", "control character"), ("x" * 101, "101 characters long")])
def test_names_are_kept_whole_or_refused(api, signed_in_client, name, expected):
    job = api.post("/api/v1/jobs", {"file": SimpleUploadedFile("x.vcf", GOOD_VCF.encode()), "name": name})
    assert job.status_code == 400 and expected in job.json()["detail"] and not Job.objects.exists()
    regions = api.post("/api/v1/regions", {"file": SimpleUploadedFile("p.bed", b"20\t1\t100\n"), "name": name})
    assert regions.status_code == 400 and expected in regions.json()["detail"] and not RegionSet.objects.exists()
    kept = api.post("/api/v1/jobs", {"file": SimpleUploadedFile("x.vcf", GOOD_VCF.encode()), "name": "y" * 100})
    assert kept.status_code == 201 and kept.json()["name"] == "y" * 100
    assert "\x00" not in signed_in_client.get(reverse("profile")).content.decode()


def test_a_long_upload_name_is_answered_in_json(api):
    response = api.post("/api/v1/jobs", {"file": SimpleUploadedFile("a" * 900 + ".vcf", GOOD_VCF.encode())})
    assert response.status_code == 201 and response["Content-Type"].startswith("application/json")
    assert len(response.json()["input_name"]) < 120  # (cut, as file names are: a file system's limit)
    # (past Django's 1 KiB for a form part's headers: the form cannot be read, said in JSON)
    body = (b'--X\r\nContent-Disposition: form-data; name="file"; filename="' + b"a" * 2000 + b'.vcf"\r\n'
            b"Content-Type: application/octet-stream\r\n\r\n" + GOOD_VCF.encode() + b"\r\n--X--\r\n")  # (as curl -F)
    refused = api.generic("POST", "/api/v1/jobs", body, content_type="multipart/form-data; boundary=X")
    assert refused.status_code == 400 and refused["Content-Type"].startswith("application/json")
    assert "headers are longer than 1,024 bytes" in refused.json()["detail"]


def test_a_client_error_is_logged_without_a_traceback():
    try:
        raise PermissionError("no")
    except PermissionError:
        record = logging.LogRecord("django.request", logging.WARNING, __file__, 1, "Forbidden: %s", ("/x",),
                                   exc_info=__import__("sys").exc_info())  # fmt: skip
    record.status_code = 403
    assert ClientErrorsWithoutTraceback().filter(record) and record.exc_info is None
    record.status_code, record.exc_info = 500, (PermissionError, PermissionError("x"), None)
    assert ClientErrorsWithoutTraceback().filter(record) and record.exc_info is not None  # (a 500 keeps it)


def test_a_403_logs_one_line(capfd):
    from django.conf import settings

    from accounts.models import User
    from accounts.services import staff_grant

    staff = User.objects.create_user("staff@example.org", "a-long-staff-password-1", is_staff=True)
    staff_grant(user=staff)
    browser = Client()
    browser.force_login(staff)
    logging.config.dictConfig(settings.LOGGING)  # (the site's own handlers, as a web process has them)
    capfd.readouterr()
    refused = browser.post(reverse("admin:jobs_job_queues"), {"redrive": "jobs"})  # (superusers only)
    assert refused.status_code == 403
    err = capfd.readouterr().err
    assert "Forbidden (Permission denied): /admin/jobs/job/queues/" in err and "Traceback" not in err


def test_the_sign_up_mail_is_branded_gas(client, settings):
    from django.core.cache import cache

    cache.clear()  # (allauth's sign-up rate limit per address, counted there by the suite's earlier sign-ups)
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"
    form = {"email": "new@example.org", "password1": "A-long-password-77", "password2": "A-long-password-77"}
    response = client.post(reverse("account_signup"), form)
    assert response.status_code == 302, response.content[:500]
    assert mail.outbox and mail.outbox[-1].subject.startswith("[GAS] "), [m.subject for m in mail.outbox]
    assert "127.0.0.1" not in mail.outbox[-1].subject and "testserver" not in mail.outbox[-1].subject


def test_a_job_with_every_record_on_contigs_the_reference_lacks_fails_saying_so(
    signed_in_client, django_capture_on_commit_callbacks
):
    from django.core.management import call_command

    from jobs.models import JobStatus

    text = ("##fileformat=VCFv4.2\n##contig=<ID=22,length=51304566>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
            + "".join(f"22\t{16050000 + n * 100}\t.\tA\tG\t50\tPASS\t.\n" for n in range(30)))  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        signed_in_client.post(reverse("annotate"), {"file": SimpleUploadedFile("chr22.vcf", text.encode())})
    with django_capture_on_commit_callbacks(execute=True):
        call_command("run_annotator", "--once", "--wait", "0")
    job = Job.objects.get()
    assert job.status == JobStatus.FAILED
    assert "none of the 30 records is on a contig of reference demo (GRCh37: 20)" in job.error_message
    assert "the file's contigs are 22" in job.error_message and "manage.py reference available" in job.error_message
