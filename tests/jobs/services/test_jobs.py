"""Annotation jobs end to end on the embedded backends: upload, queue, run_annotator, pages, mail."""

from __future__ import annotations

import gzip
import time
import uuid
from datetime import timedelta

import pytest
from django.conf import settings
from django.core import mail
from django.core.files.storage import storages
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from freezegun import freeze_time

from gas_site.queues import queues
from jobs.models import Job, JobStatus
from jobs.services import lifecycle, running
from tests.helpers import GOOD_VCF, SYNTHETIC, upload

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("job_settings")]


def test_upload_queue_annotate_download_and_email(
    run_worker, signed_in_client, user, django_capture_on_commit_callbacks
):
    response = upload(
        signed_in_client, "synthetic_chr20_10k.vcf.gz", SYNTHETIC.read_bytes(), django_capture_on_commit_callbacks
    )
    job = Job.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("job_detail", args=[job.id])
    assert (job.status, job.owner, job.input_size) == (JobStatus.PENDING, user, SYNTHETIC.stat().st_size)
    assert storages["inputs"].exists(job.input_key)
    assert queues["jobs"].depth().visible == 1
    assert "Pending" in signed_in_client.get(reverse("job_list")).content.decode()

    run_worker()

    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED, job.error_message
    assert (job.records, job.alleles, job.attempts) == (10000, 10000, 1)
    assert job.consequence_counts["intron_variant"] > 1000
    assert queues["jobs"].depth().total == 0
    page = signed_in_client.get(reverse("job_detail", args=[job.id])).content.decode()
    assert "Completed" in page and "synthetic_chr20_10k.annot.vcf.gz" in page and "intron_variant" in page
    download = signed_in_client.get(reverse("job_download", args=[job.id, "result"]))
    body = gzip.decompress(b"".join(download.streaming_content)).decode()
    data_lines = [line for line in body.splitlines() if not line.startswith("#")]
    assert len(data_lines) == 10000 and all("CSQ=" in line for line in data_lines)
    log = signed_in_client.get(reverse("job_log", args=[job.id])).content.decode()
    assert "Total variants (records): 10000" in log
    [message] = mail.outbox
    assert message.to == [user.email]
    assert "synthetic_chr20_10k.vcf.gz" in message.subject and "is ready" in message.subject
    assert f"https://gas.example.org/annotations/{job.id}" in message.body
    # the free plan's mail says when the results move to cold storage
    job.refresh_from_db()
    cold_at = job.completed_at + timedelta(seconds=settings.GAS_FREE_RETENTION_SECONDS)
    expected = f"your results stay here until {cold_at:%-d %B %Y, %H:%M} UTC; then they move to cold storage"
    assert expected in message.body
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html" and f"https://gas.example.org/annotations/{job.id}" in html


def test_malformed_vcf_fails_the_job_with_the_engine_message(
    run_worker, signed_in_client, django_capture_on_commit_callbacks
):
    bad = GOOD_VCF + "20\tabc\t.\tA\tG\t50\tPASS\t.\n"
    upload(signed_in_client, "bad.vcf", bad.encode(), django_capture_on_commit_callbacks)
    run_worker()
    job = Job.objects.get()
    assert job.status == JobStatus.FAILED
    assert job.error_message == "bad.vcf, line 6: POS must be a whole number, found 'abc'"
    page = signed_in_client.get(reverse("job_detail", args=[job.id])).content.decode()
    assert "POS must be a whole number" in page
    assert "failed" in mail.outbox[0].subject and "POS must be a whole number" in mail.outbox[0].body
    assert queues["jobs"].depth().total == 0  # a bad file is not retried


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("notes.vcf", b"hello\n", "is not a VCF: line 1 must be ##fileformat=VCFv4.x"),
        ("data.csv", GOOD_VCF.encode(), "expected a .vcf, .vcf.gz or .bcf file"),
        (
            "hg38.vcf",
            GOOD_VCF.replace("length=63025520", "length=64444167").encode(),
            "are those of GRCh38, and no GRCh38 reference is installed here",
        ),
        ("cut.vcf.gz", gzip.compress(GOOD_VCF.encode(), mtime=0)[:30], "gzip data is damaged or truncated"),
    ],
)
def test_bad_uploads_are_refused_before_queueing(
    signed_in_client, django_capture_on_commit_callbacks, name, content, message
):
    response = upload(signed_in_client, name, content, django_capture_on_commit_callbacks)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert Job.objects.count() == 0 and queues["jobs"].depth().total == 0


