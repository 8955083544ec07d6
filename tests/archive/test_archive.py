"""Cold storage for free users: archive after the window, restore on upgrade, thaw back, staff actions."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.core import mail
from django.core.files.storage import storages
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils import timezone
from freezegun import freeze_time

from accounts.services import plan_cancel, plan_upgrade
from archive import services
from archive.models import ResultArchive, ResultState
from gas_site.coldstorage import cold_storage
from gas_site.queues import queues
from jobs.models import Job, JobStatus
from tests.helpers import archive_state

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("job_settings")]
RETENTION = 300
THAW = 60


@pytest.fixture(autouse=True)
def archive_settings(settings, tmp_path):
    settings.GAS_FREE_RETENTION_SECONDS = RETENTION
    settings.GAS_COLD_STORAGE = {
        "default": {
            "BACKEND": "gas_site.coldstorage.local.LocalColdStorage",
            "OPTIONS": {"location": str(tmp_path / "cold"), "thaw_seconds": THAW, "standard_thaw_seconds": 600},
        }
    }


@pytest.fixture
def commit(django_capture_on_commit_callbacks):
    """Run what is deferred to transaction commit (plan events, queue sends) as a real commit would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def hot_bytes(job: Job) -> bytes:
    job.refresh_from_db()
    with storages["results"].open(job.result_key, "rb") as handle:
        return handle.read()


def archive_then_restore(clock, job: Job, user, drain, commit) -> None:
    """Past the retention window the result is archived; its owner upgrades and the restore starts."""
    clock.tick(RETENTION + 1)
    drain("archive_worker")
    with commit():
        plan_upgrade(user=user)
    services.restore_process(job_id=job.id)


def test_full_cycle_on_the_local_cold_store(commit, signed_in_client, user, completed_job, drain):
    with freeze_time(timezone.now()) as clock:
        job = completed_job()
        original = hot_bytes(job)
        record = ResultArchive.objects.get(job=job)
        assert record.state == ResultState.AVAILABLE and record.archive_due_at == job.completed_at + timedelta(
            seconds=RETENTION
        )
        assert "Downloadable until" in signed_in_client.get(reverse("job_detail", args=[job.id])).content.decode()
        drain("archive_worker")
        assert archive_state(job) == ResultState.AVAILABLE  # not due: the request is still delayed
        clock.tick(RETENTION + 1)
        drain("archive_worker")
        record.refresh_from_db()
        assert record.state == ResultState.ARCHIVED and record.hot_deleted
        assert not storages["results"].exists(job.result_key)
        archive_id = record.archive_id
        assert cold_storage().stat(archive_id).sha256 == hashlib.sha256(original).hexdigest()
        response = signed_in_client.get(reverse("job_download", args=[job.id, "result"]), follow=True)
        assert "Upgrade to premium to restore them" in response.content.decode()
        assert "Total variants (records): 2" in signed_in_client.get(reverse("job_log", args=[job.id])).content.decode()

        mail.outbox.clear()
        with commit():
            signed_in_client.post(reverse("subscribe"), {"confirm": "on"})
        assert archive_state(job) == ResultState.RESTORING
        drain("restore_worker")
        record.refresh_from_db()
        assert record.restore_tier == "Expedited" and record.restore_expected_at is not None
        page = signed_in_client.get(reverse("job_detail", args=[job.id])).content.decode()
        assert "Restoring" in page and "expected by" in page
        drain("thaw_worker")  # the thaw request waits for the expected time
        assert archive_state(job) == ResultState.RESTORING
        clock.tick(THAW + 1)
        drain("thaw_worker")
        record.refresh_from_db()
        assert record.state == ResultState.AVAILABLE and record.archive_due_at is None
        assert hot_bytes(job) == original
        assert [m.subject for m in mail.outbox] == ["[GAS] Your results for ok.vcf are available again"]
        assert record.archive_id == archive_id  # the cold copy goes with the follow-up request the thaw queued
        drain("archive_worker")
        record.refresh_from_db()
        assert record.archive_id == "" and not list(cold_storage().location.glob(f"{archive_id}*"))
        download = signed_in_client.get(reverse("job_download", args=[job.id, "result"]))
        assert b"".join(download.streaming_content) == original


