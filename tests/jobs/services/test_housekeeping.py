"""What a worker killed with kill -9 leaves behind is swept: scratch folders, files, cold copies (issue 15, item 7)."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.core.management import call_command
from django.utils import timezone

from archive import services as archive_services
from archive.models import ResultArchive
from gas_site.coldstorage import cold_storage
from jobs.models import Job, JobStatus
from jobs.scratch import SCRATCH_PREFIX, scratch_sweep
from jobs.services.housekeeping import files_sweep
from tests.helpers import GOOD_VCF, ROOT, run, the_job, upload

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("job_settings", "cold_store")]


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
