"""What keeps jobs moving and storage clean after workers die: the reconciler and the sweeps.

- ``jobs_reconcile``: a RUNNING job whose heartbeat is stale lost its worker; it goes back to
  PENDING with a new request, in one transaction (the annotators run this every few seconds); so
  do a split job's silent shards and gather (``shards.shards_reconcile``).
- ``files_sweep``: objects in the inputs and results storages that no job refers to: result
  files of a finished or deleted job that it does not name (a worker that died between storing
  its files and recording them, an attempt that lost to another) at once; inputs without a job
  once older than a grace period (an upload may be on its way to becoming a job). The files of
  an unfinished job and users' region files are never touched.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.files.storage import Storage
from django.db import transaction
from django.utils import timezone

from jobs.models import Job, JobStatus, RegionSet
from jobs.results.tables import genotypes_key
from jobs.services.lifecycle import job_enqueue
from jobs.services.shards import shards_reconcile
from jobs.storage import inputs_storage, results_storage

logger = logging.getLogger(__name__)


def jobs_reconcile(*, limit: int = 100) -> int:
    """Requeue RUNNING jobs whose worker went silent; returns how many."""
    stale = timezone.now() - timedelta(seconds=settings.GAS_JOB_STALE_SECONDS)
    requeued = 0
    for job in Job.objects.filter(status=JobStatus.RUNNING, shards=0, heartbeat_at__lt=stale)[:limit]:
        with transaction.atomic():
            if (
                Job.objects.filter(id=job.id, status=JobStatus.RUNNING, attempt_token=job.attempt_token, shards=0)
                .filter(heartbeat_at__lt=stale)
                .update(status=JobStatus.PENDING, progress=0.0, attempt_token="", worker="")
            ):
                job_enqueue(job=job)
                requeued += 1
                logger.warning(
                    "job %s: worker %s silent since %s; requeued (attempt %s)",
                    job.id, job.worker, job.heartbeat_at, job.attempts,
                )  # fmt: skip
    return requeued + shards_reconcile(limit=limit)


@dataclass
class SweepReport:
    inputs: int = 0
    results: int = 0

    def __str__(self) -> str:
        return f"{self.inputs} input(s), {self.results} result file(s)"


def _walk(storage: Storage, prefix: str = "") -> Iterator[str]:
    try:
        folders, files = storage.listdir(prefix)
    except FileNotFoundError:  # (a local storage nothing was stored in yet)
        return
    for name in files:
        yield f"{prefix}{name}"
    for folder in folders:
        yield from _walk(storage, f"{prefix}{folder}/")


def _old_enough(storage: Storage, key: str, cutoff: float) -> bool:
    try:
        return storage.get_modified_time(key).timestamp() < cutoff
    except (FileNotFoundError, OSError, NotImplementedError):
        return False


def files_sweep(*, grace_seconds: int = 3600) -> SweepReport:
    """Delete stored objects no job refers to (inputs once ``grace_seconds`` old)."""
    report = SweepReport()
    cutoff = time.time() - grace_seconds
    # listed before the database is read: a file stored after its job row refers to it is kept
    stored_inputs = list(_walk(inputs_storage()))
    stored_results = list(_walk(results_storage()))
    referenced: set[str] = set()
    running: list[str] = []
    for job in Job.objects.only(
        "id",
        "owner_id",
        "status",
        "attempt_token",
        "input_key",
        "result_key",
        "log_key",
        "summary_key",
        "table_key",
    ).iterator():
        referenced.update(k for k in (job.input_key, job.result_key, job.log_key, job.summary_key, job.table_key,
                                      genotypes_key(job.table_key)) if k)  # fmt: skip
        if job.status in (JobStatus.RUNNING, JobStatus.PENDING):
            running.append(f"{job.owner_id}/{job.id}/")  # (any attempt of an unfinished job may still store)
    referenced.update(RegionSet.objects.values_list("file_key", flat=True))  # (users' regions live there too)
    unfinished = tuple(running)
    inputs, results = inputs_storage(), results_storage()
    for key in stored_inputs:
        if key not in referenced and not key.startswith(unfinished) and _old_enough(inputs, key, cutoff):
            inputs.delete(key)
            report.inputs += 1
    for key in stored_results:
        if key not in referenced and not key.startswith(unfinished):
            results.delete(key)
            report.results += 1
    if report.inputs or report.results:
        logger.info("swept unreferenced files: %s", report)
    return report