def test_free_plan_size_limit_on_the_form(signed_in_client, settings, django_capture_on_commit_callbacks):
    settings.GAS_FREE_MAX_UPLOAD_BYTES = 100_000
    big = GOOD_VCF.encode() + b"20\t100\t.\tA\tG\t50\tPASS\t.\n" * 8000
    response = upload(signed_in_client, "big.vcf", big, django_capture_on_commit_callbacks)
    assert response.status_code == 413
    assert "too large" in response.content.decode() and "Upgrade to premium" in response.content.decode()
    assert Job.objects.count() == 0


def test_premium_users_get_the_larger_limit(signed_in_client, user, settings, django_capture_on_commit_callbacks):
    settings.GAS_FREE_MAX_UPLOAD_BYTES = 100_000
    from accounts.services import plan_upgrade

    plan_upgrade(user=user)
    big = GOOD_VCF.encode() + b"20\t100\t.\tA\tG\t50\tPASS\t.\n" * 8000
    response = upload(signed_in_client, "big.vcf", big, django_capture_on_commit_callbacks)
    assert response.status_code == 302 and Job.objects.count() == 1


def test_a_duplicate_message_does_not_run_the_job_twice(
    run_worker, signed_in_client, django_capture_on_commit_callbacks
):
    upload(signed_in_client, "ok.vcf", GOOD_VCF.encode(), django_capture_on_commit_callbacks)
    job = Job.objects.get()
    lifecycle.job_enqueue(job=job)  # the same request delivered twice
    run_worker()
    job.refresh_from_db()
    finished = job.completed_at
    run_worker()
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED and job.completed_at == finished and job.attempts == 1
    assert len(mail.outbox) == 1
    assert queues["jobs"].depth().total == 0
    attempts, _ = storages["results"].listdir(f"{job.owner_id}/{job.id}")
    assert attempts == [job.attempt_token]  # one attempt's files, under its own token
    _, files = storages["results"].listdir(f"{job.owner_id}/{job.id}/{job.attempt_token}")
    assert sorted(files) == ["ok.annot.vcf.gz", "ok.count.log", "ok.summary.json", "ok.variants.parquet"]


def test_a_crash_mid_job_is_retried(run_worker, signed_in_client, monkeypatch, django_capture_on_commit_callbacks):
    upload(signed_in_client, "ok.vcf", GOOD_VCF.encode(), django_capture_on_commit_callbacks)
    real = running.annotate_vcf
    calls = []

    def crash_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("worker lost its disk")
        return real(*args, **kwargs)

    monkeypatch.setattr(running, "annotate_vcf", crash_once)
    with freeze_time(timezone.now()) as clock:
        run_worker()
        job = Job.objects.get()
        assert (job.status, job.attempts) == (JobStatus.PENDING, 1)
        assert queues["jobs"].depth().in_flight == 1  # left for redelivery
        clock.tick(11)
        run_worker()
    job.refresh_from_db()
    assert (job.status, job.attempts, len(calls)) == (JobStatus.COMPLETED, 2, 2)


def test_a_job_stuck_past_the_annotators_deadline_is_released_and_the_next_request_taken(
    run_worker, signed_in_client, monkeypatch, django_capture_on_commit_callbacks
):
    """Issue 27: a worker kind's deadline (max_consume_seconds) interrupts a stuck job: it goes back to
    PENDING for its next attempt, its request is retried after the back-off, and the worker goes on."""
    from jobs.management.commands import run_annotator

    upload(signed_in_client, "stuck.vcf", GOOD_VCF.encode(), django_capture_on_commit_callbacks)
    upload(signed_in_client, "next.vcf", GOOD_VCF.encode(), django_capture_on_commit_callbacks)
    real = running.annotate_vcf

    def stuck_on_the_first(*args, **kwargs):
        if kwargs.get("input_name") == "stuck.vcf":
            time.sleep(60)  # (interrupted by the deadline)
        return real(*args, **kwargs)

    monkeypatch.setattr(running, "annotate_vcf", stuck_on_the_first)
    monkeypatch.setattr(run_annotator.Command, "max_consume_seconds", 1.0)
    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("run_annotator", "--once", "--wait", "0", "--retry-delay", "60")
    assert time.monotonic() - started < 30
    stuck = Job.objects.get(input_name="stuck.vcf")
    assert (stuck.status, stuck.attempts) == (JobStatus.PENDING, 1)  # released for its next attempt
    with django_capture_on_commit_callbacks(execute=True):
        call_command("run_annotator", "--once", "--wait", "0")
    assert Job.objects.get(input_name="next.vcf").status == JobStatus.COMPLETED  # the next request was taken
    depth = queues["jobs"].depth()
    assert (depth.in_flight, depth.visible, depth.dead_letter) == (1, 0, 0)  # the stuck one waits out its back-off