def test_premium_results_are_never_archived(commit, user, completed_job, drain):
    with commit():
        plan_upgrade(user=user)
    with freeze_time(timezone.now()) as clock:
        job = completed_job()
        assert ResultArchive.objects.get(job=job).archive_due_at is None
        assert queues["archive"].depth().total == 0
        clock.tick(RETENTION * 10)
        services.archive_process(job_id=job.id)
        assert archive_state(job) == ResultState.AVAILABLE and storages["results"].exists(job.result_key)


def test_upgrade_while_the_archive_request_is_pending_keeps_the_file_hot(commit, user, completed_job, drain):
    with freeze_time(timezone.now()) as clock:
        job = completed_job()
        original = hot_bytes(job)
        with commit():
            plan_upgrade(user=user)
        clock.tick(RETENTION + 1)
        drain("archive_worker")
        assert archive_state(job) == ResultState.AVAILABLE and hot_bytes(job) == original
        assert ResultArchive.objects.get(job=job).archive_due_at is None


def test_upgrade_after_copy_before_delete_then_resumed(
    commit, user, completed_job, drain, monkeypatch, django_capture_on_commit_callbacks
):
    """The archive worker is killed between the cold copy and the hot delete; the user upgrades; it resumes."""
    with freeze_time(timezone.now()) as clock:
        job = completed_job()
        original = hot_bytes(job)
        clock.tick(RETENTION + 1)

        def killed(record):
            raise SystemExit("worker killed")

        monkeypatch.setattr(services, "_delete_hot_copy", killed)
        with pytest.raises(SystemExit):
            services.archive_process(job_id=job.id)
        monkeypatch.undo()
        assert archive_state(job) == ResultState.ARCHIVED and storages["results"].exists(job.result_key)
        with django_capture_on_commit_callbacks(execute=True):
            with commit():
                plan_upgrade(user=user)
        assert archive_state(job) == ResultState.RESTORING
        assert services.archive_process(job_id=job.id) == "restoring"  # the redelivered archive message
        assert hot_bytes(job) == original
        drain("restore_worker")
        clock.tick(THAW + 1)
        drain("thaw_worker", "archive_worker")
        record = ResultArchive.objects.get(job=job)
        assert record.state == ResultState.AVAILABLE and record.archive_id == ""
        assert hot_bytes(job) == original


def test_upgrade_while_copying_cancels_and_cleans_the_cold_copy(user, completed_job, monkeypatch):
    with freeze_time(timezone.now()) as clock:
        job = completed_job()
        original = hot_bytes(job)
        clock.tick(RETENTION + 1)
        cold = cold_storage()
        real_archive = cold.archive

        def archive_then_upgrade(stream, *, key, archive_id):
            copied = real_archive(stream, key=key, archive_id=archive_id)
            plan_upgrade(user=user)  # the upgrade lands while the copy is being made ...
            services.on_plan_upgraded(user=user)  # ... and its event is handled
            return copied

        monkeypatch.setattr(cold, "archive", archive_then_upgrade)
        assert services.archive_process(job_id=job.id) == "cancelled"
        record = ResultArchive.objects.get(job=job)
        assert record.state == ResultState.AVAILABLE and record.archive_id == ""
        assert hot_bytes(job) == original
        assert [p for p in cold.location.iterdir() if not p.name.startswith(".")] == []


