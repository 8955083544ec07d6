"""Job services: the one place where jobs are created, run, finished, deleted and tokens issued.

Views, the API, admin actions and the ``run_annotator`` worker are thin interfaces to these.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import secrets
import tempfile
import uuid
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import IO

from django.conf import settings
from django.core.files import File
from django.core.files.storage import Storage, storages
from django.core.files.uploadedfile import UploadedFile
from django.db import models, transaction
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils import timezone
from django.utils.text import get_valid_filename

from accounts.models import User
from gas_site import outbox
from gas_site.faults import fault_point
from gas_site.workers import Heartbeat
from jobs.annotation import ENGINE_VERSION
from jobs.annotation.bcf import BcfError, BcfTextFile, holds_bcf
from jobs.annotation.engine import AnnotationStats, JobLimits, annotate_vcf
from jobs.annotation.errors import AnnotationError
from jobs.annotation.flags import FLAG_OPTIONS
from jobs.annotation.reference import Reference, contig_aliases
from jobs.models import FINISHED_STATUSES, NAME_LENGTH, ApiToken, Job, JobStatus, RegionSet, name_problem
from jobs.references import (
    contig_fields,
    declared_length,
    installed_references,
    load_reference,
    reference_for_header,
    source_label,
)
from jobs.scratch import scratch_folder
from jobs.signals import job_completed
from jobs.sources import SourceError, chosen_source_names, job_source_specs
from jobs.variants import write_table

logger = logging.getLogger(__name__)

HEADER_READ_LIMIT = 8 * 1024 * 1024  # bytes of (decompressed) header checked before queueing
MAX_NAME_STEM = 100  # characters of a file name kept (file systems allow 255 bytes for a whole name)


class UploadRejected(Exception):
    """An upload that cannot become a job; ``status`` is the HTTP status the API answers with."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def inputs_storage() -> Storage:
    return storages["inputs"]


def results_storage() -> Storage:
    return storages["results"]


def upload_limit(user: User) -> int:
    return settings.GAS_PREMIUM_MAX_UPLOAD_BYTES if user.is_premium else settings.GAS_FREE_MAX_UPLOAD_BYTES


def too_large_message(user: User, size: int | None = None) -> str:
    limit = upload_limit(user)
    got = f" ({filesizeformat(size)})" if size else ""
    extra = "" if user.is_premium else " Upgrade to premium for larger files."
    plan = user.get_plan_display()
    return f"The file is too large{got}: your {plan} plan accepts up to {filesizeformat(limit)}.{extra}"


def _header_lines(handle: IO[bytes], name: str) -> Iterator[str]:
    """The header's lines, each read with a bound (never more than HEADER_READ_LIMIT bytes in all,
    whatever the length of one line), decoded one at a time so that errors name the line."""
    magic = handle.read(2)
    handle.seek(0)
    stream: IO[bytes] = gzip.GzipFile(fileobj=handle) if magic == b"\x1f\x8b" else handle
    consumed = 0
    number = 0
    try:
        while True:
            raw = stream.readline(HEADER_READ_LIMIT - consumed + 1)
            if not raw:
                return
            number += 1
            consumed += len(raw)
            if consumed > HEADER_READ_LIMIT:
                raise UploadRejected(
                    f"{name}, line {number}: the VCF header is longer than {HEADER_READ_LIMIT // 1024 // 1024} MB "
                    "(the limit checked before a job is queued)."
                )
            try:
                yield raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError:
                raise UploadRejected(
                    f"{name}, line {number}: not text (bytes that are not UTF-8); is it a VCF, or gzip-compressed one?"
                ) from None
    except (EOFError, gzip.BadGzipFile, OSError, zlib.error) as exc:
        raise UploadRejected(f"{name}: the gzip data is damaged or truncated ({exc}).") from None


def choose_reference(*, reference_name: str | None, handle: IO[bytes], name: str) -> Reference:
    """The reference a job names, else the one its header fits (jobs.references.reference_for_header)."""
    try:
        if reference_name:
            return load_reference(reference_name)
        header = []
        for line in _header_lines(handle, name):
            header.append(line)
            if line.startswith("#CHROM"):  # (_header_lines bounds what is read)
                break
        return reference_for_header(header)
    except AnnotationError as exc:
        raise UploadRejected(f"{name}: {exc}") from exc


