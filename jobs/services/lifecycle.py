"""A job's life: created from a checked upload and queued in one transaction, claimed by one
annotator at a time (a conditional update with a token of its own), failed, finished with its
follow-ups (mail, the ``job_completed`` receivers) in the transaction that ends it, rerun, deleted."""

from __future__ import annotations

import logging
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import IO, cast

from django.conf import settings
from django.core.files import File
from django.core.files.uploadedfile import UploadedFile
from django.db import models, transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from gas_site import outbox
from gas_site.errors import ServiceError
from jobs.annotation import ENGINE_VERSION
from jobs.annotation.engine import JobLimits
from jobs.annotation.reference import Reference
from jobs.models import FINISHED_STATUSES, NAME_LENGTH, Job, JobStatus, RegionSet, name_problem
from jobs.results.samples import MAX_PED_BYTES, PedigreeError, parse_ped
from jobs.results.tables import genotypes_key, table_for
from jobs.services.notation_inputs import check_notations, is_notation_input
from jobs.services.options import FLAG_CHOICES, PICK_CHOICES
from jobs.services.uploads import (
    INPUT_SUFFIXES,
    UploadRejected,
    checked_input,
    header_samples,
    safe_input_name,
    sha256_and_size,
    too_large_message,
    upload_limit,
    vcf_text,
)
from jobs.signals import job_completed
from jobs.sources.registry import SourceError, chosen_source_names
from jobs.storage import inputs_storage, results_storage

logger = logging.getLogger(__name__)


def job_create(
    *,
    owner: User,
    upload: UploadedFile,
    reference_name: str | None = None,
    source_names: Sequence[str] | None = None,
    region_set: RegionSet | None = None,
    title: str = "",
    pick: str = "",
    flags: Sequence[str] = (),
    pedigree: str = "",
    normal: str = "",
) -> Job:
    """Check an upload, store it in the inputs storage and queue the job with it. ``source_names``
    are the annotation sources to apply (None: the operator's defaults for the reference);
    ``pick`` one of PICK_CHOICES, ``flags`` some of FLAG_CHOICES (VEP's transcript flags);
    ``pedigree`` a PED file's text and ``normal`` the normal sample of a tumour/normal pair, both
    checked against the VCF's samples."""
    name = safe_input_name(upload.name or "input.vcf")
    if problem := name_problem(title, what="The job name"):
        raise UploadRejected(problem)
    if upload.size is not None and upload.size == 0:
        raise UploadRejected(f"{name} is empty: expected a VCF file.")
    if upload.size is not None and upload.size > upload_limit(owner):
        raise UploadRejected(too_large_message(owner, upload.size), code="too_large")
    if not name.endswith(INPUT_SUFFIXES):
        raise UploadRejected(f"{name}: expected a .vcf, .vcf.gz or .bcf file, or a .txt file of notations.")
    on_disk = getattr(upload, "temporary_file_path", lambda: None)()
    handle = cast(IO[bytes], upload.file)
    if is_notation_input(handle):
        reference = check_notations(
            handle, name=name, reference_name=reference_name, max_bytes=job_limits(owner).max_bytes
        )
    else:
        with vcf_text(handle, name=name, path=on_disk) as text:
            reference = checked_input(
                text=text, name=name, reference_name=reference_name, max_bytes=job_limits(owner).max_bytes,
                read_through=text is upload.file,
            )  # fmt: skip
    if pick not in dict(PICK_CHOICES):
        raise UploadRejected(f"pick {pick!r}: expected one of {', '.join(mode for mode, _ in PICK_CHOICES if mode)}")
    unknown = [flag for flag in flags if flag not in dict(FLAG_CHOICES)]
    if unknown:
        raise UploadRejected(f"flag {unknown[0]!r}: expected some of {', '.join(flag for flag, _ in FLAG_CHOICES)}")
    chosen = _chosen_sources(owner=owner, reference=reference, source_names=source_names, region_set=region_set)
    samples: list[str] = []
    declared_normal = ""
    if not is_notation_input(handle):
        upload.seek(0)
        with vcf_text(handle, name=name, path=on_disk) as text:
            samples, declared_normal = header_samples(text, name=name)
    family = checked_pedigree(pedigree, samples=samples, name="the pedigree") if pedigree.strip() else []
    normal = checked_normal(normal.strip(), samples=samples) or (declared_normal if declared_normal in samples else "")
    upload.seek(0)
    sha256, size = sha256_and_size(upload)
    job_id = uuid.uuid4()
    key = inputs_storage().save(f"{owner.pk}/{job_id}/{name}", File(upload.file, name=name))
    return job_create_from_stored(
        owner=owner, key=key, name=name, size=size, reference=reference, sha256=sha256, job_id=job_id,
        source_names=chosen, region_set=region_set, title=title, pick=pick, flags=flags, samples=samples,
        pedigree=family, normal=normal,
    )  # fmt: skip


