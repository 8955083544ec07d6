"""Running a job on an annotator: claim it, annotate its input with its sources in a scratch folder,
store the results under the attempt's own key, and complete it (or fail it, or release it for a
retry) with its follow-ups in the same transaction; and the warnings a finished job carries."""

from __future__ import annotations

import hashlib
import logging
import uuid
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.utils import timezone

from gas_site.faults import fault_point
from gas_site.workers import Heartbeat
from jobs.annotation import ENGINE_VERSION
from jobs.annotation.engine import AnnotationStats, annotate_vcf
from jobs.annotation.errors import AnnotationError
from jobs.annotation.reference import Reference, contig_aliases
from jobs.models import Job, JobStatus
from jobs.references.bundles import installed_references, load_reference
from jobs.results.queries import VariantTable
from jobs.results.tables import genotypes_key, store_genotypes, write_tables
from jobs.scratch import scratch_folder
from jobs.services.lifecycle import attempt_prefix, job_claim, job_fail, job_followups, job_limits
from jobs.services.notation_inputs import is_notation_input, notation_warnings, resolve_notation_file
from jobs.services.uploads import input_stem
from jobs.sources.job_specs import job_source_specs
from jobs.storage import inputs_storage, results_storage

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


def heartbeat_seconds() -> float:
    """How often a running job stamps its heartbeat: a third of the silence that makes it stale."""
    return settings.GAS_JOB_STALE_SECONDS / 3


def _annotate(job: Job, scratch: Path) -> Job:
    # scratch files have fixed names: nothing the user wrote goes into a path
    local_input = scratch / "input"
    digest = hashlib.sha256()
    with inputs_storage().open(job.input_key, "rb") as source, open(local_input, "wb") as target:
        for block in iter(lambda: source.read(1024 * 1024), b""):
            digest.update(block)
            target.write(block)
    if not job.input_sha256:  # a direct browser upload: the web server never read the bytes
        Job.objects.filter(id=job.id).update(input_sha256=digest.hexdigest())
    reference = load_reference(job.reference_name)
    notes: list[str] = []  # (the notations that could not be resolved, for an input of notations)
    with open(local_input, "rb") as handle:
        notations = is_notation_input(handle)
    if notations:
        resolved = resolve_notation_file(
            source=local_input, destination=scratch / "notations.vcf", reference=reference, name=job.input_name
        )
        local_input, notes = scratch / "notations.vcf", notation_warnings(resolved)
    stem = input_stem(job.input_name)
    names = {"result": f"{stem}.annot.vcf.gz", "log": f"{stem}.count.log", "summary": f"{stem}.summary.json",
             "table": f"{stem}.variants.parquet"}  # fmt: skip
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
        input_name=job.input_name, processes=settings.GAS_ANNOTATION_PROCESSES, limits=job_limits(job.owner),
        fill_id=settings.GAS_FILL_ID_COLUMN, customs=customs, pick=job.pick,
        flags=tuple(job.flags),
    )  # fmt: skip
    nothing = nothing_annotated_message(result.stats, reference=reference)
    if nothing:
        raise AnnotationError(f"{job.input_name}: {nothing}.")
    for entry in applied:
        entry["alleles_matched"] = result.stats.custom_matches.get(entry["short_name"], 0)
    genotypes = write_tables(output, table)
    written = VariantTable(table, genotypes)
    charts = written.summary()  # (kept with the job: a result in cold storage keeps its charts)
    storage = results_storage()
    prefix = attempt_prefix(job)
    keys = {}
    for kind, path in (("result", output), ("log", log), ("summary", summary), ("table", table)):
        with open(path, "rb") as handle:
            keys[kind] = storage.save(f"{prefix}/{names[kind]}", File(handle, name=names[kind]))
        fault_point(f"job.after_store_{kind}")
    store_genotypes(table_key=keys["table"], path=genotypes)
    stats = result.stats
    with transaction.atomic():
        updated = Job.objects.filter(id=job.id, status=JobStatus.RUNNING, attempt_token=job.attempt_token).update(
            status=JobStatus.COMPLETED,
            completed_at=timezone.now(),
            progress=1.0,
            records=stats.records,
            alleles=stats.alleles,
            records_in_dbsnp=stats.records_in_dbsnp,
            consequence_counts=dict(stats.most_severe.most_common()),
            result_key=keys["result"],
            log_key=keys["log"],
            summary_key=keys["summary"],
            table_key=keys["table"],
            charts=charts,
            samples=written.samples,
            result_size=output.stat().st_size,
            reference_checksum=reference.checksum,
            engine_version=ENGINE_VERSION,
            error_message="",
            warnings=job_warnings(stats, build=reference.build) + notes + source_warnings,
            sources=applied,
        )
        if not updated:  # deleted, failed by staff or taken over meanwhile: drop this attempt's own files
            for key in (*keys.values(), genotypes_key(keys["table"])):
                storage.delete(key)
            return job
        job.refresh_from_db()
        job_followups(job)  # (the follow-ups commit with the completion)
        fault_point("job.before_commit")
    fault_point("job.after_commit")
    logger.info("job %s: completed (%s records in %.1fs)", job.id, stats.records, stats.seconds)
    return job