def check_vcf_header(handle: IO[bytes], *, name: str, reference: Reference) -> None:
    """A quick check before anything is queued: a VCF header, and contigs that fit the reference build."""
    lines = _header_lines(handle, name)
    first = next(lines, None)
    if first is None:
        raise UploadRejected(f"{name} is empty.")
    if not first.startswith("##fileformat=VCF"):
        raise UploadRejected(f"{name} is not a VCF: line 1 must be ##fileformat=VCFv4.x, found {first[:40]!r}.")
    for number, line in enumerate(lines, 2):
        if line.startswith("##contig=<"):
            fields = contig_fields(line)
            contig = reference.resolve_contig(fields.get("ID", ""))
            length = declared_length(fields)
            if contig and length is not None and length != reference.contig_lengths[contig]:
                raise UploadRejected(
                    f"{name}, line {number}: contig {fields['ID']} is {length:,} bp long in the file but "
                    f"{reference.contig_lengths[contig]:,} bp in {reference.build}: the file is for another genome "
                    f"build than the reference {reference.name}."
                )
        elif line.startswith("#CHROM"):
            if line.split("\t")[:8] != ["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO"]:
                raise UploadRejected(
                    f"{name}, line {number}: the column header must be #CHROM POS ID REF ALT QUAL FILTER INFO, "
                    "separated by tabs."
                )
            return
        elif not line.startswith("##"):
            raise UploadRejected(f"{name}, line {number}: expected the #CHROM column header before the data.")
    raise UploadRejected(f"{name}: no #CHROM column header line was found.")


REF_SAMPLE = 200  # data lines whose REF is compared with the genome at upload
REF_SAMPLE_MINIMUM = 20  # fewer compared than this: too few to refuse a file on


def check_vcf_body(
    handle: IO[bytes], *, name: str, reference: Reference, max_bytes: int, read_through: bool = True
) -> None:
    """What can be known of the data before a job is queued: a gzip file is read through to its end
    (a truncated or damaged one is refused now, not when a worker reaches the break), within the
    plan's decompressed limit and GAS_UPLOAD_SCAN_BYTES (a small bomb must not hold a web process
    for long); and a file whose first data lines' REF alleles all disagree with the genome is
    refused (another build, or positions shifted). Read in blocks, not lines."""
    magic = handle.read(2)
    handle.seek(0)
    compressed = magic == b"\x1f\x8b"
    stream: IO[bytes] = gzip.GzipFile(fileobj=handle) if compressed else handle
    head = b""
    total = 0
    scan = min(max_bytes + 1, settings.GAS_UPLOAD_SCAN_BYTES)  # (past it, the worker finds any break)
    try:
        while total < scan:
            block = stream.read(min(1 << 20, scan - total))
            if not block:
                break
            total += len(block)
            if total > max_bytes:
                raise UploadRejected(
                    f"{name} holds more than {filesizeformat(max_bytes)} of VCF text once decompressed, the most "
                    "one job of your plan may read.",
                    status=413,
                )
            if len(head) < 4 << 20:
                head += block
            elif not compressed or not read_through:
                break  # (a plain file cannot be truncated in a way reading would show)
    except (EOFError, gzip.BadGzipFile, OSError, zlib.error) as exc:
        raise UploadRejected(
            f"{name}: the gzip data is damaged or truncated after {total:,} bytes of VCF text ({exc}); "
            "upload the whole file again."
        ) from None
    _check_sample(head, name=name, reference=reference)


def check_vcf_start(start: bytes, *, name: str, reference: Reference) -> None:
    """The REF check of ``check_vcf_body`` on a file's first bytes only (a direct upload: the web
    server reads just its start from S3), gzip-compressed or not; the worker checks the rest."""
    if start[:2] == b"\x1f\x8b":
        start = zlib.decompressobj(31).decompress(start, 4 << 20)  # (a cut stream is fine here)
    _check_sample(start, name=name, reference=reference)