def _chosen_sources(
    *, owner: User, reference: Reference, source_names: Sequence[str] | None, region_set: RegionSet | None
) -> list[str]:
    if region_set is not None and region_set.owner_id != owner.pk:
        raise UploadRejected("That region file is not yours.", code="not_found")
    try:
        return chosen_source_names(reference_name=reference.name, names=source_names)
    except SourceError as exc:
        raise UploadRejected(str(exc)) from exc


def job_create_from_stored(
    *,
    owner: User,
    key: str,
    name: str,
    size: int,
    reference: Reference,
    sha256: str = "",
    job_id: uuid.UUID | None = None,
    source_names: Sequence[str] | None = None,
    region_set: RegionSet | None = None,
    title: str = "",
    pick: str = "",
    flags: Sequence[str] = (),
    samples: Sequence[str] = (),
    pedigree: Sequence[dict[str, str]] = (),
    normal: str = "",
) -> Job:
    """Record a job for an input already in the inputs storage and queue it in the same transaction."""
    if source_names is None:
        source_names = _chosen_sources(owner=owner, reference=reference, source_names=None, region_set=region_set)
    with transaction.atomic():
        job = Job.objects.create(
            id=job_id or uuid.uuid4(),
            owner=owner,
            input_name=name,
            input_key=key,
            input_size=size,
            input_sha256=sha256,
            reference_name=reference.name,
            reference_checksum=reference.checksum,
            engine_version=ENGINE_VERSION,
            source_names=list(source_names),
            region_set=region_set,
            name=title.strip()[:NAME_LENGTH],
            pick=pick,
            flags=[flag for flag, _ in FLAG_CHOICES if flag in flags],
            samples=list(samples),
            pedigree=list(pedigree),
            normal_sample=normal,
        )
        job_enqueue(job=job)
    logger.info("job %s created for user %s (%s, %s bytes)", job.id, owner.pk, name, size)
    return job


# -- samples: the pedigree and the normal sample -------------------------------------------------
def checked_pedigree(text: str, *, samples: Sequence[str], name: str) -> list[dict[str, str]]:
    """A PED file's individuals, checked against the VCF's samples (UploadRejected says what is wrong)."""
    if not samples:
        raise UploadRejected(f"{name}: the VCF has no samples (no genotype columns) to relate")
    try:
        return parse_ped(text, samples=samples, name=name)
    except PedigreeError as exc:
        raise UploadRejected(str(exc)) from None


def pedigree_text(upload: IO[bytes] | None, *, name: str = "the pedigree") -> str:
    """A PED file's text, read with a bound (UploadRejected: too large, or not UTF-8 text)."""
    if upload is None:
        return ""
    raw = upload.read(MAX_PED_BYTES + 1)
    if len(raw) > MAX_PED_BYTES:
        raise UploadRejected(f"{name}: larger than {MAX_PED_BYTES // 1024} KB; a PED has one short line per individual")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UploadRejected(f"{name}: not text (expected a PED file: family, individual, father, mother, sex, "
                             "phenotype)") from None  # fmt: skip


