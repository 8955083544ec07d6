"""Every follow-up of a state change is as durable as the change: written in its transaction, relayed
through the outbox, resumed after a kill (issue 15, item 6, and a race the chaos suite found)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from freezegun import freeze_time

from accounts.services import plan_upgrade
from archive import services as archive_services
from archive.models import ResultArchive, ResultState
from gas_site import outbox
from gas_site.coldstorage import cold_storage
from gas_site.models import OutboxEntry
from gas_site.queues import queues
from jobs.models import JobStatus
from tests.helpers import GOOD_VCF, run, sqs_queues, the_job, upload

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("job_settings", "cold_store")]


# -- 6. durable side effects ----------------------------------------------------------------------
def test_completion_writes_its_archive_request_and_mail_in_the_same_transaction(
    signed_in_client, django_capture_on_commit_callbacks
):
    upload(signed_in_client, "ok.vcf", GOOD_VCF.encode(), django_capture_on_commit_callbacks)
    # killed right after COMPLETED commits: on-commit work never runs
    with django_capture_on_commit_callbacks(execute=False):
        call_command("run_annotator", "--once", "--wait", "0")
    job = the_job()
    assert job.status == JobStatus.COMPLETED
    assert ResultArchive.objects.get(job=job).archive_due_at is not None
    assert queues["archive"].depth().delayed == 1  # the archive request exists
    assert mail.outbox == [] and OutboxEntry.objects.filter(kind="mail").count() == 1
    with freeze_time(timezone.now() + timedelta(seconds=outbox.RELAY_GRACE_SECONDS + 1)):
        assert outbox.relay() == 1  # any worker's housekeeping delivers it
    assert [m.subject for m in mail.outbox] == ["[GAS] Your annotation of ok.vcf is ready"]
    assert re.fullmatch(r"<[^@]+\.gas@example\.org>|<[^@]+\.gas@localhost>", mail.outbox[0].extra_headers["Message-ID"])
    assert OutboxEntry.objects.count() == 0 and outbox.relay() == 0


def test_sqs_follow_ups_go_through_the_outbox_relay(settings, signed_in_client, django_capture_on_commit_callbacks):
    from moto import mock_aws

    with mock_aws():
        settings.GAS_QUEUES = sqs_queues("outbox")
        with django_capture_on_commit_callbacks(execute=False):  # the web process dies after its commit
            signed_in_client.post(reverse("annotate"), {"file": SimpleUploadedFile("ok.vcf", GOOD_VCF.encode())})
        assert queues["jobs"].depth().visible == 0
        assert OutboxEntry.objects.filter(kind="message", queue_alias="jobs").count() == 1
        with freeze_time(timezone.now() + timedelta(seconds=outbox.RELAY_GRACE_SECONDS + 1)):
            assert outbox.relay() == 1
        assert queues["jobs"].depth().visible == 1


def test_thaw_writes_its_cold_delete_and_mail_with_the_state_change(
    signed_in_client, user, django_capture_on_commit_callbacks
):
    upload(signed_in_client, "ok.vcf", GOOD_VCF.encode(), django_capture_on_commit_callbacks)
    run("run_annotator", django_capture_on_commit_callbacks)
    job = the_job()
    assert archive_services.archive_now(job=job)
    run("archive_worker", django_capture_on_commit_callbacks)
    record = ResultArchive.objects.get(job=job)
    assert record.state == ResultState.ARCHIVED
    archive_id = record.archive_id
    plan_upgrade(user=user)
    run("restore_worker", django_capture_on_commit_callbacks)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=False):  # killed right after the thaw commits
        call_command("thaw_worker", "--once", "--wait", "0")
    assert ResultArchive.objects.get(job=job).state == ResultState.AVAILABLE
    assert OutboxEntry.objects.filter(kind="mail").count() == 1
    with freeze_time(timezone.now() + timedelta(seconds=outbox.RELAY_GRACE_SECONDS + 1)):
        outbox.relay()
    assert [m.subject for m in mail.outbox] == ["[GAS] Your results for ok.vcf are available again"]
    run("archive_worker", django_capture_on_commit_callbacks)  # the queued cold delete
    assert ResultArchive.objects.get(job=job).archive_id == ""
    assert list(cold_storage().archive_ids()) == [] and archive_id


def test_an_archive_killed_mid_copy_is_resumed_without_an_orphan(
    signed_in_client, django_capture_on_commit_callbacks, monkeypatch
):
    upload(signed_in_client, "ok.vcf", GOOD_VCF.encode(), django_capture_on_commit_callbacks)
    run("run_annotator", django_capture_on_commit_callbacks)
    job = the_job()
    cold = cold_storage()
    real = cold.archive

    def killed_after_writing(stream, *, key, archive_id):
        real(stream, key=key, archive_id=archive_id)
        raise SystemExit("killed")

    archive_services.archive_now(job=job)
    monkeypatch.setattr(cold, "archive", killed_after_writing)
    with pytest.raises(SystemExit):
        archive_services.archive_process(job_id=job.id, force=True)
    monkeypatch.undo()
    record = ResultArchive.objects.get(job=job)
    assert record.state == ResultState.ARCHIVING and list(cold.archive_ids()) == [record.archive_id]
    assert archive_services.archive_process(job_id=job.id) == "archived"
    assert list(cold.archive_ids()) == [ResultArchive.objects.get(job=job).archive_id]


def test_an_upgrade_that_rolls_back_queues_no_restore(user, signed_in_client, django_capture_on_commit_callbacks):
    from django.db import transaction

    upload(signed_in_client, "ok.vcf", GOOD_VCF.encode(), django_capture_on_commit_callbacks)
    run("run_annotator", django_capture_on_commit_callbacks)
    archive_services.archive_now(job=the_job())
    run("archive_worker", django_capture_on_commit_callbacks)
    with pytest.raises(RuntimeError), transaction.atomic():
        plan_upgrade(user=user)
        assert queues["restore"].depth().visible == 1  # written with the plan change ...
        raise RuntimeError("payment failed")
    assert queues["restore"].depth().visible == 0  # ... and undone with it
    assert ResultArchive.objects.get(job=the_job()).state == ResultState.ARCHIVED


def test_an_upgrade_racing_with_the_archive_transition_keeps_the_result_hot(
    signed_in_client, user, django_capture_on_commit_callbacks, monkeypatch, settings
):
    """Found by the chaos suite: the plan was read, the user upgraded, then AVAILABLE -> ARCHIVING
    went ahead, and a premium user's result was archived with nothing to bring it back."""
    settings.GAS_FREE_RETENTION_SECONDS = 0
    upload(signed_in_client, "ok.vcf", GOOD_VCF.encode(), django_capture_on_commit_callbacks)
    run("run_annotator", django_capture_on_commit_callbacks)
    job = the_job()
    real = archive_services._owner_is_premium_locked

    def upgrade_lands_first(job):
        plan_upgrade(user=user)  # (after the archive worker read the free plan)
        return real(job)

    monkeypatch.setattr(archive_services, "_owner_is_premium_locked", upgrade_lands_first)
    assert archive_services.archive_process(job_id=job.id) == "kept hot"
    assert ResultArchive.objects.get(job=job).state == ResultState.AVAILABLE