def _check_sample(head: bytes, *, name: str, reference: Reference) -> None:
    compared = 0
    first: str | None = None
    for number, raw in enumerate(head.split(b"\n")[:-1], 1):
        if raw.startswith(b"#") or not raw.strip():
            continue
        columns = raw.decode("utf-8", "replace").split("\t", 5)
        if len(columns) < 5 or not columns[1].isdigit():
            continue  # (the worker reports a malformed line with its own message)
        contig = reference.resolve_contig(columns[0])
        ref = columns[3].upper()
        if contig is None or not ref or ref.strip("ACGT"):
            continue
        pos = int(columns[1])
        genome = reference.sequence(contig, pos, pos + len(ref) - 1)
        compared += 1
        if genome == ref:
            return
        if first is None:
            first = f"line {number}: {columns[0]}:{pos} REF {columns[3]}, the genome has {genome or 'nothing there'}"
        if compared >= REF_SAMPLE:
            break
    if compared >= REF_SAMPLE_MINIMUM:
        raise UploadRejected(
            f"{name}: none of the REF alleles of its first {compared} data lines agrees with {reference.build} "
            f"(reference {reference.name}; {first}): the file is for another genome build, or its positions are "
            "shifted."
        )


def _sha256_and_size(upload: UploadedFile) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    for chunk in upload.chunks():
        digest.update(chunk)
        size += len(chunk)
    upload.seek(0)
    return digest.hexdigest(), size


_VCF_SUFFIXES = (".vcf.gz", ".vcf.bgz", ".vcf", ".bcf")


def input_stem(name: str) -> str:
    """A job's file name without its VCF or BCF suffix (its results are named after it)."""
    return safe_input_name(name).removesuffix(".gz").removesuffix(".bgz").removesuffix(".vcf").removesuffix(".bcf")


def safe_input_name(raw: str | None) -> str:
    """A file name safe for storage keys and scratch paths: no folders, only safe characters, the
    stem cut to MAX_NAME_STEM characters, the VCF suffix kept (``input.vcf`` when nothing is left)."""
    name = get_valid_filename(os.path.basename((raw or "").replace("\\", "/"))) if raw else ""
    suffix = next((s for s in _VCF_SUFFIXES if name.lower().endswith(s)), "")
    stem = name[: len(name) - len(suffix)] if suffix else name
    stem = stem[:MAX_NAME_STEM].rstrip(".") or "input"
    return stem + (name[len(name) - len(suffix) :] if suffix else "")


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
) -> Job:
    """Check an upload, store it in the inputs storage and queue the job with it. ``source_names``
    are the annotation sources to apply (None: the operator's defaults for the reference);
    ``pick`` one of PICK_CHOICES, ``flags`` some of FLAG_CHOICES (VEP's transcript flags)."""
    name = safe_input_name(upload.name or "input.vcf")
    if problem := name_problem(title, what="The job name"):
        raise UploadRejected(problem)
    if upload.size is not None and upload.size == 0:
        raise UploadRejected(f"{name} is empty: expected a VCF file.")
    if upload.size is not None and upload.size > upload_limit(owner):
        raise UploadRejected(too_large_message(owner, upload.size), status=413)
    if not name.endswith(_VCF_SUFFIXES):
        raise UploadRejected(f"{name}: expected a .vcf, .vcf.gz or .bcf file.")
    on_disk = getattr(upload, "temporary_file_path", lambda: None)()
    with vcf_text(upload.file, name=name, path=on_disk) as text:
        reference = checked_input(
            text=text, name=name, reference_name=reference_name, max_bytes=job_limits(owner).max_bytes,
            read_through=text is upload.file,
        )
    if pick not in dict(PICK_CHOICES):
        raise UploadRejected(f"pick {pick!r}: expected one of {', '.join(mode for mode, _ in PICK_CHOICES if mode)}")
    unknown = [flag for flag in flags if flag not in dict(FLAG_CHOICES)]
    if unknown:
        raise UploadRejected(f"flag {unknown[0]!r}: expected some of {', '.join(flag for flag, _ in FLAG_CHOICES)}")
    chosen = _chosen_sources(owner=owner, reference=reference, source_names=source_names, region_set=region_set)
    upload.seek(0)
    sha256, size = _sha256_and_size(upload)
    job_id = uuid.uuid4()
    key = inputs_storage().save(f"{owner.pk}/{job_id}/{name}", File(upload.file, name=name))
    return job_create_from_stored(
        owner=owner, key=key, name=name, size=size, reference=reference, sha256=sha256, job_id=job_id,
        source_names=chosen, region_set=region_set, title=title, pick=pick, flags=flags,
    )  # fmt: skip