def test_repeated_messages_do_nothing_twice(commit, signed_in_client, user, completed_job, drain):
    with freeze_time(timezone.now()) as clock:
        job = completed_job()
        original = hot_bytes(job)
        clock.tick(RETENTION + 1)
        assert services.archive_process(job_id=job.id) == "archived"
        assert services.archive_process(job_id=job.id) == "archived"
        record = ResultArchive.objects.get(job=job)
        archive_id = record.archive_id
        with commit():
            plan_upgrade(user=user)
        assert services.restore_process(job_id=job.id) == "Expedited"
        assert services.restore_process(job_id=job.id) == "Expedited"  # the same restore, not a second one
        clock.tick(THAW + 1)
        with commit():
            assert services.thaw_process(job_id=job.id) == "restored"
        assert services.thaw_process(job_id=job.id) == "nothing to thaw"
        assert services.archive_process(job_id=job.id, delete_cold=archive_id) == "cold copy deleted"
        assert services.archive_process(job_id=job.id, delete_cold=archive_id) == "cold copy deleted"
        assert services.restore_process(job_id=job.id) == "nothing to restore"
        assert hot_bytes(job) == original
        assert ResultArchive.objects.get(job=job).restore_count == 1
        assert archive_id and not list(cold_storage().location.glob(f"{archive_id}*"))


def test_expedited_falls_back_to_standard(commit, settings, tmp_path, user, completed_job, drain):
    settings.GAS_COLD_STORAGE["default"]["OPTIONS"] = {
        "location": str(tmp_path / "cold2"), "thaw_seconds": THAW, "standard_thaw_seconds": 600,
        "expedited_available": False,
    }  # fmt: skip
    with freeze_time(timezone.now()) as clock:
        job = completed_job()
        archive_then_restore(clock, job, user, drain, commit)
        record = ResultArchive.objects.get(job=job)
        assert record.restore_tier == "Standard"
        assert record.restore_expected_at == timezone.now() + timedelta(seconds=600)


def test_unfinished_restore_is_checked_again_later(commit, user, completed_job, drain):
    with freeze_time(timezone.now()) as clock:
        job = completed_job()
        archive_then_restore(clock, job, user, drain, commit)
        queues["thaw"].purge()
        with commit():
            assert services.thaw_process(job_id=job.id, checks=0) == "not ready"
        depth = queues["thaw"].depth()
        assert depth.delayed == 1 and depth.visible == 0  # put back for later, not lost
        clock.tick(THAW + 1)
        drain("thaw_worker")
        assert archive_state(job) == ResultState.AVAILABLE


def test_downgrade_archives_again_after_a_new_window(commit, user, completed_job, drain):
    with commit():
        plan_upgrade(user=user)
    with freeze_time(timezone.now()) as clock:
        job = completed_job()
        clock.tick(10_000)
        with commit():
            plan_cancel(user=user)
        record = ResultArchive.objects.get(job=job)
        assert record.archive_due_at == timezone.now() + timedelta(seconds=RETENTION)
        drain("archive_worker")
        assert archive_state(job) == ResultState.AVAILABLE
        clock.tick(RETENTION + 1)
        drain("archive_worker")
        assert archive_state(job) == ResultState.ARCHIVED


def _archived_and_staff_signed_in(clock, client, completed_job, drain, email: str = "root@example.org"):
    """A completed job whose result went to cold storage, and a superuser signed in."""
    from accounts.models import User

    job = completed_job()
    clock.tick(RETENTION + 1)
    drain("archive_worker")
    staff = User.objects.create_superuser(email, "a-long-staff-password-1")
    client.force_login(staff)
    return job, staff


def test_staff_force_restore_for_a_free_user(commit, client, user, completed_job, drain):
    with freeze_time(timezone.now()) as clock:
        job, _ = _archived_and_staff_signed_in(clock, client, completed_job, drain)
        with commit():
            response = client.post(
                reverse("admin:jobs_job_changelist"), {"action": "force_restore", "_selected_action": [str(job.id)]}
            )
        assert response.status_code == 302
        assert archive_state(job) == ResultState.RESTORING
        drain("restore_worker")
        clock.tick(THAW + 1)
        drain("thaw_worker")
        record = ResultArchive.objects.get(job=job)
        assert record.state == ResultState.AVAILABLE
        assert record.archive_due_at == timezone.now() + timedelta(seconds=RETENTION)  # a free user: a new window
        user.refresh_from_db()
        assert not user.is_premium