def checked_normal(normal: str, *, samples: Sequence[str]) -> str:
    if normal and normal not in samples:
        listed = ", ".join(list(samples)[:8]) or "none"
        raise UploadRejected(f"normal sample {normal[:60]!r}: not a sample of the VCF (its samples: {listed})")
    return normal


def job_samples(*, job: Job) -> list[str]:
    """The job's samples: recorded at upload or completion, else read from its table once and kept."""
    if not job.samples and job.status == JobStatus.COMPLETED:
        names = table_for(job).samples
        if names:
            Job.objects.filter(id=job.id).update(samples=names)
            job.samples = names
    return list(job.samples)


def job_set_pedigree(*, job: Job, text: str, name: str = "the pedigree") -> Job:
    """Give a job its pedigree (a PED file's text; empty: remove it), checked against its samples."""
    family = checked_pedigree(text, samples=job_samples(job=job), name=name) if text.strip() else []
    Job.objects.filter(id=job.id).update(pedigree=family)
    job.pedigree = family
    logger.info("job %s: pedigree %s (%d individuals)", job.id, "set" if family else "removed", len(family))
    return job


def job_set_normal(*, job: Job, normal: str) -> Job:
    normal = checked_normal(normal.strip(), samples=job_samples(job=job))
    Job.objects.filter(id=job.id).update(normal_sample=normal)
    job.normal_sample = normal
    return job


def job_enqueue(*, job: Job) -> None:
    """Queue a job request as part of the current transaction (gas_site.outbox)."""
    outbox.send("jobs", {"job_id": str(job.id)})


def job_requeue_if_pending(*, job_id: uuid.UUID) -> bool:
    """A fresh request for a job that can still run (PENDING), sent with this check: for a request
    on its last delivery, which the queue would dead-letter next while its job waits (a failure
    before the job was claimed: its attempts do not count it, so nothing else would send one)."""
    with transaction.atomic():
        job = Job.objects.filter(id=job_id, status=JobStatus.PENDING).first()
        if job is None:
            return False
        job_enqueue(job=job)
    logger.warning("job %s: its request failed on its last delivery; a fresh request was queued", job_id)
    return True


# -- running -------------------------------------------------------------------------------
@dataclass
class ClaimOutcome:
    job: Job | None
    reason: str


def job_claim(*, job_id: uuid.UUID, worker: str) -> ClaimOutcome:
    """Take a job for this worker: PENDING → RUNNING, or a RUNNING job whose worker went silent.

    Two workers never both succeed: each claim is a conditional UPDATE, and it gives the attempt
    a token of its own: only the holder of the current token can complete the job, and its files
    are stored under that token, so a late worker can neither overwrite nor delete the winner's.
    """
    now = timezone.now()
    stale = now - timedelta(seconds=settings.GAS_JOB_STALE_SECONDS)
    claim = {
        "status": JobStatus.RUNNING,
        "started_at": now,
        "heartbeat_at": now,
        "worker": worker[:200],
        "attempts": models.F("attempts") + 1,
        "attempt_token": secrets.token_hex(8),
    }
    if Job.objects.filter(id=job_id, status=JobStatus.PENDING).update(**claim):
        return ClaimOutcome(Job.objects.get(id=job_id), "claimed")
    # (a split job's shards and gather are claimed on their own: jobs.services.shards)
    if Job.objects.filter(id=job_id, status=JobStatus.RUNNING, shards=0, heartbeat_at__lt=stale).update(**claim):
        logger.warning("job %s: its previous worker stopped answering; retrying", job_id)
        return ClaimOutcome(Job.objects.get(id=job_id), "reclaimed")
    status = Job.objects.filter(id=job_id).values_list("status", flat=True).first()
    if status is None:
        return ClaimOutcome(None, "deleted")
    return ClaimOutcome(None, f"already {status.lower()}")


