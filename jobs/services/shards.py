"""A large job spread over the annotators: split, shards, gather.

- **split**: the annotator that claims a job of more than ``GAS_SHARD_RECORDS`` data lines writes
  its input as shards of that many lines (jobs.annotation.shards), stores them, and in one
  transaction records them (``JobShard``) and queues the first ``GAS_SHARDS_IN_FLIGHT`` (the rest
  follow one per finished shard, so other jobs' requests come between them);
- **shard**: any annotator claims a shard as it would a job (a conditional update with a token of
  its own, a heartbeat; a silent worker's shard is claimed again, a finished one is never run
  twice), annotates it with its line numbers in the whole file, stores its output and tables under
  its attempt's key and, in one transaction, marks it done and counts it on the job; the shard
  that makes the count whole queues the gather;
- **gather**: one annotator (a claim on the job, with a heartbeat: a silent gatherer's work is
  taken over) joins the shards' BGZF blocks without recompressing, merges their counts and
  tables, and completes the job as a whole job completes (jobs.services.completion).

Every message may come twice or late: each step checks the state it moves from.
"""

from __future__ import annotations

import logging
import secrets
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files import File
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone

from gas_site import outbox
from gas_site.faults import fault_point
from gas_site.workers import Heartbeat
from jobs.annotation.engine import AnnotationStats, annotate_vcf, write_reports
from jobs.annotation.errors import AnnotationError
from jobs.annotation.shards import has_more_lines_than, join_shards, split_vcf
from jobs.models import Job, JobShard, JobStatus, ShardStatus
from jobs.references.bundles import load_reference
from jobs.results.merge import merge_genotype_tables, merge_variant_tables
from jobs.results.tables import genotypes_key, store_genotypes, write_tables
from jobs.scratch import scratch_folder
from jobs.services.completion import (
    Outputs,
    download,
    engine_options,
    heartbeat_seconds,
    job_complete,
    nothing_annotated_message,
    output_names,
)
from jobs.services.lifecycle import attempt_prefix, job_fail, job_limits
from jobs.sources.job_specs import job_source_specs
from jobs.storage import results_storage

logger = logging.getLogger(__name__)


def shard_message(job: Job, index: int) -> None:
    outbox.send("jobs", {"job_id": str(job.id), "shard": index})


def gather_message(job: Job) -> None:
    outbox.send("jobs", {"job_id": str(job.id), "gather": True})


# -- split -------------------------------------------------------------------------------------
def job_split_if_large(*, job: Job, local_input: Path, scratch: Path) -> bool:
    """Split a claimed job's input into shards of GAS_SHARD_RECORDS data lines when it has at least one
    and a half times that many: store them, record them and queue the first; True when it did (the
    job is then its shards')."""
    size = settings.GAS_SHARD_RECORDS
    limits = job_limits(job.owner)
    name, max_bytes, label = job.input_name, limits.max_bytes, limits.label
    # (a short last shard joins the one before: fewer than one and a half shards' lines make one shard)
    least = size + size // 2
    if not size or not has_more_lines_than(local_input, least - 1, name=name, max_bytes=max_bytes, limit_label=label):
        return False
    folder = scratch / "shards"
    folder.mkdir()
    shards = split_vcf(local_input, folder, shard_lines=size, name=name, max_bytes=max_bytes, limit_label=label)
    if limits.max_records and sum(shard.lines for shard in shards) > limits.max_records:
        return False  # (annotated whole, the engine stops at the limit and says where)
    storage, prefix = results_storage(), attempt_prefix(job)
    keys = []
    for shard in shards:
        with open(shard.path, "rb") as handle:
            keys.append(storage.save(f"{prefix}/shards/{shard.path.name}", File(handle, name=shard.path.name)))
        shard.path.unlink()
    fault_point("shard.after_split")
    with transaction.atomic():
        sent = min(len(shards), settings.GAS_SHARDS_IN_FLIGHT)
        mine = Job.objects.filter(id=job.id, status=JobStatus.RUNNING, attempt_token=job.attempt_token, shards=0)
        # (attempts count the gather's from here: each shard counts its own)
        if not mine.update(shards=len(shards), shards_done=0, shards_sent=sent, attempt_token="", attempts=0,
                           heartbeat_at=timezone.now(), progress=0.0):  # fmt: skip
            for key in keys:  # (the job was taken over, failed or deleted meanwhile)
                storage.delete(key)
            return True
        JobShard.objects.bulk_create(
            JobShard(job=job, index=index, input_key=key, line_offset=shard.line_offset, lines=shard.lines)
            for index, (shard, key) in enumerate(zip(shards, keys, strict=True))
        )
        for index in range(sent):
            shard_message(job, index)
    logger.info("job %s: split into %d shards of up to %d lines", job.id, len(shards), size)
    return True


