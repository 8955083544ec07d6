"""Running a job on an annotator: claim it, annotate its input with its sources in a scratch folder
(or, a large one, split it into shards: ``shards``), store the results under the attempt's own key,
and complete it (or fail it, or release it for a retry) with its follow-ups in the same transaction."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from gas_site.faults import fault_point
from gas_site.workers import Heartbeat
from jobs.annotation.engine import annotate_vcf
from jobs.annotation.errors import AnnotationError
from jobs.models import Job, JobStatus
from jobs.references.bundles import load_reference
from jobs.results.tables import write_tables
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
from jobs.services.lifecycle import job_claim, job_fail
from jobs.services.notation_inputs import is_notation_input, notation_warnings, resolve_notation_file
from jobs.services.shards import job_split_if_large
from jobs.sources.job_specs import job_source_specs
from jobs.storage import inputs_storage

__all__ = ["heartbeat_seconds", "job_run"]

logger = logging.getLogger(__name__)


def job_run(*, job_id: uuid.UUID, worker: str) -> Job | None:
    """Claim and run one job. Bad input fails the job; any other error releases it for a retry."""
    outcome = job_claim(job_id=job_id, worker=worker)
    if outcome.job is None:
        logger.info("job %s: nothing to do (%s)", job_id, outcome.reason)
        return None
    job = outcome.job
    if job.attempts > settings.GAS_JOB_MAX_ATTEMPTS:
        return job_fail(
            job=job,
            message=f"The annotation stopped unexpectedly {job.attempts - 1} times; it will not be tried again.",
        )
    mine = Job.objects.filter(id=job.id, status=JobStatus.RUNNING, attempt_token=job.attempt_token)
    try:
        alive = Heartbeat(  # stamps the job so that a silent worker's job can be reclaimed
            lambda: mine.update(heartbeat_at=timezone.now()),
            interval_seconds=heartbeat_seconds(),
            name=f"job-heartbeat-{job.id}",
        )
        with alive, scratch_folder() as scratch:
            return _annotate(job, scratch)
    except AnnotationError as exc:
        return job_fail(job=job, message=str(exc))
    except Exception:
        # Let the queue deliver the message again: the job goes back to PENDING for it.
        mine.update(status=JobStatus.PENDING, progress=0.0)
        if job.attempts >= settings.GAS_JOB_MAX_ATTEMPTS:
            logger.exception("job %s: failed on its last attempt", job.id)
            return job_fail(job=job, message="The annotation failed because of an internal error; please try again.")
        raise


def _annotate(job: Job, scratch: Path) -> Job:
    # scratch files have fixed names: nothing the user wrote goes into a path
    local_input = scratch / "input"
    sha256 = download(inputs_storage(), job.input_key, local_input)
    if not job.input_sha256:  # a direct browser upload: the web server never read the bytes
        Job.objects.filter(id=job.id).update(input_sha256=sha256)
    reference = load_reference(job.reference_name)
    notes: list[str] = []  # (the notations that could not be resolved, for an input of notations)
    with open(local_input, "rb") as handle:
        notations = is_notation_input(handle)
    if notations:
        resolved = resolve_notation_file(
            source=local_input, destination=scratch / "notations.vcf", reference=reference, name=job.input_name
        )
        local_input, notes = scratch / "notations.vcf", notation_warnings(resolved)
    elif job_split_if_large(job=job, local_input=local_input, scratch=scratch):
        return job  # (its shards are queued; the last to finish queues the gather)
    names = output_names(job)
    output, log, summary = scratch / "result.vcf.gz", scratch / "result.count.log", scratch / "result.summary.json"
    table = scratch / "result.variants.parquet"
    last = [0.0]

    def progress(fraction: float) -> None:
        now = timezone.now().timestamp()
        if now - last[0] >= 1.0 or fraction >= 1.0:
            last[0] = now
            Job.objects.filter(id=job.id, status=JobStatus.RUNNING, attempt_token=job.attempt_token).update(
                progress=min(fraction, 0.99), heartbeat_at=timezone.now()
            )

    customs, applied, source_warnings = job_source_specs(job=job, scratch=scratch, reference=reference)
    fault_point("job.before_annotate")
    result = annotate_vcf(
        local_input, output, reference, log_path=log, summary_path=summary, progress=progress,
        processes=settings.GAS_ANNOTATION_PROCESSES, customs=customs, **engine_options(job),
    )  # fmt: skip
    nothing = nothing_annotated_message(result.stats, reference=reference)
    if nothing:
        raise AnnotationError(f"{job.input_name}: {nothing}.")
    for entry in applied:
        entry["alleles_matched"] = result.stats.custom_matches.get(entry["short_name"], 0)
    genotypes = write_tables(output, table)
    outputs = Outputs(result=output, log=log, summary=summary, table=table, genotypes=genotypes, names=names)
    return job_complete(
        job=job,
        outputs=outputs,
        stats=result.stats,
        reference=reference,
        notes=notes + source_warnings,
        applied=applied,
    )
