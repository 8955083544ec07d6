"""Filtered exports as streamed responses: TSV or a bgzipped VCF, a bounded number per web process,
paced together so that pages served by the same process do not wait behind them."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.http import StreamingHttpResponse
from django.utils.http import content_disposition_header

from gas_site.errors import ServiceError
from jobs.models import Job
from jobs.results.bgzf import bgzf_stream, filtered_records
from jobs.results.browser import job_filter
from jobs.results.samples import shown_samples
from jobs.results.schema import TableError
from jobs.results.tables import table_for
from jobs.storage import results_storage

logger = logging.getLogger(__name__)


EXPORTS = {
    "tsv": ("text/tab-separated-values; charset=utf-8", ".variants.tsv"),
    "vcf": ("application/gzip", ".filtered.vcf.gz"),
}


def export_response(*, job: Job, params: dict[str, Any], fmt: str) -> StreamingHttpResponse:
    """What the filter shows as a file, streamed as it is produced: TSV (one row per variant x
    transcript entry) or a filtered VCF (the result's header, the matching records whole,
    bgzipped). The first bytes leave at once and memory stays bounded whatever the job's size; a
    web worker serves it from one of its threads (gunicorn.conf.py) while the others answer."""
    if fmt not in EXPORTS:
        raise TableError(f"format {fmt!r}: expected tsv or vcf")
    table = table_for(job)
    filt = job_filter(job=job, params=params, table=table)
    content_type, suffix = EXPORTS[fmt]
    slot = _ExportSlot.take()
    if fmt == "tsv":
        body: Iterator[bytes] = _paced(table.tsv_lines(filt, samples=shown_samples(filt, table.samples)))
    else:
        body = bgzf_stream(_paced(_filtered_vcf(job, table.records(filt))))
    stem = job.result_name.removesuffix(".vcf.gz").removesuffix(".annot") or "result"
    response = StreamingHttpResponse(slot.holding(body), content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(True, f"{stem}{suffix}")
    response["Cache-Control"] = "private, no-store"
    response["X-Accel-Buffering"] = "no"  # (a proxy passes it on as it comes)
    return response


class ExportsBusy(ServiceError):
    """Every export slot of this web process is streaming; the message says when to try again."""

    code = "busy"
    retry_after = 30


class _ExportSlot:
    """One of the GAS_EXPORTS_PER_PROCESS exports this process streams at once, held from the
    request until its response is closed (sent whole, or the client went away)."""

    _lock = threading.Lock()
    _busy = 0

    def __init__(self) -> None:
        self._held = True

    @classmethod
    def take(cls) -> _ExportSlot:
        with cls._lock:
            if cls._busy >= settings.GAS_EXPORTS_PER_PROCESS:
                wait = ExportsBusy.retry_after
                raise ExportsBusy(f"{cls._busy} exports are being downloaded from this server; try again in {wait} s.")
            cls._busy += 1
        return cls()

    def release(self) -> None:
        with self._lock:
            if self._held:
                self._held = False
                type(self)._busy -= 1

    def holding(self, body: Iterator[bytes]) -> _Holding:
        return _Holding(body, self)


class _Holding:
    """An export's body that gives its slot back when the response closes (Django closes it,
    sent or not; a body never started would not run a generator's ``finally``)."""

    def __init__(self, body: Iterator[bytes], slot: _ExportSlot) -> None:
        self.body, self.slot = body, slot

    def __iter__(self) -> Iterator[bytes]:
        return self.body

    def close(self) -> None:
        try:
            close = getattr(self.body, "close", None)
            if close is not None:
                close()
        finally:
            self.slot.release()


class _ExportPace:
    """The text all of this process's exports produce, at most GAS_EXPORT_BYTES_PER_SECOND together
    (half a second's worth may come at once): making a large export costs CPU, and pages served by
    the same processes must not wait behind it."""

    _lock = threading.Lock()
    _free_at = 0.0  # (monotonic time when what was produced so far is paid for)
    burst_seconds = 0.5

    @classmethod
    def spend(cls, size: int) -> None:
        rate = settings.GAS_EXPORT_BYTES_PER_SECOND
        if not rate:
            return
        with cls._lock:
            now = time.monotonic()
            cls._free_at = max(cls._free_at, now - cls.burst_seconds) + size / rate
            wait = cls._free_at - now - cls.burst_seconds
        if wait > 0:
            time.sleep(wait)


def _paced(chunks: Iterator[bytes]) -> Iterator[bytes]:
    for chunk in chunks:
        yield chunk
        _ExportPace.spend(len(chunk))


def _filtered_vcf(job: Job, records: Iterator[int]) -> Iterator[bytes]:
    with results_storage().open(job.result_key, "rb") as result:
        yield from filtered_records(result, records)
