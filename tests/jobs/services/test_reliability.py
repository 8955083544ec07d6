"""Nothing lost, nothing stuck, no worker down (issue 15, items 1-8): each defect found by trying.

Every test here failed on the code before the fix it covers.
"""

from __future__ import annotations

import gzip
import io
import os
import re
import signal
import subprocess
import sys
import time
import uuid
import zlib
from datetime import timedelta
from pathlib import Path

import pytest
from django.core import mail
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db.models import JSONField, Value
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from freezegun import freeze_time

from accounts.services import plan_upgrade
from archive import services as archive_services
from archive.models import ResultArchive, ResultState
from gas_site import outbox
from gas_site.coldstorage import cold_storage
from gas_site.models import OutboxEntry, QueuedMessage
from gas_site.queues import queues
from jobs.annotation.engine import JobLimits, annotate_vcf
from jobs.annotation.errors import InputFormatError, LimitExceeded
from jobs.annotation.vcf import MAX_LINE_BYTES
from jobs.models import Job, JobStatus
from jobs.scratch import SCRATCH_PREFIX, scratch_folder, scratch_sweep
from jobs.services import lifecycle, running, uploads
from jobs.services.housekeeping import files_sweep, jobs_reconcile
from tests.conftest import local_cold_store
from tests.helpers import GOOD_VCF, make_token, upload

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("job_settings")]
ROOT = Path(__file__).resolve().parents[3]
HEADER = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"


@pytest.fixture(autouse=True)
def reliability_settings(settings, tmp_path):
    local_cold_store(settings, tmp_path / "cold", thaw_seconds=0)


def sqs_queues(prefix: str) -> dict:
    """The four queues on (mocked) SQS, created on first use."""
    options = {"visibility_timeout": 30, "max_receives": 5, "region_name": "us-east-1", "create_if_missing": True}
    return {
        alias: {"BACKEND": "gas_site.queues.sqs.SQSQueue", "NAME": f"{prefix}-{alias}", "OPTIONS": options}
        for alias in ("jobs", "archive", "restore", "thaw")
    }


def run(command: str, capture) -> None:
    with capture(execute=True):
        call_command(command, "--once", "--wait", "0", "--retry-delay", "1")


def the_job() -> Job:
    return Job.objects.order_by("-submitted_at").first()


# -- 1. long file names -----------------------------------------------------------------------
def test_a_300_character_file_name_is_cut_and_the_job_completes(signed_in_client, django_capture_on_commit_callbacks):
    name = "x" * 300 + ".vcf"
    response = upload(signed_in_client, name, GOOD_VCF.encode(), django_capture_on_commit_callbacks)
    assert response.status_code == 302
    job = the_job()
    assert job.input_name == "x" * uploads.MAX_NAME_STEM + ".vcf"
    run("run_annotator", django_capture_on_commit_callbacks)
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED, job.error_message
    assert job.result_name == "x" * uploads.MAX_NAME_STEM + ".annot.vcf.gz"


@pytest.mark.parametrize(
    "raw, safe",
    [
        ("../../etc/passwd.vcf", "passwd.vcf"),
        ("a b.vcf.gz", "a_b.vcf.gz"),
        ("." * 300, "input"),
        ("y" * 400 + ".VCF.GZ", "y" * 100 + ".VCF.GZ"),
        (None, "input"),
    ],
)
def test_safe_input_names(raw, safe):
    assert uploads.safe_input_name(raw) == safe


def test_an_output_path_that_cannot_be_created_is_an_error_not_a_crash(tmp_path, demo_reference_dir):
    source = tmp_path / "x.vcf"
    source.write_text(HEADER + "20\t71381\t.\tA\tT\t.\t.\t.\n")
    for output in ("/nonexistent/x.vcf.gz", str(tmp_path / ("a" * 300 + ".vcf.gz"))):
        done = subprocess.run(
            [sys.executable, "manage.py", "annotate", str(source), "-o", output, "--quiet"],
            cwd=ROOT, capture_output=True, text=True, timeout=120,
            env={**os.environ, "GAS_REFERENCE_DIR": str(demo_reference_dir), "GAS_DATA_DIR": str(tmp_path)},
        )  # fmt: skip
        assert done.returncode == 1, (done.returncode, done.stderr)  # (it was 139: pysam segfaulted)
        assert "CommandError" in done.stderr and ("does not exist" in done.stderr or "cannot write" in done.stderr)