def checked_input(
    *, text: IO[bytes], name: str, reference_name: str | None, max_bytes: int, read_through: bool = True
) -> Reference:
    """The reference a VCF goes to (named, else the one its header fits), after the checks made
    before a job is queued and before the command line annotates: its header, its build, its
    first REF alleles against the genome and, with ``read_through``, its gzip stream to the end."""
    text.seek(0)
    reference = choose_reference(reference_name=reference_name, handle=text, name=name)
    text.seek(0)
    check_vcf_header(text, name=name, reference=reference)
    text.seek(0)
    check_vcf_body(text, name=name, reference=reference, max_bytes=max_bytes, read_through=read_through)
    return reference


@contextmanager
def vcf_text(handle: IO[bytes], *, name: str, path: str | None = None) -> Iterator[IO[bytes]]:
    """A file's bytes as VCF text: ``handle`` itself, or for a BCF file its records as htslib writes
    them in VCF (read from ``path``, else from a temporary copy, as htslib reads paths)."""
    if not holds_bcf(handle):
        yield handle
        return
    with tempfile.TemporaryDirectory(prefix="gas-bcf-") as scratch:
        if not path:
            path = os.path.join(scratch, "upload.bcf")
            with open(path, "wb") as copy:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    copy.write(block)
            handle.seek(0)
        try:
            text = BcfTextFile(path)
        except BcfError as exc:
            raise UploadRejected(f"{name}: {exc}.") from None
        try:
            yield text  # type: ignore[misc]
        except BcfError as exc:
            raise UploadRejected(f"{name}: {exc}.") from None
        finally:
            text.close()


PICK_CHOICES = [
    ("", "every entry (all transcripts)"),
    ("flag_pick", "all, one per variant flagged PICK=1 (--flag_pick)"),
    ("flag_pick_allele", "all, one per allele flagged PICK=1 (--flag_pick_allele)"),
    ("pick", "one per variant (--pick)"),
    ("pick_allele", "one per allele (--pick_allele)"),
    ("per_gene", "one per gene (--per_gene)"),
]
FLAG_CHOICES = [(option, f"{', '.join(columns)} (--{option})") for option, columns in FLAG_OPTIONS.items()]


def _chosen_sources(
    *, owner: User, reference: Reference, source_names: Sequence[str] | None, region_set: RegionSet | None
) -> list[str]:
    if region_set is not None and region_set.owner_id != owner.pk:
        raise UploadRejected("That region file is not yours.", status=404)
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
        )
        job_enqueue(job=job)
    logger.info("job %s created for user %s (%s, %s bytes)", job.id, owner.pk, name, size)
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
    if Job.objects.filter(id=job_id, status=JobStatus.RUNNING, heartbeat_at__lt=stale).update(**claim):
        logger.warning("job %s: its previous worker stopped answering; retrying", job_id)
        return ClaimOutcome(Job.objects.get(id=job_id), "reclaimed")
    status = Job.objects.filter(id=job_id).values_list("status", flat=True).first()
    if status is None:
        return ClaimOutcome(None, "deleted")
    return ClaimOutcome(None, f"already {status.lower()}")


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


