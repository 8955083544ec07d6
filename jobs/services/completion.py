"""The end of a job's annotation, shared by a job run whole (``running``) and a job joined from
its shards (``shards``): its files stored under the attempt's own key, the job completed with its
follow-ups in one transaction (or the files dropped when the attempt lost its job), the warnings
a finished job carries, and the download of a stored input to a scratch folder."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files import File
from django.core.files.storage import Storage
from django.db import transaction
from django.utils import timezone

from gas_site.faults import fault_point
from jobs.annotation import ENGINE_VERSION
from jobs.annotation.engine import AnnotationStats
from jobs.annotation.reference import Reference, contig_aliases
from jobs.models import Job, JobStatus
from jobs.references.bundles import installed_references
from jobs.results.queries import VariantTable
from jobs.results.tables import genotypes_key, store_genotypes
from jobs.services.lifecycle import attempt_prefix, job_followups, job_limits
from jobs.services.uploads import input_stem
from jobs.storage import results_storage

logger = logging.getLogger(__name__)


def heartbeat_seconds() -> float:
    """How often a running job (or shard) stamps its heartbeat: a third of the silence that makes it stale."""
    return settings.GAS_JOB_STALE_SECONDS / 3


def download(storage: Storage, key: str, target: Path) -> str:
    """Copy a stored file to ``target``; returns its SHA-256."""
    digest = hashlib.sha256()
    with storage.open(key, "rb") as source, open(target, "wb") as out:
        for block in iter(lambda: source.read(1024 * 1024), b""):
            digest.update(block)
            out.write(block)
    return digest.hexdigest()


def output_names(job: Job) -> dict[str, str]:
    """The names a job's files are stored under, from its input's name."""
    stem = input_stem(job.input_name)
    return {"result": f"{stem}.annot.vcf.gz", "log": f"{stem}.count.log", "summary": f"{stem}.summary.json",
            "table": f"{stem}.variants.parquet"}  # fmt: skip


def engine_options(job: Job) -> dict[str, Any]:
    """What the engine is told of a job, whole or in shards (so that both write the same bytes)."""
    return {
        "input_name": job.input_name, "limits": job_limits(job.owner), "fill_id": settings.GAS_FILL_ID_COLUMN,
        "pick": job.pick, "flags": tuple(job.flags),
    }  # fmt: skip


@dataclass(frozen=True)
class Outputs:
    """A finished annotation's files in the scratch folder, and the names they are stored under
    (keys ``result``, ``log``, ``summary``, ``table``)."""

    result: Path
    log: Path
    summary: Path
    table: Path
    genotypes: Path | None
    names: dict[str, str]


def job_complete(
    *, job: Job, outputs: Outputs, stats: AnnotationStats, reference: Reference, notes: list[str],
    applied: list[dict[str, Any]],
) -> Job:  # fmt: skip
    """Store the outputs under the attempt's own key and complete the job, its follow-ups in the
    same transaction; an attempt that lost its job (deleted, failed by staff, taken over) drops its
    own files instead."""
    written = VariantTable(outputs.table, outputs.genotypes)
    charts = written.summary()  # (kept with the job: a result in cold storage keeps its charts)
    storage = results_storage()
    prefix = attempt_prefix(job)
    keys = {}
    names = outputs.names
    for kind, path in (("result", outputs.result), ("log", outputs.log), ("summary", outputs.summary),
                       ("table", outputs.table)):  # fmt: skip
        with open(path, "rb") as handle:
            keys[kind] = storage.save(f"{prefix}/{names[kind]}", File(handle, name=names[kind]))
        fault_point(f"job.after_store_{kind}")
    store_genotypes(table_key=keys["table"], path=outputs.genotypes)
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
            result_size=outputs.result.stat().st_size,
            reference_checksum=reference.checksum,
            engine_version=ENGINE_VERSION,
            error_message="",
            warnings=job_warnings(stats, build=reference.build) + notes,
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