# -- one shard ---------------------------------------------------------------------------------
def shard_claim(*, job_id: uuid.UUID, index: int, worker: str) -> JobShard | None:
    """Take a shard of a running job: PENDING, or RUNNING with a silent worker (None: nothing to do)."""
    stale = timezone.now() - timedelta(seconds=settings.GAS_JOB_STALE_SECONDS)
    claim = {
        "status": ShardStatus.RUNNING, "started_at": timezone.now(), "heartbeat_at": timezone.now(),
        "worker": worker[:200], "attempts": models.F("attempts") + 1, "attempt_token": secrets.token_hex(8),
    }  # fmt: skip
    shards = JobShard.objects.filter(job_id=job_id, index=index, job__status=JobStatus.RUNNING)
    if shards.filter(status=ShardStatus.PENDING).update(**claim) or shards.filter(
        status=ShardStatus.RUNNING, heartbeat_at__lt=stale
    ).update(**claim):
        return JobShard.objects.select_related("job", "job__owner").get(job_id=job_id, index=index)
    logger.info("job %s shard %d: nothing to do (done, running or its job finished)", job_id, index)
    return None


def shard_run(*, job_id: uuid.UUID, index: int, worker: str) -> JobShard | None:
    """Claim and annotate one shard. Bad input fails the job; any other error releases the shard."""
    shard = shard_claim(job_id=job_id, index=index, worker=worker)
    if shard is None:
        return None
    job = shard.job
    if shard.attempts > settings.GAS_JOB_MAX_ATTEMPTS:
        lines = f"{shard.line_offset + 1:,}-{shard.line_offset + shard.lines:,}"
        job_fail(job=job, message=f"The annotation of data lines {lines} stopped unexpectedly {shard.attempts - 1} "
                 "times; it will not be tried again.")  # fmt: skip
        return shard
    mine = JobShard.objects.filter(id=shard.id, status=ShardStatus.RUNNING, attempt_token=shard.attempt_token)
    try:
        beat = Heartbeat(lambda: mine.update(heartbeat_at=timezone.now()), interval_seconds=heartbeat_seconds(),
                         name=f"shard-heartbeat-{job.id}-{index}")  # fmt: skip
        with beat, scratch_folder() as scratch:
            _annotate_shard(shard, scratch)
        return shard
    except AnnotationError as exc:
        job_fail(job=job, message=str(exc))
        return shard
    except Exception:
        mine.update(status=ShardStatus.PENDING)  # (the message comes back for it)
        if shard.attempts >= settings.GAS_JOB_MAX_ATTEMPTS:
            logger.exception("job %s shard %d: failed on its last attempt", job.id, index)
            job_fail(job=job, message="The annotation failed because of an internal error; please try again.")
            return shard
        raise


def _annotate_shard(shard: JobShard, scratch: Path) -> None:
    job = shard.job
    local_input = scratch / "input.vcf.gz"
    storage = results_storage()
    download(storage, shard.input_key, local_input)
    reference = load_reference(job.reference_name)
    customs, applied, source_warnings = job_source_specs(job=job, scratch=scratch, reference=reference)
    fault_point("shard.before_annotate")
    output, table = scratch / "shard.vcf.gz", scratch / "shard.variants.parquet"
    result = annotate_vcf(local_input, output, reference, customs=customs, line_offset=shard.line_offset,
                          **engine_options(job))  # fmt: skip
    genotypes = write_tables(output, table)
    stem = f"shard-{shard.index:05d}"
    keys = {}
    for kind, path, name in (("result", output, f"{stem}.vcf.gz"), ("table", table, f"{stem}.variants.parquet")):
        with open(path, "rb") as handle:
            keys[kind] = storage.save(f"{job.owner_id}/{job.id}/{shard.attempt_token}/{name}", File(handle, name=name))
    store_genotypes(table_key=keys["table"], path=genotypes)  # (beside its table, when it has samples)
    fault_point("shard.after_store")
    stats = {"parts": result.stats.as_parts(), "applied": applied, "warnings": source_warnings}
    if not _shard_done(shard, keys=keys, stats=stats, seconds=result.stats.seconds):
        for key in (*keys.values(), genotypes_key(keys["table"])):
            storage.delete(key)


