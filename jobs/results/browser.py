"""The results a researcher reads: the variant browser, the gene view and the summary.

Pages and API routes alike go through these selectors; each takes the owner's job (others' are a
404 before this) and the request's filter parameters, and answers from the job's variant table.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlencode

from django.core.cache import cache
from django.http import QueryDict

from jobs.annotation.terms import TERMS
from jobs.models import AnnotationSource, Job
from jobs.results.filters import MAX_OFFSET, Cursor, VariantFilter, parse_filter
from jobs.results.gene_panel import gene_panel
from jobs.results.queries import SORTS, VariantTable
from jobs.results.samples import resolve, shown_samples
from jobs.results.schema import IMPACTS, PAGE_FIELDS, VARIANT_CLASSES, TableError
from jobs.results.tables import table_for
from jobs.results.value_filters import resolve_where

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


def job_filter(*, job: Job, params: dict[str, Any], table: VariantTable) -> VariantFilter:
    """The filter of URL parameters with its source fields typed by the job's sources, its sample
    names checked against the job's samples, its families from the job's pedigree and its
    tumour/normal pair (a TableError says what does not fit)."""
    filt = parse_filter(params)
    if filt.values:
        filt = replace(filt, values=resolve_where(filt.values, types=source_field_types(job)))
    return resolve(filt, samples=table.samples, pedigree=job.pedigree, normal=job.normal_sample)


def source_field_types(job: Job) -> dict[str, str]:
    """Each CSQ column of the job's sources with its header Type (Float, Integer, String, Flag): as
    recorded when the job ran, else as the source is registered (a job run before types were kept)."""
    applied = [entry for entry in job.sources or [] if not entry.get("user_regions")]
    missing = [entry["name"] for entry in applied if "field_types" not in entry]
    registered = {source.name: source.field_types for source in AnnotationSource.objects.filter(name__in=missing)}
    types: dict[str, str] = {}
    for entry in applied:
        declared = entry.get("field_types", registered.get(entry["name"], {})) or {}
        for name in entry.get("fields", []):
            types[f"{entry['short_name']}_{name}"] = str((declared.get(name) or {}).get("type", "String"))
    return types


# the column chooser's sets; "clinical" also takes the sources' fields, "everything" every CSQ field
COLUMN_SETS = {
    "coding": ("EXON", "INTRON", "cDNA_position", "CDS_position", "Protein_position", "Amino_acids", "Codons"),
    "clinical": ("SIFT", "PolyPhen", "CLIN_SIG", "SOMATIC", "PHENO"),
}
MAX_COLUMNS = 60
NO_COLUMNS = "none"  # (kept as the user's choice when they chose no extra column, unlike never choosing)


def chosen_columns(
    *, params: dict[str, Any], columns: list[str], sources: list[str], saved: list[str], defaults: Sequence[str] = ()
) -> list[str]:
    """The extra columns the table shows: ``columns=`` (names or a set: coding, clinical, everything;
    ``none`` for none), else the user's last choice (``[NO_COLUMNS]`` when it was none), else
    ``defaults``; each a field of this job's table (a TableError names one that is not)."""
    raw = params.get("columns")
    if raw is None and saved == [NO_COLUMNS]:
        return []
    if raw is None:
        kept = saved or defaults
        return [name for name in kept if name in columns and name not in PAGE_FIELDS]
    wanted: list[str] = []
    for name in selected(params, "columns"):
        if name == NO_COLUMNS:
            continue
        if name == "everything":
            wanted += columns
        elif name in COLUMN_SETS:
            wanted += [column for column in COLUMN_SETS[name] if column in columns]
            if name == "clinical":
                wanted += sources
        elif name in columns:
            wanted.append(name)
        else:
            raise TableError(f"column {name[:60]!r}: not a field of this job (its fields: {', '.join(columns[:15])}…)",
                             code="invalid_parameter")  # fmt: skip
    return [name for name in dict.fromkeys(wanted) if name not in PAGE_FIELDS][:MAX_COLUMNS]


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
    samples: list[str] = field(default_factory=list)  # (whose genotypes the rows carry)
    all_samples: list[str] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)  # (the extra columns shown)
    all_columns: list[str] = field(default_factory=list)

    @property
    def first_shown(self) -> int:
        """The 1-based number of the page's first row (0 for an empty page)."""
        return self.offset + 1 if self.rows else 0

    @property
    def last_shown(self) -> int:
        return self.offset + len(self.rows)

    @property
    def column_span(self) -> int:
        """The table's columns: eight, the chosen ones, and the genotypes'."""
        return 8 + len(self.columns) + (1 if self.samples else 0)

    @property
    def page_number(self) -> int:
        return self.offset // self.limit + 1

    @property
    def page_count(self) -> int:
        return max(1, -(-self.count // self.limit))

    @property
    def page_links(self) -> list[tuple[int, str] | None]:
        """Numbered pages to link: the first, the last and two either side of this one (None: a gap);
        each with its cursor (an offset: any sort pages by it)."""
        wanted = sorted({1, self.page_count, *range(max(1, self.page_number - 2),
                                                       min(self.page_count, self.page_number + 2) + 1)})  # fmt: skip
        links: list[tuple[int, str] | None] = []
        for number in wanted:
            if links and links[-1] is not None and number > links[-1][0] + 1:
                links.append(None)
            links.append((number, str(Cursor((number - 1) * self.limit))))
        return links


def variant_page(
    *, job: Job, params: dict[str, Any], default_limit: int = 50, fields: tuple[str, ...] | None = PAGE_FIELDS,
    saved_columns: list[str] | None = None,
) -> VariantPage:
    """A page of the variants the filter shows, each row with its transcripts' entries
    (``entries``, with ``fields``: None for every CSQ field) and its links out; a TableError names
    a bad parameter."""
    table = table_for(job)
    filt = job_filter(job=job, params=params, table=table)
    sort = str(params.get("sort") or "position")
    limit = bounded_int(params.get("limit"), default_limit, 1, MAX_LIMIT, "limit")
    cursor = Cursor.parse(str(params.get("cursor") or "0"))
    if params.get("page") and not params.get("cursor"):  # (a page number typed in: its offset)
        cursor = Cursor((bounded_int(params.get("page"), 1, 1, MAX_OFFSET // limit, "page") - 1) * limit)
    samples = shown_samples(filt, table.samples)
    columns: list[str] = []
    if fields is not None:  # (the browser's page: its chosen columns too; the API's has every field)
        sources = [name for name in source_field_types(job) if name in table.csq_columns]
        sources += [entry["short_name"] for entry in job.sources or [] if entry["short_name"] in table.csq_columns]
        firsts = [f"{entry['short_name']}_{entry['fields'][0]}" for entry in job.sources or [] if entry.get("fields")]
        columns = chosen_columns(params=params, columns=table.csq_columns, sources=sources, saved=saved_columns or [],
                                 defaults=firsts)  # fmt: skip
        fields = (*fields, *columns)

    def answer() -> list[dict[str, Any]]:
        found = table.page(filt, sort=sort, cursor=cursor, limit=limit, fields=fields)
        genotypes = table.sample_genotypes(sorted({row["v"] for row in found}), samples)
        for row in found:
            row["samples"] = genotypes.get(row["v"], {})
        return found

    rows = remembered(job, ("page", repr(filt), sort, str(cursor), limit, fields, samples), answer)
    count = variant_count(job=job, table=table, filt=filt)
    build = job_build(job)
    for row in rows:
        row["links"] = variant_links(row, build)
        row["genotype_list"] = [{"sample": name, **genotype} for name, genotype in (row.get("samples") or {}).items()]
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
    for row in rows:
        row["extra"] = [(name, "" if row.get(name) is None else str(row.get(name))) for name in columns]
    return VariantPage(filt, rows, count, offset, limit, sort, next_cursor, previous_cursor, samples, table.samples,
                       columns, table.csq_columns)  # fmt: skip


def variant_count(*, job: Job, table: VariantTable, filt: VariantFilter) -> int:
    """How many variants the filter shows (the browser's live count)."""
    return remembered(job, ("count", repr(filt)), lambda: table.count(filt))


# answers kept per web process (the default cache): a completed job's table never changes under its
# key (a rebuilt table gets its key anew), so a page or count asked again is not computed again
ANSWER_SECONDS = 600


def remembered(job: Job, question: tuple[Any, ...], answer: Callable[[], Any]) -> Any:
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
        raise TableError(
            f"{name} {str(value)[:40]!r}: expected a whole number from {low:,} to {high:,}", code="invalid_parameter"
        )
    return number


def job_build(job: Job) -> str:
    from jobs.references.bundles import reference_summary

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
    filt = job_filter(job=job, params=params, table=table)
    sort = str(params.get("sort") or "variants")
    limit = bounded_int(params.get("limit"), 100, 1, MAX_LIMIT, "limit")
    offset = page_start(cursor=str(params.get("cursor") or ""), offset=params.get("offset"))
    return {
        "filter": filt,
        "panel": gene_panel(job=job, filt=filt, gene=filt.genes[0]) if len(filt.genes) == 1 else None,
        "genes": table.genes(filt, sort=sort, limit=limit, offset=offset),
        "count": table.gene_count(filt),
        "sort": sort,
        "offset": offset,
        "limit": limit,
    }


def page_start(*, cursor: str, offset: Any) -> int:
    """Where a list paged by offset starts: its cursor, else the former ``offset`` parameter (each
    checked: a TableError names a bad one)."""
    return Cursor.parse(cursor).offset if cursor else bounded_int(offset, 0, 0, MAX_OFFSET, "offset")


def selected(params: dict[str, Any], name: str) -> list[str]:
    """The values of a multiple-choice filter in the URL (repeated, or comma-separated)."""
    raw = params.get(name) or []
    items = raw if isinstance(raw, list) else [raw]
    return [part.strip() for item in items for part in str(item).split(",") if part.strip()]


_CHIP_NAMES = {
    "consequence": "consequence", "impact": "impact", "gene": "gene", "biotype": "biotype", "region": "region",
    "class": "class", "dbsnp": "in dbSNP", "annotated": "annotated", "q": "search", "sample": "samples",
    "zygosity": "zygosity", "min_dp": "min DP", "min_gq": "min GQ", "min_vaf": "min VAF", "genotype": "genotype",
    "carrier_any": "carried by any of", "carrier_all": "carried by all of", "carrier_none": "carried by none of",
    "max_carriers": "in at most", "inheritance": "inheritance", "somatic": "somatic", "where": "where",
    "most_severe": "most severe",
}  # fmt: skip


def filter_chips(filt: VariantFilter, params: dict[str, Any]) -> list[tuple[str, str]]:
    """The active filters as removable chips: (what it filters, the URL without it)."""
    chips = []
    for name, value in filt.query().items():
        if name == "where":  # (each condition a chip of its own)
            conditions = [str(item) for item in (params.get("where") or [])] if isinstance(
                params.get("where"), list) else [str(params.get("where"))]  # fmt: skip
            for condition in value:
                others = [item for item in conditions if item.replace(" ", "") != condition]
                kept = {key: values for key, values in params.items() if key not in ("where", "cursor")}
                chips.append((f"where {condition}", "?" + urlencode(kept | {"where": others}, doseq=True)))
        elif name in _CHIP_NAMES:
            kept = {key: values for key, values in params.items() if key not in (name, "cursor")}
            shown = ", ".join(value) if isinstance(value, list) else value
            chips.append((f"{_CHIP_NAMES[name]}: {shown}", "?" + urlencode(kept, doseq=True)))
    return chips


FILTER_CHOICES = {
    "consequences": CONSEQUENCE_TERMS,
    # the consequence picker's groups: the terms of each impact, most severe first
    "consequence_groups": [(impact, [t for t in CONSEQUENCE_TERMS if TERMS[t][1] == impact]) for impact in IMPACTS],
    "impacts": IMPACTS,
    "classes": VARIANT_CLASSES,
    "sorts": list(SORTS),
    "page_sizes": PAGE_SIZES,
}