# -- 2. poison messages ------------------------------------------------------------------------
@pytest.mark.parametrize("body", [42, None, "job", ["job_id"], True, 1.5, {"job_id": 7}, {"job_id": {"x": 1}}])
def test_a_poison_body_of_any_json_type_is_dead_lettered_at_once(body, django_capture_on_commit_callbacks):
    now = timezone.now()
    queue = queues["jobs"]
    stored = Value(None, JSONField()) if body is None else body  # (JSON null, not SQL NULL)
    QueuedMessage.objects.create(queue_name=queue.name, body=stored, sent_at=now, visible_at=now)
    run("run_annotator", django_capture_on_commit_callbacks)
    depth = queue.depth()
    assert (depth.total, depth.dead_letter) == (0, 1)
    assert QueuedMessage.objects.get(queue_name=queue.dead_letter_name).receive_count == 1


def test_a_poison_message_does_not_end_the_worker_loop(django_capture_on_commit_callbacks, signed_in_client):
    from jobs.management.commands.run_annotator import Command

    now = timezone.now()
    for body in (Value(None, JSONField()), 3, "x"):
        QueuedMessage.objects.create(queue_name=queues["jobs"].name, body=body, sent_at=now, visible_at=now)
    upload(signed_in_client, "ok.vcf", GOOD_VCF.encode(), django_capture_on_commit_callbacks)
    worker = Command()
    worker.queue, worker.wait_seconds, worker.retry_delay = queues["jobs"], 0, 1
    worker.stopping, worker._idle, worker._next_housekeeping = False, False, 0.0
    with django_capture_on_commit_callbacks(execute=True):
        while worker.process_one():
            pass
    assert the_job().status == JobStatus.COMPLETED
    assert queues["jobs"].depth().dead_letter == 3


def test_an_sqs_body_that_is_not_json_is_dead_lettered_at_once(settings, django_capture_on_commit_callbacks):
    import boto3
    from moto import mock_aws

    with mock_aws():
        settings.GAS_QUEUES = sqs_queues("poison")
        queue = queues["jobs"]
        queue.depth()  # (creates the queues)
        sqs = boto3.client("sqs", region_name="us-east-1")
        for raw in ("not json {", "17", "null", '"a string"'):
            sqs.send_message(QueueUrl=sqs.get_queue_url(QueueName=queue.name)["QueueUrl"], MessageBody=raw)
        for _ in range(4):
            run("run_annotator", django_capture_on_commit_callbacks)
        depth = queue.depth()
        assert (depth.visible + depth.in_flight, depth.dead_letter) == (0, 4)


# -- 3. unbounded lines ------------------------------------------------------------------------
class EndlessLine(io.RawIOBase):
    """A header line that never ends: counts what is read of it."""

    def __init__(self) -> None:
        self.served = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self.served == 0:
            start = b"##fileformat=VCFv4.2\n##x="
            buffer[: len(start)] = start
            self.served += len(start)
            return len(start)
        buffer[:] = b"A" * len(buffer)
        self.served += len(buffer)
        return len(buffer)

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        return 0


def test_the_upload_check_reads_a_bounded_amount_of_an_endless_line(demo_reference_dir):
    from jobs.references.bundles import load_reference

    stream = EndlessLine()
    handle = io.BufferedReader(stream)
    with pytest.raises(uploads.UploadRejected, match=r"big.vcf, line 2: the VCF header is longer than 8 MB"):
        uploads.check_vcf_header(handle, name="big.vcf", reference=load_reference("demo"))
    assert stream.served < uploads.HEADER_READ_LIMIT + 2 * io.DEFAULT_BUFFER_SIZE