def _shard_done(shard: JobShard, *, keys: dict[str, str], stats: dict[str, Any], seconds: float) -> bool:
    """Record the shard done and count it on its job, queueing the next shard or the gather, in
    one transaction; False when the attempt had lost its shard."""
    job_id = shard.job_id
    with transaction.atomic():
        mine = JobShard.objects.filter(id=shard.id, status=ShardStatus.RUNNING, attempt_token=shard.attempt_token)
        if not mine.update(status=ShardStatus.DONE, finished_at=timezone.now(), result_key=keys["result"],
                           table_key=keys["table"], stats=stats, seconds=seconds):  # fmt: skip
            return False
        job = Job.objects.select_for_update().filter(id=job_id, status=JobStatus.RUNNING, shards__gt=0).first()
        if job is None:  # (failed or deleted meanwhile: nothing to count)
            return True
        done = job.shards_done + 1
        update: dict[str, Any] = {"shards_done": done, "progress": 0.95 * done / job.shards}
        if job.shards_sent < job.shards:
            shard_message(job, job.shards_sent)
            update["shards_sent"] = job.shards_sent + 1
        if done >= job.shards:  # the last: the gather is queued (and claimable) from now
            update.update(attempt_token="", heartbeat_at=timezone.now())
            gather_message(job)
        Job.objects.filter(id=job_id).update(**update)
        fault_point("shard.before_commit")
    logger.info("job %s shard %d: done (%d of %d)", job_id, shard.index, done, job.shards)
    return True


# -- gather ------------------------------------------------------------------------------------
def gather_claim(*, job_id: uuid.UUID, worker: str) -> Job | None:
    """Take the gather of a job whose shards are all done: not yet taken, or its gatherer silent."""
    stale = timezone.now() - timedelta(seconds=settings.GAS_JOB_STALE_SECONDS)
    ready = Job.objects.filter(id=job_id, status=JobStatus.RUNNING, shards__gt=0, shards_done__gte=models.F("shards"))
    claimed = ready.filter(Q(attempt_token="") | Q(heartbeat_at__lt=stale)).update(
        attempt_token=secrets.token_hex(8), heartbeat_at=timezone.now(), worker=worker[:200],
        attempts=models.F("attempts") + 1,
    )  # fmt: skip
    if not claimed:
        logger.info("job %s: no gather to do (not ready, taken or finished)", job_id)
        return None
    return Job.objects.select_related("owner").get(id=job_id)


def job_gather(*, job_id: uuid.UUID, worker: str) -> Job | None:
    """Claim and do a sharded job's gather; an error releases it (the message comes back)."""
    job = gather_claim(job_id=job_id, worker=worker)
    if job is None:
        return None
    if job.attempts > settings.GAS_JOB_MAX_ATTEMPTS:
        return job_fail(job=job, message=f"Joining the annotated parts stopped unexpectedly {job.attempts - 1} "
                        "times; it will not be tried again.")  # fmt: skip
    mine = Job.objects.filter(id=job.id, status=JobStatus.RUNNING, attempt_token=job.attempt_token)
    try:
        beat = Heartbeat(lambda: mine.update(heartbeat_at=timezone.now()), interval_seconds=heartbeat_seconds(),
                         name=f"gather-heartbeat-{job.id}")  # fmt: skip
        with beat, scratch_folder() as scratch:
            done = _gather(job, scratch)
        _drop_shard_files(job)
        return done
    except AnnotationError as exc:
        return job_fail(job=job, message=str(exc))
    except Exception:
        mine.update(attempt_token="")  # (free for the next delivery at once)
        raise


