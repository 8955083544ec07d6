"""The gene view's panel for one gene: its transcript drawn to scale (exons, coding part) with the
filtered variants along it, coloured by impact, and a count of each consequence (each a link that
adds that consequence to the filters). Drawn as SVG coordinates here; the template only places them."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from jobs.annotation.errors import AnnotationError
from jobs.annotation.terms import TERMS
from jobs.models import Job
from jobs.references.bundles import load_reference
from jobs.results.filters import Cursor
from jobs.results.tables import table_for

logger = logging.getLogger(__name__)

WIDTH = 1000  # the drawing's width in SVG units (it scales to its box)
MARGIN = 10
MAX_DRAWN = 2000  # variants drawn at most (the count says how many there are)
FIELDS = ("Consequence", "IMPACT", "Feature", "SYMBOL", "Gene", "HGVSc", "HGVSp")


TICK_TOP = {"high": 6, "moderate": 14, "low": 22, "modifier": 30}  # (the more severe, the taller)


@dataclass
class Tick:
    x: float
    impact: str
    term: str
    v: int
    title: str

    @property
    def top(self) -> int:
        return TICK_TOP.get(self.impact, TICK_TOP["modifier"])


@dataclass
class GenePanel:
    gene: str
    symbol: str
    count: int
    drawn: int
    transcript: str = ""
    strand: int = 1
    contig: str = ""
    start: int = 0
    end: int = 0
    exons: list[tuple[float, float]] = field(default_factory=list)  # (x, width)
    coding: list[tuple[float, float]] = field(default_factory=list)
    ticks: list[Tick] = field(default_factory=list)
    consequences: list[tuple[str, int, str]] = field(default_factory=list)  # (term, count, impact)
    width: int = WIDTH


def gene_panel(*, job: Job, filt: Any, gene: str) -> GenePanel:
    """The panel of ``gene`` (a symbol or id) under the filter ``filt`` (which names that gene)."""
    table = table_for(job)
    count = table.count(filt)
    rows = table.page(filt, sort="position", cursor=Cursor(), limit=MAX_DRAWN, fields=FIELDS) if count else []
    symbol = next((str(row.get("SYMBOL") or "") for row in rows if row.get("SYMBOL")), gene)
    panel = GenePanel(gene=gene, symbol=symbol, count=count, drawn=len(rows))
    if not rows:
        return panel
    terms = Counter(term for row in rows for term in str(row.get("Consequence") or "").split("&") if term)
    panel.consequences = sorted(
        ((term, number, TERMS.get(term, (99, "MODIFIER"))[1]) for term, number in terms.items()),
        key=lambda item: (TERMS.get(item[0], (99, ""))[0], item[0]),
    )
    features = Counter(str(row.get("Feature") or "") for row in rows if row.get("Feature"))
    transcript = _transcript(job, features.most_common(1)[0][0] if features else "", str(rows[0]["chrom"]))
    positions = [int(row["pos"]) for row in rows]
    lo, hi = min(positions), max(positions)
    if transcript is not None:
        lo, hi = min(lo, transcript.start), max(hi, transcript.end)
    hi = max(hi, lo + 1)
    scale = (WIDTH - 2 * MARGIN) / (hi - lo)

    def x_of(pos: int) -> float:
        return round(MARGIN + (pos - lo) * scale, 1)

    panel.contig, panel.start, panel.end = str(rows[0]["chrom"]), lo, hi
    if transcript is not None:
        panel.transcript, panel.strand = transcript.transcript_id, transcript.strand
        panel.exons = [(x_of(start), max(1.0, round((end - start + 1) * scale, 1))) for start, end in transcript.exons]
        first, last = transcript.coding_start, transcript.coding_end
        if first is not None and last is not None:
            panel.coding = [
                (x_of(max(start, first)), max(1.0, round((min(end, last) - max(start, first) + 1) * scale, 1)))
                for start, end in transcript.exons if end >= first and start <= last
            ]  # fmt: skip
    for row in rows:
        term = str(row.get("Consequence") or "").split("&")[0]
        change = str(row.get("HGVSp") or row.get("HGVSc") or "").rsplit(":", 1)[-1].replace("%3D", "=")
        panel.ticks.append(Tick(
            x=x_of(int(row["pos"])), impact=str(row.get("IMPACT") or "MODIFIER").lower(), term=term, v=int(row["v"]),
            title=f"{row['chrom']}:{row['pos']} {row['ref']}>{row['alt']} {term} {change}".strip(),
        ))  # fmt: skip
    return panel


def _transcript(job: Job, transcript_id: str, contig: str) -> Any:
    """The transcript most of the gene's variants name, from the job's reference (None when the
    reference or the transcript is not there: the panel then draws the variants alone)."""
    if not transcript_id:
        return None
    try:
        reference = load_reference(job.reference_name)
        name = reference.resolve_contig(contig)
        return reference.index(name).transcript(transcript_id) if name else None
    except (AnnotationError, OSError) as exc:
        logger.info("gene panel of job %s: no transcript %s (%s)", job.id, transcript_id, exc)
        return None