def test_staff_archive_now_and_rerun(client, user, completed_job, drain, django_capture_on_commit_callbacks):
    from accounts.models import User

    job = completed_job()
    staff = User.objects.create_superuser("root@example.org", "a-long-staff-password-1")
    client.force_login(staff)
    chosen = {"action": "archive_now", "_selected_action": [str(job.id)]}
    asked = client.post(reverse("admin:jobs_job_changelist"), chosen)
    assert asked.status_code == 200 and "move to cold storage now" in asked.content.decode()  # (it asks first)
    assert archive_state(job) == ResultState.AVAILABLE
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("admin:jobs_job_changelist"), {**chosen, "post": "yes"})
    drain("archive_worker")
    assert archive_state(job) == ResultState.ARCHIVED
    Job.objects.filter(id=job.id).update(status=JobStatus.FAILED, error_message="x")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("admin:jobs_job_changelist"), {"action": "rerun", "_selected_action": [str(job.id)]})
    job.refresh_from_db()
    assert job.status == JobStatus.PENDING and queues["jobs"].depth().visible == 1
    page = client.get(reverse("admin:jobs_job_changelist") + "?result_state=ARCHIVED&q=ok.vcf").content.decode()
    assert str(job.id) in page


def test_the_staff_console_reads_well_and_records_who_did_what(
    commit, client, user, completed_job, drain, django_capture_on_commit_callbacks
):
    """The job list leads with the file, owner and states (the short id last); a job's page has no
    Save button; each staff action is in Django's admin log and the job's timeline, with the name
    of the staff member; the messages count one job as one."""
    import re

    from django.contrib.admin.models import LogEntry

    with freeze_time(timezone.now()) as clock:
        job, staff = _archived_and_staff_signed_in(clock, client, completed_job, drain, "staff@example.org")
        listing = client.get(reverse("admin:jobs_job_changelist")).content.decode()
        headers = re.findall(r'<th scope="col" class="[^"]*column-(\w+)', listing)
        assert headers == [
            "file", "owner_email", "status", "result_state", "owner_plan", "submitted_at", "duration", "records",
            "short_id",
        ]  # fmt: skip
        assert f">{str(job.id)[:8]}<" in listing
        with commit():
            response = client.post(
                reverse("admin:jobs_job_changelist"),
                {"action": "force_restore", "_selected_action": [str(job.id)]},
                follow=True,
            )
        assert "Restore started for 1 job." in response.content.decode()
        entry = LogEntry.objects.get(object_id=str(job.id))
        assert (entry.user, entry.get_change_message()) == (staff, "Forced a restore of the results")
        drain("restore_worker")
        clock.tick(THAW + 1)
        drain("thaw_worker")
        page = client.get(reverse("admin:jobs_job_change", args=[job.id])).content.decode()
    assert 'name="_save"' not in page and 'name="_continue"' not in page
    for kind, expected in (("log", b"Total variants"), ("summary", b"{"), ("result", b"\x1f\x8b")):
        link = reverse("admin:jobs_job_file", args=[job.id, kind])
        assert f'href="{link}"' in page
        response = client.get(link)
        assert response.status_code == 200 and expected in b"".join(response.streaming_content), kind
    assert f'href="{reverse("admin:accounts_user_change", args=[user.pk])}">owner {user.email}' in page
    timeline = page[page.index("timeline") :]
    for event in (
        f"submitted by {user.email}", "started (attempt 1)", "completed", "results archived to cold storage",
        "Forced a restore of the results — by staff@example.org", "results restored (restored once in all)",
    ):  # fmt: skip
        assert event in timeline, event
    Job.objects.filter(id=job.id).update(status=JobStatus.FAILED, error_message="x")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:jobs_job_changelist"), {"action": "rerun", "_selected_action": [str(job.id)]}, follow=True
        )
    assert "1 failed job queued again." in response.content.decode()


