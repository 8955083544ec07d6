"""A job's variant table on the results storage: built beside the result, read through a local copy.

On the filesystem backend the stored file is queried in place. On S3 it is fetched once into
``GAS_TABLE_CACHE_DIR`` (named by job and key, written under a temporary name and renamed) and
queried there: a page view then reads only the columns and row groups it needs, never the whole
object again. The cache is trimmed to ``GAS_TABLE_CACHE_BYTES``, least recently used first.

The table is derived from the result VCF, so it follows the result's life: deleted with the job,
let go when the result moves to cold storage, and built again from the restored result (or for
a job finished before tables existed) when it is next needed.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.files import File

from jobs.models import Job, JobStatus
from jobs.results.downloads import ResultNotAvailable, result_unavailable_reason
from jobs.results.queries import OldTable, VariantTable
from jobs.results.writer import write_table
from jobs.storage import results_storage

logger = logging.getLogger(__name__)


def table_name(job: Job) -> str:
    stem = job.result_name.removesuffix(".gz").removesuffix(".vcf").removesuffix(".annot") or "result"
    return f"{stem}.variants.parquet"


def table_key(job: Job) -> str:
    """Where the job's table is kept: beside its result."""
    return f"{job.result_key.rsplit('/', 1)[0]}/{table_name(job)}"


def genotypes_key(key: str) -> str:
    """Where the genotype table of the variant table at ``key`` is kept (a VCF with samples has one):
    named after it, so that it is stored, dropped, swept and deleted with it."""
    return key.removesuffix(".variants.parquet") + ".genotypes.parquet" if key else ""


def write_tables(vcf: Path, table: Path) -> Path | None:
    """Write a result's variant table and, for a VCF with samples, its genotype table beside it
    (returned; None without samples)."""
    genotypes = table.with_name(table.name.removesuffix(".variants.parquet") + ".genotypes.parquet")
    write_table(vcf, table, genotypes_path=genotypes, extra_fields=settings.GAS_SAMPLE_FORMAT_FIELDS)
    return genotypes if genotypes.exists() else None


def store_genotypes(*, table_key: str, path: Path | None) -> None:
    """Store (or, ``path`` None, remove) the genotype table that goes with the variant table at
    ``table_key``, replacing any earlier copy."""
    storage = results_storage()
    key = genotypes_key(table_key)
    if storage.exists(key):
        storage.delete(key)
    if path is None:
        return
    with open(path, "rb") as handle:
        saved = storage.save(key, File(handle, name=key.rsplit("/", 1)[-1]))
    if saved != key:  # (the name is derived: a storage that chose another is refused)
        storage.delete(saved)
        raise OSError(f"the results storage stored the genotype table as {saved}, not {key}")


def table_build(*, job: Job) -> str:
    """Build the job's table from its stored result, record it and store it; returns the key.
    The key is recorded before the file is stored (the storage sweep deletes at once a result file
    no job names: a table stored first could be swept before it is recorded)."""
    key = table_key(job)
    if job.table_key != key and not Job.objects.filter(id=job.id, status=JobStatus.COMPLETED).update(table_key=key):
        raise ResultNotAvailable("This job no longer exists.")
    job.table_key = key
    saved = table_store(job=job)
    if saved != key:  # (the storage chose another name)
        Job.objects.filter(id=job.id).update(table_key=saved)
        job.table_key = saved
    logger.info("job %s: variant table built (%s)", job.id, saved)
    return saved


def table_store(*, job: Job) -> str:
    """Build the job's table from its stored result and store it at table_key(job), replacing any
    earlier copy there (the caller records the key, before: see table_build); returns the name
    the storage gave it."""
    storage = results_storage()
    with tempfile.TemporaryDirectory(prefix="gas-table-") as scratch:
        local = Path(scratch) / "result.vcf.gz"
        with storage.open(job.result_key, "rb") as source, open(local, "wb") as target:
            for block in iter(lambda: source.read(1 << 20), b""):
                target.write(block)
        built = Path(scratch) / "result.variants.parquet"
        genotypes = write_tables(local, built)
        wanted = table_key(job)
        if storage.exists(wanted):
            storage.delete(wanted)
        with open(built, "rb") as handle:
            saved = storage.save(wanted, File(handle, name=table_name(job)))
        store_genotypes(table_key=saved, path=genotypes)
        return saved


def table_drop(*, job: Job) -> None:
    """Let the table go (its result is going to cold storage); it is built again on restore."""
    if job.table_key:
        results_storage().delete(genotypes_key(job.table_key))
        results_storage().delete(job.table_key)
        Job.objects.filter(id=job.id).update(table_key="")
        job.table_key = ""


def table_for(job: Job) -> VariantTable:
    """The job's table, ready to query; ResultNotAvailable says why when it cannot be."""
    if job.status != JobStatus.COMPLETED:
        raise ResultNotAvailable("The variant table is ready when the job has completed.")
    reason = result_unavailable_reason(job)
    if reason:
        raise ResultNotAvailable(reason)
    storage = results_storage()
    if not job.table_key or not storage.exists(job.table_key):
        table_build(job=job)
    try:
        table = _opened(job)
    except OldTable:  # (written by an earlier version: built again)
        table_build(job=job)
        return _opened(job)
    if table.samples and table.genotypes_path is None:  # (its genotype table lost: both built again)
        table_build(job=job)
        return _opened(job)
    return table


def _opened(job: Job) -> VariantTable:
    storage = results_storage()
    genotypes = genotypes_key(job.table_key)
    try:
        local, genotypes_path = Path(storage.path(job.table_key)), Path(storage.path(genotypes))
        return VariantTable(local, genotypes_path if genotypes_path.is_file() else None)
    except NotImplementedError:  # (a remote backend: local copies)
        table = VariantTable(_cached(job, job.table_key))
        if table.samples and storage.exists(genotypes):
            table = VariantTable(table.path, _cached(job, genotypes))
        return table


def _cached(job: Job, key: str) -> Path:
    cache = Path(settings.GAS_TABLE_CACHE_DIR)
    cache.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    path = cache / f"{job.id}-{digest}.parquet"
    if path.is_file():
        os.utime(path)  # (recently used)
        return path
    handle, partial = tempfile.mkstemp(dir=cache, prefix=".partial-")
    try:
        with os.fdopen(handle, "wb") as target, results_storage().open(key, "rb") as source:
            for block in iter(lambda: source.read(1 << 20), b""):
                target.write(block)
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    _trim(cache, keep=path)
    return path


def _trim(cache: Path, *, keep: Path) -> None:
    files = sorted((p for p in cache.glob("*.parquet") if p != keep), key=lambda p: p.stat().st_mtime, reverse=True)
    total = keep.stat().st_size
    for path in files:
        total += path.stat().st_size
        if total > settings.GAS_TABLE_CACHE_BYTES:
            path.unlink(missing_ok=True)