def test_a_job_whose_worker_died_is_reclaimed_after_it_went_silent(
    run_worker, signed_in_client, django_capture_on_commit_callbacks, settings
):
    upload(signed_in_client, "ok.vcf", GOOD_VCF.encode(), django_capture_on_commit_callbacks)
    job = Job.objects.get()
    # a worker claimed it, then was killed: RUNNING, heartbeat from long ago, message back on the queue
    Job.objects.filter(id=job.id).update(
        status=JobStatus.RUNNING, attempts=1, heartbeat_at=timezone.now() - timedelta(seconds=600), worker="dead:1"
    )
    run_worker()
    job.refresh_from_db()
    assert (job.status, job.attempts) == (JobStatus.COMPLETED, 2)


def test_a_running_job_with_a_live_worker_is_not_taken(signed_in_client, django_capture_on_commit_callbacks):
    upload(signed_in_client, "ok.vcf", GOOD_VCF.encode(), django_capture_on_commit_callbacks)
    job = Job.objects.get()
    Job.objects.filter(id=job.id).update(status=JobStatus.RUNNING, attempts=1, heartbeat_at=timezone.now())
    outcome = lifecycle.job_claim(job_id=job.id, worker="second")
    assert outcome.job is None and outcome.reason == "already running"


def test_the_last_attempt_fails_the_job_with_a_reason(
    run_worker, signed_in_client, monkeypatch, settings, django_capture_on_commit_callbacks
):
    settings.GAS_JOB_MAX_ATTEMPTS = 1
    upload(signed_in_client, "ok.vcf", GOOD_VCF.encode(), django_capture_on_commit_callbacks)

    def crash(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(running, "annotate_vcf", crash)
    run_worker()
    job = Job.objects.get()
    assert job.status == JobStatus.FAILED and "internal error" in job.error_message


def test_other_users_jobs_are_404_everywhere(run_worker, client, user, other_user, django_capture_on_commit_callbacks):
    client.force_login(user)
    upload(client, "ok.vcf", GOOD_VCF.encode(), django_capture_on_commit_callbacks)
    run_worker()
    job = Job.objects.get()
    client = Client()  # a different browser, signed in as someone else
    client.force_login(other_user)
    for url in (
        reverse("job_detail", args=[job.id]),
        reverse("job_log", args=[job.id]),
        reverse("job_download", args=[job.id, "result"]),
        reverse("job_download", args=[job.id, "log"]),
    ):
        assert client.get(url).status_code == 404, url
    assert client.post(reverse("job_delete", args=[job.id])).status_code == 404
    assert "ok.vcf" not in client.get(reverse("job_list")).content.decode()
    assert Job.objects.filter(id=job.id).exists()
    assert client.get(reverse("job_detail", args=[uuid.uuid4()])).status_code == 404


def test_deleting_a_job_deletes_its_files(run_worker, signed_in_client, django_capture_on_commit_callbacks):
    upload(signed_in_client, "ok.vcf", GOOD_VCF.encode(), django_capture_on_commit_callbacks)
    run_worker()
    job = Job.objects.get()
    keys = [(storages["inputs"], job.input_key)] + [
        (storages["results"], key) for key in (job.result_key, job.log_key, job.summary_key, job.table_key)
    ]
    assert all(storage.exists(key) for storage, key in keys)
    response = signed_in_client.post(reverse("job_delete", args=[job.id]))
    assert response.status_code == 302
    assert not Job.objects.exists()
    assert not any(storage.exists(key) for storage, key in keys)


def test_a_pending_job_cannot_be_deleted(signed_in_client, django_capture_on_commit_callbacks):
    upload(signed_in_client, "ok.vcf", GOOD_VCF.encode(), django_capture_on_commit_callbacks)
    job = Job.objects.get()
    signed_in_client.post(reverse("job_delete", args=[job.id]))
    assert Job.objects.filter(id=job.id).exists()


def test_list_refreshes_while_jobs_are_active_and_paginates(signed_in_client, user):
    for n in range(25):
        Job.objects.create(owner=user, input_name=f"f{n}.vcf", input_key="x", reference_name="demo",
                           status=JobStatus.COMPLETED)  # fmt: skip
    page = signed_in_client.get(reverse("job_list")).content.decode()
    assert "data-live-url" not in page and "Page 1 of 2" in page
    Job.objects.create(owner=user, input_name="new.vcf", input_key="x", reference_name="demo")
    page = signed_in_client.get(reverse("job_list")).content.decode()
    assert "data-live-url" in page and "js/live.js" in page and 'http-equiv="refresh"' not in page


def test_an_upload_spooled_to_disk_is_stored_intact(signed_in_client, django_capture_on_commit_callbacks, settings):
    """Above FILE_UPLOAD_MAX_MEMORY_SIZE Django spools the upload to a temporary file; it reaches storage whole."""
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1024
    response = upload(signed_in_client, "s.vcf.gz", SYNTHETIC.read_bytes(), django_capture_on_commit_callbacks)
    assert response.status_code == 302
    job = Job.objects.get()
    with storages["inputs"].open(job.input_key, "rb") as handle:
        assert handle.read() == SYNTHETIC.read_bytes()


def test_whole_flow_on_s3_and_sqs(run_worker, signed_in_client, settings, django_capture_on_commit_callbacks):
    """The same flow with the AWS backends (moto): S3 storages, SQS queue, signed download URL."""
    from urllib.parse import parse_qs, urlparse

    import boto3
    from moto import mock_aws

    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        for bucket in ("gas-test-inputs", "gas-test-results"):
            s3.create_bucket(Bucket=bucket)

        def s3_storage(bucket: str) -> dict:
            return {
                "BACKEND": "storages.backends.s3.S3Storage",
                "OPTIONS": {"bucket_name": bucket, "region_name": "us-east-1", "querystring_expire": 300,
                            "signature_version": "s3v4", "file_overwrite": False},
            }  # fmt: skip

        settings.STORAGES = {**settings.STORAGES, "inputs": s3_storage("gas-test-inputs"),
                             "results": s3_storage("gas-test-results")}  # fmt: skip
        settings.GAS_QUEUES = {
            alias: {
                "BACKEND": "gas_site.queues.sqs.SQSQueue",
                "NAME": f"gas-test-{alias}",
                "OPTIONS": {"visibility_timeout": 300, "max_receives": 5, "region_name": "us-east-1",
                            "create_if_missing": True},
            }
            for alias in ("jobs", "archive", "restore", "thaw")
        }  # fmt: skip
        upload(signed_in_client, "ok.vcf", GOOD_VCF.encode(), django_capture_on_commit_callbacks)
        job = Job.objects.get()
        assert s3.head_object(Bucket="gas-test-inputs", Key=job.input_key)["ContentLength"] == len(GOOD_VCF)
        assert queues["jobs"].depth().visible == 1
        run_worker()
        job.refresh_from_db()
        assert job.status == JobStatus.COMPLETED, job.error_message
        keys = {item["Key"] for item in s3.list_objects_v2(Bucket="gas-test-results")["Contents"]}
        assert keys == {job.result_key, job.log_key, job.summary_key, job.table_key}
        response = signed_in_client.get(reverse("job_download", args=[job.id, "result"]))
        assert response.status_code == 302
        query = parse_qs(urlparse(response["Location"]).query)
        assert query["X-Amz-Expires"] == ["300"] and "X-Amz-Signature" in query
        assert "Total variants (records): 2" in signed_in_client.get(reverse("job_log", args=[job.id])).content.decode()
