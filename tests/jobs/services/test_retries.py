"""A killed job is retried in seconds, and only its current attempt can complete it (issue 15, item 5)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.core.files.storage import storages
from django.core.management import call_command
from django.utils import timezone

from gas_site.models import QueuedMessage
from gas_site.queues import queues
from jobs.models import Job, JobStatus
from jobs.scratch import scratch_folder
from jobs.services import lifecycle, running
from jobs.services.housekeeping import jobs_reconcile
from tests.helpers import GOOD_VCF, run, the_job, upload

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("job_settings", "cold_store")]


# -- 5. a killed job is retried in seconds ------------------------------------------------------------
def test_the_job_queue_visibility_is_derived_from_the_stale_time():
    import gas_site.settings as live  # (the module's own values: the test fixtures override the queues)

    assert live.GAS_QUEUES["jobs"]["OPTIONS"]["visibility_timeout"] == 2 * live.GAS_JOB_STALE_SECONDS
    assert live.GAS_JOB_STALE_SECONDS == 30  # (the default: a killed job runs again within about 30 s)
    assert running.heartbeat_seconds() * 3 == live.GAS_JOB_STALE_SECONDS


def test_the_reconciler_requeues_a_stale_job_whose_message_is_gone(
    signed_in_client, django_capture_on_commit_callbacks, settings
):
    upload(signed_in_client, "ok.vcf", GOOD_VCF.encode(), django_capture_on_commit_callbacks)
    job = the_job()
    # its worker claimed it, its message was deleted (the "already running" case), then the worker died
    queues["jobs"].purge()
    Job.objects.filter(id=job.id).update(
        status=JobStatus.RUNNING, attempts=1, attempt_token="dead", worker="dead:1",
        heartbeat_at=timezone.now() - timedelta(seconds=settings.GAS_JOB_STALE_SECONDS + 1),
    )  # fmt: skip
    fresh = Job.objects.create(
        owner=job.owner, input_name="b.vcf", input_key=job.input_key, reference_name="demo",
        status=JobStatus.RUNNING, heartbeat_at=timezone.now(), attempt_token="alive",
    )  # fmt: skip
    assert jobs_reconcile() == 1
    assert Job.objects.get(id=fresh.id).status == JobStatus.RUNNING  # a live worker's job is left alone
    assert queues["jobs"].depth().visible == 1
    run("run_annotator", django_capture_on_commit_callbacks)
    job.refresh_from_db()
    assert (job.status, job.attempts) == (JobStatus.COMPLETED, 2)


def test_a_request_failing_on_its_last_delivery_is_renewed_while_its_job_can_run(
    signed_in_client, django_capture_on_commit_callbacks, monkeypatch
):
    """Issue 25, item 8: a job request that fails before its job is claimed (the database busy, say)
    is not dead-lettered while the job waits: its last delivery queues a fresh request."""
    from django.db import OperationalError

    upload(signed_in_client, "ok.vcf", GOOD_VCF.encode(), django_capture_on_commit_callbacks)
    job = the_job()
    real_claim = lifecycle.job_claim

    def busy(**kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr(running, "job_claim", busy)
    max_receives = queues["jobs"].max_receives
    for _ in range(max_receives):
        with django_capture_on_commit_callbacks(execute=True):
            call_command("run_annotator", "--once", "--wait", "0", "--retry-delay", "0")
    depth = queues["jobs"].depth()
    assert (depth.dead_letter, depth.visible) == (0, 1) and Job.objects.get(id=job.id).status == JobStatus.PENDING
    assert QueuedMessage.objects.get(queue_name=queues["jobs"].name).receive_count == 0  # (a fresh request)
    monkeypatch.setattr(running, "job_claim", real_claim)
    run("run_annotator", django_capture_on_commit_callbacks)
    assert Job.objects.get(id=job.id).status == JobStatus.COMPLETED and queues["jobs"].depth().total == 0


def test_a_late_worker_cannot_complete_or_touch_the_winners_files(signed_in_client, django_capture_on_commit_callbacks):
    upload(signed_in_client, "ok.vcf", GOOD_VCF.encode(), django_capture_on_commit_callbacks)
    job = the_job()
    late = lifecycle.job_claim(job_id=job.id, worker="late").job  # claims, then stalls
    Job.objects.filter(id=job.id).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    run("run_annotator", django_capture_on_commit_callbacks)  # the winner reclaims and completes
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED and job.attempt_token != late.attempt_token
    winner = [job.result_key, job.log_key, job.summary_key]
    with django_capture_on_commit_callbacks(execute=True), scratch_folder() as scratch:
        running._annotate(late, scratch)  # the late worker finishes its own run
    job.refresh_from_db()
    assert [job.result_key, job.log_key, job.summary_key] == winner
    assert all(storages["results"].exists(key) for key in winner)
    _, leftovers = storages["results"].listdir(f"{job.owner_id}/{job.id}/{late.attempt_token}")
    assert leftovers == []  # the late attempt dropped its own files
    assert len(mail.outbox) == 1