def test_staff_see_the_owners_view_and_plan_changes_on_the_timeline(
    client, user, completed_job, django_capture_on_commit_callbacks
):
    from accounts.models import User
    from accounts.services import plan_cancel

    job = completed_job()
    client.force_login(user)  # (not staff: the admin's sign-in)
    assert client.get(reverse("admin:jobs_job_owner_view", args=[job.id])).status_code == 302
    staff = User.objects.create_superuser("root@example.org", "a-long-staff-password-1")
    client.force_login(staff)
    assert client.get(reverse("job_detail", args=[job.id])).status_code == 404  # (the owner's own page stays theirs)
    preview = client.get(reverse("admin:jobs_job_owner_view", args=[job.id])).content.decode()
    assert f"the page {user.email} sees" in preview
    assert job.input_name in preview and "Delete job" not in preview and 'data-testid="staff-preview"' in preview
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("admin:accounts_user_changelist"), {"action": "upgrade", "_selected_action": [user.pk]})
        plan_cancel(user=user)
    page = client.get(reverse("admin:jobs_job_change", args=[job.id])).content.decode()
    assert f'href="{reverse("admin:jobs_job_owner_view", args=[job.id])}">the owner&#x27;s view' in page
    timeline = page[page.index("timeline") :]
    assert "owner&#x27;s plan: free → premium — by root@example.org (staff)" in timeline
    assert "owner&#x27;s plan: premium → free — by the owner" in timeline


def test_deleting_a_job_deletes_its_cold_copy(signed_in_client, completed_job, drain):
    with freeze_time(timezone.now()) as clock:
        job = completed_job()
        clock.tick(RETENTION + 1)
        drain("archive_worker")
        archive_id = ResultArchive.objects.get(job=job).archive_id
        assert list(cold_storage().location.glob(f"{archive_id}*"))
        signed_in_client.post(reverse("job_delete", args=[job.id]))
        assert not list(cold_storage().location.glob(f"{archive_id}*"))


def test_profile_shows_hot_and_cold_storage(signed_in_client, completed_job, drain):
    with freeze_time(timezone.now()) as clock:
        job = completed_job()
        completed_job()
        clock.tick(RETENTION + 1)
        services.archive_process(job_id=job.id)
        text = signed_in_client.get(reverse("profile")).content.decode()
        size = ResultArchive.objects.get(job=job).size
        assert f"in cold storage: {filesizeformat(size)}." in text
        usage = services.storage_usage(user=job.owner)
        assert usage["cold"] == size and usage["hot"] > 0


def test_full_cycle_on_s3_glacier_with_sqs_and_a_long_retention(
    commit, settings, signed_in_client, user, completed_job, drain
):
    """S3 results, S3 Glacier cold storage and SQS queues on moto; a 1 h window needs several 900 s delays."""
    import boto3
    from moto import mock_aws
    from moto.moto_api import state_manager

    settings.GAS_FREE_RETENTION_SECONDS = 3600
    with mock_aws(), freeze_time(timezone.now()) as clock:
        s3 = boto3.client("s3", region_name="us-east-1")
        for bucket in ("gas-in", "gas-out", "gas-cold"):
            s3.create_bucket(Bucket=bucket)

        def s3_storage(bucket: str) -> dict:
            return {"BACKEND": "storages.backends.s3.S3Storage",
                    "OPTIONS": {"bucket_name": bucket, "region_name": "us-east-1", "file_overwrite": False,
                                "signature_version": "s3v4"}}  # fmt: skip

        settings.STORAGES = {**settings.STORAGES, "inputs": s3_storage("gas-in"), "results": s3_storage("gas-out")}
        settings.GAS_COLD_STORAGE = {"default": {
            "BACKEND": "gas_site.coldstorage.s3glacier.S3GlacierColdStorage",
            "OPTIONS": {"bucket_name": "gas-cold", "storage_class": "GLACIER", "region_name": "us-east-1"},
        }}  # fmt: skip
        settings.GAS_QUEUES = {
            alias: {"BACKEND": "gas_site.queues.sqs.SQSQueue", "NAME": f"gas-t-{alias}",
                    "OPTIONS": {"visibility_timeout": 120, "max_receives": 5, "region_name": "us-east-1",
                                "create_if_missing": True}}
            for alias in ("jobs", "archive", "restore", "thaw")
        }  # fmt: skip
        job = completed_job()
        original = hot_bytes(job)
        for _ in range(4):  # 4 x 900 s = the hour, one delayed hop at a time
            clock.tick(901)
            drain("archive_worker")
            if archive_state(job) == ResultState.ARCHIVED:
                break
        record = ResultArchive.objects.get(job=job)
        assert record.state == ResultState.ARCHIVED
        assert s3.head_object(Bucket="gas-cold", Key=record.archive_id)["StorageClass"] == "GLACIER"
        assert "Contents" not in s3.list_objects_v2(Bucket="gas-out", Prefix=job.result_key)

        state_manager.set_transition(model_name="s3::keyrestore", transition={"progression": "manual", "times": 1})
        try:
            with commit():
                plan_upgrade(user=user)
            drain("restore_worker")
            assert ResultArchive.objects.get(job=job).restore_tier == "Expedited"
            for _ in range(4):
                clock.tick(901)
                drain("thaw_worker")
                if archive_state(job) == ResultState.AVAILABLE:
                    break
        finally:
            state_manager.unset_transition(model_name="s3::keyrestore")
        assert archive_state(job) == ResultState.AVAILABLE
        assert hot_bytes(job) == original
        drain("archive_worker")  # the follow-up the thaw queued
        assert "Contents" not in s3.list_objects_v2(Bucket="gas-cold")  # the cold copy is gone
        assert mail.outbox[-1].subject == "[GAS] Your results for ok.vcf are available again"


