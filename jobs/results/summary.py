"""A job's summary: the charts' counts (kept with the job, so an archived result keeps its charts),
each bar a link that filters the variant table (added to the filters in force), and the input's QC."""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import urlencode

from jobs.models import Job
from jobs.results.tables import table_for
from jobs.storage import results_storage

logger = logging.getLogger(__name__)

CHART_TITLES = {
    "most_severe_consequence": "Most severe consequence", "impact": "Impact", "variant_class": "Variant class",
    "chromosome": "Chromosome", "coding": "Coding or not",
}  # fmt: skip


def job_summary(*, job: Job) -> dict[str, Any]:
    """The charts' counts and the input QC."""
    return {"charts": job_charts(job=job), "qc": job_qc(job=job)}


def job_charts(*, job: Job) -> dict[str, Any]:
    """The charts' counts: the job's own (kept at completion, so a result in cold storage keeps its
    charts), else counted from the table once and kept (a job finished before they were kept)."""
    if not job.charts:
        charts = table_for(job).summary()  # (raises ResultNotAvailable while the result is in cold storage)
        Job.objects.filter(id=job.id).update(charts=charts)
        job.charts = charts
    return job.charts


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


def bar_filter(key: str, label: str) -> dict[str, str]:
    """The variant-table filter that shows exactly a bar's variants (counted on each variant's most
    severe entry, as the charts are)."""
    if label == "not annotated":
        return {"annotated": "no"}
    if key in ("most_severe_consequence", "impact"):
        return {"most_severe": label}
    if key == "coding":
        return {"most_severe": label.replace("-", "_")}
    return {_BAR_PARAMS[key]: label} if key in _BAR_PARAMS else {}


_BAR_PARAMS = {"variant_class": "class", "chromosome": "region"}


def charts_with_links(charts: dict[str, Any], *, params: dict[str, Any] | None = None) -> list[tuple[str, str, list]]:
    """(key, title, rows) per chart, each row (label, count, bar width in percent of the largest, the
    query string of its filter added to ``params``, the filters in force)."""
    kept = {key: value for key, value in (params or {}).items() if key not in ("cursor", "page")}
    drawn = []
    for key, title in CHART_TITLES.items():
        counts = charts.get(key) or {}
        top = max(counts.values(), default=0) or 1
        rows = [
            (label, count, max(1, round(100 * count / top)), "?" + urlencode(kept | bar_filter(key, label), doseq=True))
            for label, count in counts.items()
        ]
        drawn.append((key, title, rows))
    return drawn