def _gather(job: Job, scratch: Path) -> Job:
    shards = list(JobShard.objects.filter(job=job).order_by("index"))
    if len(shards) != job.shards or any(shard.status != ShardStatus.DONE for shard in shards):
        raise RuntimeError(f"job {job.id}: {job.shards} shards counted done, but their records disagree")
    storage = results_storage()
    results: list[Path] = []
    tables: list[Path] = []
    genotype_tables: list[Path] = []
    stats = AnnotationStats()
    for shard in shards:
        stem = f"shard-{shard.index:05d}"
        fetched = [(shard.result_key, results, ".vcf.gz"), (shard.table_key, tables, ".variants.parquet")]
        if storage.exists(genotypes_key(shard.table_key)):  # (a VCF with samples)
            fetched.append((genotypes_key(shard.table_key), genotype_tables, ".genotypes.parquet"))
        for key, into, suffix in fetched:
            into.append(scratch / f"{stem}{suffix}")
            download(storage, key, into[-1])
        stats.add_parts(shard.stats["parts"])
        stats.seconds += shard.seconds
    reference = load_reference(job.reference_name)
    nothing = nothing_annotated_message(stats, reference=reference)
    if nothing:
        raise AnnotationError(f"{job.input_name}: {nothing}.")
    fault_point("gather.before_join")
    output = scratch / "result.vcf.gz"
    join_shards(results, output, scratch=scratch)
    table = scratch / "result.variants.parquet"
    offsets = merge_variant_tables(tables, table)
    genotypes = None
    if genotype_tables:
        genotypes = scratch / "result.genotypes.parquet"
        merge_genotype_tables(genotype_tables, offsets, genotypes, scratch=scratch)
    log, summary = scratch / "result.count.log", scratch / "result.summary.json"
    write_reports(stats, reference, input_name=job.input_name, summary=summary, log=log)
    applied = shards[0].stats.get("applied", [])
    for entry in applied:
        entry["alleles_matched"] = stats.custom_matches.get(entry["short_name"], 0)
    outputs = Outputs(result=output, log=log, summary=summary, table=table, genotypes=genotypes,
                      names=output_names(job))  # fmt: skip
    return job_complete(job=job, outputs=outputs, stats=stats, reference=reference,
                        notes=list(shards[0].stats.get("warnings", [])), applied=applied)  # fmt: skip


def _drop_shard_files(job: Job) -> None:
    """After the gather: the shards' inputs and outputs go (the storage sweep takes any left)."""
    if not Job.objects.filter(id=job.id, status=JobStatus.COMPLETED).exists():
        return
    storage = results_storage()
    for shard in JobShard.objects.filter(job=job):
        for key in (shard.input_key, shard.result_key, shard.table_key, genotypes_key(shard.table_key)):
            if key:
                storage.delete(key)


# -- keeping shards moving ---------------------------------------------------------------------
def shards_reconcile(*, limit: int = 100) -> int:
    """Requeue shards whose worker went silent and gathers whose gatherer did; returns how many."""
    stale = timezone.now() - timedelta(seconds=settings.GAS_JOB_STALE_SECONDS)
    requeued = 0
    for shard in JobShard.objects.filter(status=ShardStatus.RUNNING, heartbeat_at__lt=stale,
                                         job__status=JobStatus.RUNNING).select_related("job")[:limit]:  # fmt: skip
        with transaction.atomic():
            silent = JobShard.objects.filter(id=shard.id, status=ShardStatus.RUNNING,
                                             attempt_token=shard.attempt_token, heartbeat_at__lt=stale)  # fmt: skip
            if silent.update(status=ShardStatus.PENDING, worker=""):
                shard_message(shard.job, shard.index)
                requeued += 1
                logger.warning("job %s shard %d: worker %s silent; requeued", shard.job_id, shard.index, shard.worker)
    gathering = Job.objects.filter(status=JobStatus.RUNNING, shards__gt=0, shards_done__gte=models.F("shards"),
                                   heartbeat_at__lt=stale)  # fmt: skip
    for job in gathering[:limit]:
        with transaction.atomic():
            if Job.objects.filter(id=job.id, attempt_token=job.attempt_token, heartbeat_at__lt=stale).update(
                attempt_token="", heartbeat_at=timezone.now()
            ):
                gather_message(job)
                requeued += 1
                logger.warning("job %s: gather by %s silent; requeued", job.id, job.worker or "nobody")
    return requeued


def requeue_if_waiting(*, job_id: uuid.UUID, index: int | None) -> bool:
    """A fresh request for a shard (``index``) or a gather (None) that can still run, for a request
    on its last delivery (see lifecycle.job_requeue_if_pending)."""
    with transaction.atomic():
        job = Job.objects.filter(id=job_id, status=JobStatus.RUNNING, shards__gt=0).first()
        if job is None:
            return False
        if index is None and job.shards_done >= job.shards:
            gather_message(job)
            return True
        if index is not None and JobShard.objects.filter(job=job, index=index, status=ShardStatus.PENDING).exists():
            shard_message(job, index)
            return True
    return False