def test_queues_and_dead_letters_in_the_admin_redriven_by_a_superuser(client, db):
    from django.contrib.auth.models import Permission

    from accounts.models import User

    queue = queues["jobs"]
    queue.send({"job_id": "poison"})
    [message] = queue.receive()
    queue.dead_letter(message)
    staff = User.objects.create_user("staff@example.org", "a-long-staff-password-1", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_job"))
    client.force_login(staff)
    assert "Queues and dead letters" in client.get(reverse("admin:jobs_job_changelist")).content.decode()
    page = client.get(reverse("admin:jobs_job_queues")).content.decode()
    assert "<td>jobs</td>" in page and "Only superusers can redrive" in page and "Redrive 1" not in page
    assert client.post(reverse("admin:jobs_job_queues"), {"redrive": "jobs"}).status_code == 403
    assert queue.depth().dead_letter == 1

    root = User.objects.create_superuser("root@example.org", "a-long-staff-password-1")
    client.force_login(root)
    assert "Redrive 1" in client.get(reverse("admin:jobs_job_queues")).content.decode()
    response = client.post(reverse("admin:jobs_job_queues"), {"redrive": "jobs"}, follow=True)
    assert "Queue jobs: 1 message sent back." in response.content.decode()
    assert (queue.depth().dead_letter, queue.depth().visible) == (0, 1)


def test_a_sweep_while_the_thaw_builds_the_table_keeps_it(commit, client, user, completed_job, drain, monkeypatch):
    """The storage sweep deletes at once a result file no finished job names; the thaw records its
    table before storing it, so a sweep right after the store (the chaos suite's race) keeps it."""
    from archive import services as archive_services
    from jobs.services.housekeeping import files_sweep

    stored = archive_services.table_store

    def store_then_sweep(*, job):
        key = stored(job=job)
        files_sweep(grace_seconds=0)  # (a worker's sweep between the store and the thaw's commit)
        return key

    monkeypatch.setattr(archive_services, "table_store", store_then_sweep)
    with freeze_time(timezone.now()) as clock:
        job = completed_job()
        clock.tick(RETENTION + 1)
        drain("archive_worker")
        job.refresh_from_db()
        assert job.table_key == ""  # (let go with the hot copy)
        with commit():
            archive_services.restore_request(job=job)
        drain("restore_worker")
        clock.tick(THAW + 1)
        drain("thaw_worker")
    job.refresh_from_db()
    assert archive_state(job) == ResultState.AVAILABLE and job.table_key
    assert storages["results"].exists(job.table_key)