def test_a_data_line_longer_than_the_cap_fails_with_its_line_number(demo_reference, tmp_path):
    source = tmp_path / "long.vcf.gz"
    with gzip.open(source, "wb", compresslevel=1) as handle:
        handle.write((HEADER + "20\t71381\t.\tA\tT\t.\t.\t.\n").encode())
        handle.write(b"20\t71382\t.\tA\tT\t.\t.\t")
        block = b"A" * (1 << 20)
        for _ in range(MAX_LINE_BYTES // len(block) + 2):
            handle.write(block)
        handle.write(b"\n")
    with pytest.raises(LimitExceeded, match=r"long.vcf.gz, line 4: the line is longer than 64 MB"):
        annotate_vcf(source, tmp_path / "out.vcf", demo_reference)
    assert not (tmp_path / "out.vcf").exists()


def test_a_long_line_under_the_cap_is_read_whole(demo_reference, tmp_path):
    info = "X=" + "A" * 300_000  # five times the read block
    source = tmp_path / "wide.vcf"
    source.write_text(HEADER + f"20\t71381\t.\tA\tT\t.\t.\t{info}\n20\t71382\t.\tA\tT\t.\t.\t.\n")
    result = annotate_vcf(source, tmp_path / "out.vcf", demo_reference)
    lines = [line for line in result.output.read_text().splitlines() if not line.startswith("#")]
    assert len(lines) == 2 and lines[0].split("\t")[7].startswith(info + ";CSQ=")


# -- 4. limits per job: bytes, records, time; a gzip bomb ----------------------------------------
def bomb(path: Path, *, inflated_gib: float, header: str = HEADER) -> Path:
    """A gzip file of ``inflated_gib`` GiB of zeros after a VCF header, made of repeated members."""
    member = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = member.compress(b"\0" * (64 << 20)) + member.flush()
    with open(path, "wb") as handle:
        handle.write(gzip.compress(header.encode()))
        for _ in range(int(inflated_gib * 16)):
            handle.write(zeros)
    return path


def test_a_10_gib_gzip_bomb_fails_the_job_with_the_limit_it_hit(
    signed_in_client, user, django_capture_on_commit_callbacks, tmp_path, settings
):
    plan_upgrade(user=user)  # (premium: the upload limit takes the bomb's 10 MB)
    content = bomb(tmp_path / "bomb.vcf.gz", inflated_gib=10).read_bytes()
    assert len(content) < 12 << 20
    started = time.monotonic()
    upload(signed_in_client, "bomb.vcf.gz", content, django_capture_on_commit_callbacks)
    run("run_annotator", django_capture_on_commit_callbacks)
    job = the_job()
    assert job.status == JobStatus.FAILED
    assert job.error_message.startswith("bomb.vcf.gz, line 3: the line is longer than 64 MB")
    assert time.monotonic() - started < 120  # (a bound on a hang, not a timing claim)


def test_inflated_bytes_over_the_plan_limit_fail_the_job(
    signed_in_client, django_capture_on_commit_callbacks, settings
):
    settings.GAS_FREE_MAX_INPUT_BYTES = 100_000
    lines = "".join(f"20\t{71381 + i}\t.\tA\tT\t.\t.\t.\n" for i in range(5000))
    content = gzip.compress((HEADER + lines).encode())
    assert len(content) < settings.GAS_FREE_MAX_UPLOAD_BYTES
    refused = upload(signed_in_client, "many.vcf.gz", content, django_capture_on_commit_callbacks)  # (at upload)
    assert refused.status_code == 413 and not Job.objects.exists()
    assert "many.vcf.gz holds more than 97.7\xa0KB of VCF text once decompressed" in refused.content.decode()
    settings.GAS_UPLOAD_SCAN_BYTES = 50_000  # past the scan, the worker enforces the limit
    upload(signed_in_client, "many.vcf.gz", content, django_capture_on_commit_callbacks)
    run("run_annotator", django_capture_on_commit_callbacks)
    job = the_job()
    assert job.status == JobStatus.FAILED
    assert "larger than 100,000 bytes once decompressed, the limit for one job on the Free plan" in job.error_message


def test_records_over_the_plan_limit_fail_the_job(signed_in_client, django_capture_on_commit_callbacks, settings):
    settings.GAS_FREE_MAX_RECORDS = 1000
    lines = "".join(f"20\t{71381 + i}\t.\tA\tT\t.\t.\t.\n" for i in range(5000))
    upload(
        signed_in_client, "many.vcf.gz", gzip.compress((HEADER + lines).encode()), django_capture_on_commit_callbacks
    )
    run("run_annotator", django_capture_on_commit_callbacks)
    job = the_job()
    assert job.status == JobStatus.FAILED
    assert "more than 1,000 records, the limit for one job on the Free plan" in job.error_message


def test_the_wall_clock_limit_stops_an_annotation(demo_reference, tmp_path):
    source = tmp_path / "in.vcf"
    source.write_text(HEADER + "20\t71381\t.\tA\tT\t.\t.\t.\n")
    with pytest.raises(LimitExceeded, match=r"took longer than 0 seconds, the limit for one job on the Free plan"):
        annotate_vcf(source, tmp_path / "out.vcf", demo_reference, limits=JobLimits(max_seconds=1e-9, plan="Free"))


def test_job_limits_follow_the_plan(user, settings):
    settings.GAS_FREE_MAX_RECORDS, settings.GAS_PREMIUM_MAX_RECORDS = 10, 20
    assert lifecycle.job_limits(user).max_records == 10
    plan_upgrade(user=user)
    user.refresh_from_db()
    assert lifecycle.job_limits(user).max_records == 20 and lifecycle.job_limits(user).max_seconds > 0


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


# -- 7. leaks after kill -9 ---------------------------------------------------------------------
def test_the_scratch_folder_of_a_killed_worker_is_swept(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", (
            "import sys, time, tempfile; sys.path.insert(0, sys.argv[1]); tempfile.tempdir = sys.argv[2]\n"
            "from jobs.scratch import scratch_folder\n"
            "with scratch_folder() as f:\n    print(f, flush=True); time.sleep(60)"
        ), str(ROOT), str(tmp_path)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    held = Path(holder.stdout.readline().strip())
    try:
        (held / "input").write_bytes(b"x" * 1000)
        assert scratch_sweep(root=tmp_path) == 0 and held.exists()  # alive: kept
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
        assert held.exists()  # kill -9 left it behind
        assert scratch_sweep(root=tmp_path) == 1 and not held.exists()
    finally:
        holder.kill()
    stale = tmp_path / f"{SCRATCH_PREFIX}123-old"
    stale.mkdir()
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    assert scratch_sweep(root=tmp_path) == 1 and not stale.exists()


def test_unreferenced_files_are_swept_and_referenced_ones_kept(signed_in_client, django_capture_on_commit_callbacks):
    upload(signed_in_client, "ok.vcf", GOOD_VCF.encode(), django_capture_on_commit_callbacks)
    run("run_annotator", django_capture_on_commit_callbacks)
    job = the_job()
    results, inputs = storages["results"], storages["inputs"]
    spare = results.save(f"{job.owner_id}/{job.id}/deadbeef/ok.annot.vcf.gz", ContentFile(b"spare"))
    gone_job = inputs.save(f"{job.owner_id}/{uuid.uuid4()}/lost.vcf", ContentFile(b"lost"))
    running = Job.objects.create(
        owner=job.owner, input_name="r.vcf", input_key=job.input_key, reference_name="demo",
        status=JobStatus.RUNNING, attempt_token="cafe", heartbeat_at=timezone.now(),
    )  # fmt: skip
    in_progress = results.save(f"{job.owner_id}/{running.id}/cafe/r.annot.vcf.gz", ContentFile(b"being written"))
    # young inputs wait for the grace period (an upload may be becoming a job); stray results of a
    # finished job go at once
    assert str(files_sweep(grace_seconds=3600)) == "0 input(s), 1 result file(s)"
    report = files_sweep(grace_seconds=0)
    assert (report.inputs, report.results) == (1, 0)
    assert not results.exists(spare) and not inputs.exists(gone_job)
    assert results.exists(in_progress)
    assert all(results.exists(key) for key in (job.result_key, job.log_key, job.summary_key))
    assert inputs.exists(job.input_key)


def test_housekeeping_command_runs_every_sweep(django_capture_on_commit_callbacks):
    out = io.StringIO()
    call_command("housekeeping", "--grace", "0", stdout=out)
    text = out.getvalue()
    for line in ("requeued 0 job(s)", "relayed 0 outbox", "scratch folder(s)", "unreferenced", "orphaned cold"):
        assert line in text, text


def test_cold_copies_no_record_names_are_swept(signed_in_client, django_capture_on_commit_callbacks):
    upload(signed_in_client, "ok.vcf", GOOD_VCF.encode(), django_capture_on_commit_callbacks)
    run("run_annotator", django_capture_on_commit_callbacks)
    archive_services.archive_now(job=the_job())
    run("archive_worker", django_capture_on_commit_callbacks)
    cold = cold_storage()
    kept = ResultArchive.objects.get(job=the_job()).archive_id
    orphan = cold.archive(io.BytesIO(b"orphan"), key="x/y/z").archive_id
    assert archive_services.cold_orphans_sweep() == 1
    assert list(cold.archive_ids()) == [kept] and orphan != kept


# -- 8. smaller gaps ------------------------------------------------------------------------------
def test_the_api_answers_413_between_the_limit_and_the_multipart_slack(
    signed_in_client, settings, django_capture_on_commit_callbacks
):
    token = make_token(signed_in_client)
    api = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    content = (HEADER + "#" * (settings.GAS_FREE_MAX_UPLOAD_BYTES + 1000)).encode()
    response = api.post("/api/v1/jobs", {"file": SimpleUploadedFile("big.vcf", content)})
    assert response.status_code == 413, response.content
    assert "The file is too large" in response.json()["detail"]


def test_an_empty_file_is_refused_with_400_on_the_form(signed_in_client, django_capture_on_commit_callbacks):
    response = upload(signed_in_client, "empty.vcf", b"", django_capture_on_commit_callbacks)
    assert response.status_code == 400
    assert "empty" in response.content.decode()
    assert Job.objects.count() == 0


def test_a_non_utf8_byte_is_reported_with_its_line(demo_reference, tmp_path, signed_in_client):
    from jobs.references.bundles import load_reference

    content = (HEADER + "20\t71381\t.\tA\tT\t.\t.\t.\n").encode() + b"20\t71382\t.\tA\tT\t.\t.\tX=\xff\n"
    uploads.check_vcf_header(io.BytesIO(content), name="u.vcf", reference=load_reference("demo"))  # header fine
    source = tmp_path / "u.vcf"
    source.write_bytes(content)
    with pytest.raises(InputFormatError, match=r"u.vcf, line 4: is not a text VCF"):
        annotate_vcf(source, tmp_path / "out.vcf", demo_reference)
    header = b"##fileformat=VCFv4.2\n##x=\xfe\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    with pytest.raises(uploads.UploadRejected, match=r"v.vcf, line 2: not text"):
        uploads.check_vcf_header(io.BytesIO(header), name="v.vcf", reference=load_reference("demo"))


def test_a_position_past_the_contig_end_is_named_as_such(demo_reference, tmp_path):
    source = tmp_path / "far.vcf"
    source.write_text(HEADER + "20\t71381\t.\tA\tT\t.\t.\t.\n20\t70000000\t.\tA\tT\t.\t.\t.\n")
    with pytest.raises(InputFormatError, match=r"far.vcf, line 4: 20:70000000 .* past the end of contig 20, which is"):
        annotate_vcf(source, tmp_path / "out.vcf", demo_reference)


def test_bearer_token_guesses_are_throttled_with_retry_after(signed_in_client, settings):
    settings.GAS_TOKEN_FAILURES_PER_MINUTE = 5
    token = make_token(signed_in_client)
    guesser = Client(HTTP_AUTHORIZATION="Bearer gas_wrong")
    codes = [guesser.get("/api/v1/jobs").status_code for _ in range(7)]
    assert codes[:5] == [401] * 5 and codes[5:] == [429, 429]
    limited = guesser.get("/api/v1/jobs")
    assert 1 <= int(limited["Retry-After"]) <= 60 and "Too many failed sign-ins" in limited.json()["detail"]
    # the same address with a good token is throttled too while the window lasts (guessing stops)
    assert Client(HTTP_AUTHORIZATION=f"Bearer {token}").get("/api/v1/jobs").status_code == 429


def test_api_requests_are_limited_per_user(signed_in_client, settings):
    settings.GAS_API_RATE_PER_MINUTE = 3
    api = Client(HTTP_AUTHORIZATION=f"Bearer {make_token(signed_in_client)}")
    codes = [api.get("/api/v1/jobs").status_code for _ in range(5)]
    assert codes == [200, 200, 200, 429, 429]


# -- a completed job that annotated less than it was given says so (issue 10) --------------------
def test_warnings_on_the_page_in_the_mail_and_in_the_api(signed_in_client, django_capture_on_commit_callbacks):
    from jobs.references.bundles import load_reference

    content = GOOD_VCF + (
        "1\t1000\t.\tA\tG\t50\tPASS\t.\n20\t10256079\t.\tN\tA\t50\tPASS\t.\n"
        "20\t10300000\t.\tA\tA[20:2000000[\t50\tPASS\tSVTYPE=BND\n"
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
        "line 8: 20:10300000 ALT A[20:2000000[: breakends are not annotated"
    )
    assert job.warnings[2] == (  # (the BND line's REF is not the genome's base; 1 of 4 on chromosome 20)
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