def job_limits(user: User) -> JobLimits:
    """What one job of ``user``'s plan may do (decompressed bytes, records, wall-clock seconds)."""
    premium = user.is_premium
    return JobLimits(
        max_bytes=settings.GAS_PREMIUM_MAX_INPUT_BYTES if premium else settings.GAS_FREE_MAX_INPUT_BYTES,
        max_records=settings.GAS_PREMIUM_MAX_RECORDS if premium else settings.GAS_FREE_MAX_RECORDS,
        max_seconds=settings.GAS_JOB_MAX_SECONDS,
        plan=user.get_plan_display(),
    )


def attempt_prefix(job: Job) -> str:
    """Where one attempt of a job stores its results: ``<owner>/<job>/<attempt token>``."""
    return f"{job.owner_id}/{job.id}/{job.attempt_token or 'a'}"


def job_fail(*, job: Job, message: str) -> Job:
    with transaction.atomic():
        failed = (
            Job.objects.filter(id=job.id)
            .exclude(status__in=FINISHED_STATUSES)
            .update(status=JobStatus.FAILED, completed_at=timezone.now(), error_message=message)
        )
        job.refresh_from_db()
        if failed:
            job_followups(job)
    logger.warning("job %s: failed: %s", job.id, message)
    return job


def job_followups(job: Job) -> None:
    """The follow-ups of a job's end, written in the transaction that ends it: the owner's mail
    and (completed) the ``job_completed`` receivers' work, such as the archive schedule."""
    job_notify_owner(job=job)
    if job.status == JobStatus.COMPLETED:
        job_completed.send(sender=Job, job=job)


def job_url(job: Job) -> str:
    return settings.GAS_SITE_URL + reverse("job_detail", args=[job.id])


def job_notify_owner(*, job: Job) -> None:
    verb = "failed"
    if job.status == JobStatus.COMPLETED:
        verb = "is ready, with warnings" if job.warnings else "is ready"
    context: dict[str, object] = {"job": job, "url": job_url(job)}
    if job.status == JobStatus.COMPLETED and not job.owner.is_premium:  # (when the free plan's window closes)
        finished = job.completed_at or timezone.now()
        context["cold_at"] = finished + timedelta(seconds=settings.GAS_FREE_RETENTION_SECONDS)
    outbox.mail(
        to=job.owner.email,
        subject=f"Your annotation of {job.input_name} {verb}",
        template="emails/job_finished",
        context=context,
    )


def job_rerun(*, job: Job) -> bool:
    """Staff: run a failed job again from its stored input."""
    with transaction.atomic():
        updated = Job.objects.filter(id=job.id, status=JobStatus.FAILED).update(
            status=JobStatus.PENDING, attempts=0, progress=0.0, error_message="", started_at=None, completed_at=None,
            shards=0, shards_done=0, shards_sent=0,
        )  # fmt: skip
        if updated:
            job.shard_set.all().delete()  # (split again; the old shards' files are swept)
            job_enqueue(job=job)
    return bool(updated)


# -- deleting ------------------------------------------------------------------------------
class JobNotFinished(ServiceError):
    """Only finished jobs can be deleted."""

    code = "job_not_finished"


def job_delete(*, job: Job) -> None:
    if job.status not in FINISHED_STATUSES:
        raise JobNotFinished("A job can be deleted once it has finished.")
    for storage, key in (
        (inputs_storage(), job.input_key),
        (results_storage(), job.result_key),
        (results_storage(), job.log_key),
        (results_storage(), job.summary_key),
        (results_storage(), job.table_key),
        (results_storage(), genotypes_key(job.table_key)),
    ):
        if key:
            storage.delete(key)
    job.delete()
    logger.info("job %s: deleted with its files", job.id)
