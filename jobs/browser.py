"""The results a researcher reads: the variant browser, the gene view, the summary and the exports.

Pages and API routes alike go through these selectors; each takes the owner's job (others' are a
404 before this) and the request's filter parameters, and answers from the job's variant table.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import QueryDict, StreamingHttpResponse
from django.utils.http import content_disposition_header

from jobs.annotation.terms import TERMS
from jobs.models import Job
from jobs.services import results_storage
from jobs.tables import table_for
from jobs.variants import (
    IMPACTS,
    PAGE_FIELDS,
    SORTS,
    VARIANT_CLASSES,
    Cursor,
    TableError,
    VariantFilter,
    VariantTable,
    bgzf_stream,
    filtered_records,
    parse_filter,
)

logger = logging.getLogger(__name__)

PAGE_SIZES = (25, 50, 100, 200)
MAX_LIMIT = 1000
CONSEQUENCE_TERMS = sorted(TERMS, key=lambda term: TERMS[term][0])
ENSEMBL = {"GRCh37": "https://grch37.ensembl.org/Homo_sapiens", "GRCh38": "https://www.ensembl.org/Homo_sapiens"}


def filter_params(query: QueryDict | dict[str, Any]) -> dict[str, Any]:
    """URL parameters as parse_filter takes them (a repeated parameter: its list)."""
    if isinstance(query, QueryDict):
        return {key: values if len(values) > 1 else values[0] for key, values in query.lists()}
    return dict(query)


@dataclass
class VariantPage:
    filter: VariantFilter
    rows: list[dict[str, Any]]
    count: int
    offset: int
    limit: int
    sort: str
    next_cursor: str | None
    previous_cursor: str | None


def variant_page(
    *, job: Job, params: dict[str, Any], default_limit: int = 50, fields: tuple[str, ...] | None = PAGE_FIELDS
) -> VariantPage:
    """A page of the variants the filter shows, each row with its transcripts' entries
    (``entries``, with ``fields``: None for every CSQ field) and its links out; a TableError names
    a bad parameter."""
    table = table_for(job)
    filt = parse_filter(params)
    sort = str(params.get("sort") or "position")
    limit = bounded_int(params.get("limit"), default_limit, 1, MAX_LIMIT, "limit")
    cursor = Cursor.parse(str(params.get("cursor") or "0"))
    rows = _remembered(job, ("page", repr(filt), sort, str(cursor), limit, fields),
                       lambda: table.page(filt, sort=sort, cursor=cursor, limit=limit, fields=fields))  # fmt: skip
    count = variant_count(job=job, table=table, filt=filt)
    build = job_build(job)
    for row in rows:
        row["links"] = variant_links(row, build)
        row["terms"] = [term for term in str(row.get("Consequence") or "").split("&") if term]
    offset = cursor.offset
    following = offset + len(rows) < count and len(rows) == limit
    keyset = sort in ("position", "-position") and rows
    next_cursor = previous_cursor = None
    if following:
        next_cursor = str(Cursor(offset + limit, after=rows[-1]["v"]) if keyset else Cursor(offset + limit))
    if offset:
        back = max(0, offset - limit)
        previous_cursor = str(Cursor(back, before=rows[0]["v"]) if keyset and back else Cursor(back))
    return VariantPage(filt, rows, count, offset, limit, sort, next_cursor, previous_cursor)


def variant_count(*, job: Job, table: VariantTable, filt: VariantFilter) -> int:
    """How many variants the filter shows (the browser's live count)."""
    return _remembered(job, ("count", repr(filt)), lambda: table.count(filt))


# answers kept per web process (the default cache): a completed job's table never changes under its
# key (a rebuilt table gets its key anew), so a page or count asked again is not computed again
ANSWER_SECONDS = 600


def _remembered(job: Job, question: tuple[Any, ...], answer: Callable[[], Any]) -> Any:
    digest = hashlib.sha256(json.dumps([job.table_key, question], sort_keys=True, default=str).encode()).hexdigest()
    key = f"gas:answer:{job.id}:{digest[:32]}"
    found = cache.get(key)  # (a copy: the cache keeps answers pickled, and the caller adds links to rows)
    if found is None:
        found = answer()
        cache.set(key, found, ANSWER_SECONDS)
    return found


def bounded_int(value: Any, default: int, low: int, high: int, name: str) -> int:
    """A parameter as a whole number from ``low`` to ``high`` (``default`` when not given); a
    TableError names it otherwise."""
    if value in (None, ""):
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = None
    if number is None or not low <= number <= high:
        raise TableError(f"{name} {str(value)[:40]!r}: expected a whole number from {low:,} to {high:,}")
    return number


def job_build(job: Job) -> str:
    from jobs.references import reference_summary

    summary = reference_summary(job.reference_name)
    return summary["build"] if summary else ""


def variant_links(row: dict[str, Any], build: str) -> dict[str, str]:
    links: dict[str, str] = {}
    base = ENSEMBL.get(build)
    if base:
        chrom = str(row["chrom"]).removeprefix("chr")
        links["ensembl"] = f"{base}/Location/View?r={chrom}:{row['pos']}-{row['pos']}"
        if str(row.get("Gene", "")).startswith("ENSG"):
            links["gene"] = f"{base}/Gene/Summary?g={row['Gene']}"
    known = [rs for rs in str(row.get("id", "")).split(";") if rs.startswith("rs")]
    known += [rs for rs in str(row.get("Existing_variation") or "").split("&") if rs.startswith("rs")]
    if known:
        links["dbsnp"] = f"https://www.ncbi.nlm.nih.gov/snp/{known[0]}"
    if row.get("SYMBOL") and "gene" not in links:
        links["gene"] = f"https://www.genenames.org/tools/search/#!/?query={row['SYMBOL']}"
    return links


def gene_page(*, job: Job, params: dict[str, Any]) -> dict[str, Any]:
    table = table_for(job)
    filt = parse_filter(params)
    sort = str(params.get("sort") or "variants")
    limit = bounded_int(params.get("limit"), 100, 1, MAX_LIMIT, "limit")
    offset = bounded_int(params.get("cursor") or params.get("offset"), 0, 0, 10**9, "cursor")
    return {
        "filter": filt,
        "genes": table.genes(filt, sort=sort, limit=limit, offset=offset),
        "count": table.gene_count(filt),
        "sort": sort,
        "offset": offset,
        "limit": limit,
    }


def job_summary(*, job: Job) -> dict[str, Any]:
    """The charts' counts (from the table, kept in the cache per table) and the input QC."""
    table = table_for(job)
    key = f"gas:summary:{job.table_key}"
    charts = cache.get(key)
    if charts is None:
        charts = table.summary()
        cache.set(key, charts, 24 * 3600)
    return {"charts": charts, "qc": job_qc(job=job)}


def job_qc(*, job: Job) -> dict[str, Any]:
    """What the input held and what the engine could not use, from the job's summary file."""
    stats: dict[str, Any] = {}
    if job.summary_key:
        try:
            with results_storage().open(job.summary_key, "rb") as handle:
                stats = json.load(handle)
        except (OSError, ValueError):
            logger.warning("job %s: summary file unreadable", job.id)
    uncovered = stats.get("uncovered_contigs") or {}
    return {
        "records": stats.get("records", job.records),
        "alleles": stats.get("alleles", job.alleles),
        "records_in_dbsnp": stats.get("records_in_dbsnp", job.records_in_dbsnp),
        "contigs_not_covered": uncovered,
        "records_on_contigs_not_covered": sum(uncovered.values()),
        "ref_mismatches": stats.get("ref_mismatches", 0),
        "alleles_skipped": stats.get("alleles_skipped", 0),
        "records_without_alt": stats.get("records_without_alt", 0),
        "records_failed": stats.get("records_failed", 0),
        "structural_not_annotated": stats.get("structural_not_annotated", 0),
        "warnings": list(job.warnings),
    }


def selected(params: dict[str, Any], name: str) -> list[str]:
    """The values of a multiple-choice filter in the URL (repeated, or comma-separated)."""
    raw = params.get(name) or []
    items = raw if isinstance(raw, list) else [raw]
    return [part.strip() for item in items for part in str(item).split(",") if part.strip()]


def chart_rows(counts: dict[str, int]) -> list[tuple[str, int, int]]:
    """(label, count, bar width in percent of the largest) for a chart drawn in HTML."""
    top = max(counts.values(), default=0) or 1
    return [(label, count, max(1, round(100 * count / top))) for label, count in counts.items()]


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
    filt = parse_filter(params)
    content_type, suffix = EXPORTS[fmt]
    slot = _ExportSlot.take()
    if fmt == "tsv":
        body: Iterator[bytes] = _paced(table.tsv_lines(filt))
    else:
        body = bgzf_stream(_paced(_filtered_vcf(job, table.records(filt))))
    stem = job.result_name.removesuffix(".vcf.gz").removesuffix(".annot") or "result"
    response = StreamingHttpResponse(slot.holding(body), content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(True, f"{stem}{suffix}")
    response["Cache-Control"] = "private, no-store"
    response["X-Accel-Buffering"] = "no"  # (a proxy passes it on as it comes)
    return response


class ExportsBusy(Exception):
    """Every export slot of this web process is streaming; the message says when to try again."""

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


FILTER_CHOICES = {
    "consequences": CONSEQUENCE_TERMS,
    "impacts": IMPACTS,
    "classes": VARIANT_CLASSES,
    "sorts": list(SORTS),
    "page_sizes": PAGE_SIZES,
}