# A completed job warns when at least this share of its records has a REF the genome disagrees
# with; from the second share on, the warning says the file is likely for another build.
REF_MISMATCH_WARNING = 0.01
REF_MISMATCH_WRONG_BUILD = 0.10


def job_warnings(stats: AnnotationStats, *, build: str = "the reference") -> list[str]:
    """What a completed annotation did not do, for the user: each warning one sentence."""
    warnings = []
    if stats.records_failed:
        shown = "; ".join(stats.failed_examples[:3])
        warnings.append(
            f"{stats.records_failed} of {stats.records} records could not be annotated because of an internal error "
            f"and were written unchanged, without CSQ (the log lists them): {shown}"
        )
    if stats.sv_not_annotated:
        shown = "; ".join(stats.sv_examples[:3])
        warnings.append(
            f"{stats.sv_not_annotated} structural ALT alleles could not be annotated and were written without CSQ "
            f"(the log lists them): {shown}"
        )
    if stats.breakends_far:
        warnings.append(
            f"{stats.breakends_far} breakends have both ends more than 5 kb from every transcript and were written "
            "without CSQ, as Ensembl VEP writes them"
        )
    compared = stats.records - sum(stats.uncovered_contigs.values())
    if compared and stats.ref_mismatches / compared >= REF_MISMATCH_WARNING:
        share = stats.ref_mismatches / compared
        likely = (
            f": the file is probably for another genome build than {build}, or its positions are shifted"
            if share >= REF_MISMATCH_WRONG_BUILD
            else ""
        )
        shown = "; ".join(stats.ref_mismatch_examples[:3])
        warnings.append(
            f"{stats.ref_mismatches} of {compared} records ({share:.1%}) have a REF allele that disagrees with the "
            f"reference genome{likely} (the log lists examples): {shown}"
        )
    if stats.alleles_skipped:
        warnings.append(
            f"{stats.alleles_skipped} ALT alleles were not annotated, as VEP does not annotate them "
            "(spanning-deletion * alleles and ALT alleles equal to REF)"
        )
    if stats.uncovered_contigs:
        missing = sum(stats.uncovered_contigs.values())
        names = ", ".join(sorted(stats.uncovered_contigs)[:10])
        warnings.append(
            f"{missing} of {stats.records} records are on contigs the reference does not have ({names}) "
            "and were passed through without annotation"
        )
    return warnings


def nothing_annotated_message(stats: AnnotationStats, *, reference: Reference) -> str | None:
    """When every record is on contigs the reference lacks: what happened and which installed
    reference has those contigs (or how to get one); None otherwise."""
    if not stats.records or sum(stats.uncovered_contigs.values()) < stats.records:
        return None
    contigs = sorted(stats.uncovered_contigs)
    covering = [
        bundle["name"] for bundle in installed_references()
        if any(alias in bundle.get("contigs", {}) for contig in contigs for alias in contig_aliases(contig))
    ]  # fmt: skip
    advice = (
        f"reference {' or '.join(covering)} has them: choose it" if covering
        else "install a reference that has them (manage.py reference available)"
    )  # fmt: skip
    return (
        f"none of the {stats.records:,} records is on a contig of reference {reference.name} ({reference.build}: "
        f"{', '.join(list(reference.contig_lengths)[:5])}{'…' if len(reference.contig_lengths) > 5 else ''}); "
        f"the file's contigs are {', '.join(contigs[:10])}{'…' if len(contigs) > 10 else ''}: {advice}"
    )