def job_limits(user: User) -> JobLimits:
    """What one job of ``user``'s plan may do (decompressed bytes, records, wall-clock seconds)."""
    premium = user.is_premium
    return JobLimits(
        max_bytes=settings.GAS_PREMIUM_MAX_INPUT_BYTES if premium else settings.GAS_FREE_MAX_INPUT_BYTES,
        max_records=settings.GAS_PREMIUM_MAX_RECORDS if premium else settings.GAS_FREE_MAX_RECORDS,
        max_seconds=settings.GAS_JOB_MAX_SECONDS,
        plan=user.get_plan_display(),
    )


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
    write_table(output, table)
    storage = results_storage()
    prefix = attempt_prefix(job)
    keys = {}
    for kind, path in (("result", output), ("log", log), ("summary", summary), ("table", table)):
        with open(path, "rb") as handle:
            keys[kind] = storage.save(f"{prefix}/{names[kind]}", File(handle, name=names[kind]))
        fault_point(f"job.after_store_{kind}")
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
            result_size=output.stat().st_size,
            reference_checksum=reference.checksum,
            engine_version=ENGINE_VERSION,
            error_message="",
            warnings=job_warnings(stats, build=reference.build) + source_warnings,
            sources=applied,
        )
        if not updated:  # deleted, failed by staff or taken over meanwhile: drop this attempt's own files
            for key in keys.values():
                storage.delete(key)
            return job
        job.refresh_from_db()
        _job_finished(job)  # (the follow-ups commit with the completion)
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
            _job_finished(job)
    logger.warning("job %s: failed: %s", job.id, message)
    return job


def _job_finished(job: Job) -> None:
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
    outbox.mail(
        to=job.owner.email,
        subject=f"Your annotation of {job.input_name} {verb}",
        template="emails/job_finished",
        context={"job": job, "url": job_url(job)},
    )


def job_rerun(*, job: Job) -> bool:
    """Staff: run a failed job again from its stored input."""
    with transaction.atomic():
        updated = Job.objects.filter(id=job.id, status=JobStatus.FAILED).update(
            status=JobStatus.PENDING, attempts=0, progress=0.0, error_message="", started_at=None, completed_at=None
        )
        if updated:
            job_enqueue(job=job)
    return bool(updated)


# -- deleting ------------------------------------------------------------------------------
class JobNotFinished(Exception):
    """Only finished jobs can be deleted."""


def job_delete(*, job: Job) -> None:
    if job.status not in FINISHED_STATUSES:
        raise JobNotFinished("A job can be deleted once it has finished.")
    for storage, key in (
        (inputs_storage(), job.input_key),
        (results_storage(), job.result_key),
        (results_storage(), job.log_key),
        (results_storage(), job.summary_key),
        (results_storage(), job.table_key),
    ):
        if key:
            storage.delete(key)
    job.delete()
    logger.info("job %s: deleted with its files", job.id)


# -- API tokens ------------------------------------------------------------------------------
def api_token_create(*, user: User, name: str) -> tuple[ApiToken, str]:
    raw, key_hash = ApiToken.generate()
    token = ApiToken.objects.create(
        user=user, name=name.strip()[:100] or "token", key_hash=key_hash, key_start=raw[:12]
    )
    return token, raw


def api_token_revoke(*, user: User, token_id: int) -> bool:
    return bool(ApiToken.objects.filter(user=user, id=token_id, revoked_at=None).update(revoked_at=timezone.now()))


def api_token_authenticate(raw: str) -> User | None:
    token = ApiToken.lookup(raw)
    if token is None or not token.user.is_active:
        return None
    ApiToken.objects.filter(id=token.id).update(last_used_at=timezone.now())
    return token.user


def reference_choices() -> list[tuple[str, str]]:
    """The upload form's choices: detection first, then each installed bundle."""
    choices = [("", "detect from the file's header (##contig lengths, ##reference)")]
    for bundle in installed_references():
        source = source_label(bundle)
        choices.append((bundle["name"], f"{bundle['name']} ({bundle['build']}{', ' + source if source else ''})"))
    return choices


def reference_summaries() -> list[dict[str, str]]:
    """What each installed reference covers, in words for the upload page."""
    found = []
    for bundle in installed_references():
        contigs = bundle.get("annotated_contigs", [])
        shown = ", ".join(contigs[:25]) + (f" and {len(contigs) - 25} more" if len(contigs) > 25 else "")
        found.append({"name": bundle["name"], "build": bundle["build"], "contigs": shown or "none"})
    return found
