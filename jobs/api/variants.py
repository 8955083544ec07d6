"""A finished job's results: its variants and genes filtered, sorted and paged, its summary, its exports."""

from __future__ import annotations

import uuid

from django.http.response import HttpResponseBase
from ninja import Field, Query, Router, Schema

from jobs.api.common import FILTER_DOC, PAGE_DOC, ApiRequest, Page, ResultsQuery, errors, page
from jobs.results import browser, exports, tables
from jobs.results import summary as job_summary
from jobs.services.selectors import job_of

router = Router()


# -- the results: variants, genes, summary, exports --------------------------------------------
class EntryOut(Schema):
    """One CSQ entry (a transcript, or the intergenic entry): every CSQ field under its VEP name."""

    fields: dict[str, str]


class GenotypeOut(Schema):
    """One sample's genotype of the variant (its ALT): as written, and read."""

    gt: str = Field(description="The genotype as written (0/1, 1|0, ./., 1/2)")
    zygosity: str = Field(description="For this ALT: hom_ref (no copy of it), het, hom_alt, or missing")
    phased: bool
    dp: int | None
    gq: int | None
    ad: str | None = Field(description="Allele depths as written")
    vaf: float | None = Field(description="This ALT's share of the allele depths")
    format: dict[str, str] = Field({}, description="The FORMAT fields the operator keeps beside these")


class VariantOut(Schema):
    chrom: str
    pos: int
    id: str
    ref: str
    alt: str
    variant_class: str
    consequence: str
    impact: str
    symbol: str
    gene: str
    feature: str
    biotype: str
    hgvsc: str
    hgvsp: str
    existing_variation: str
    in_dbsnp: bool
    carriers: int | None = Field(None, description="How many samples carry the ALT (null: the input has no samples)")
    samples: dict[str, GenotypeOut] = Field(
        {}, description="The named samples' genotypes (none named: all of up to 16 samples, else the first 8)"
    )
    entries: list[dict[str, str]]


class VariantsOut(Page[VariantOut]):
    variants: list[VariantOut] = Field(description="The same as items: the former key, kept for one release")


class GeneOut(Schema):
    gene: str
    symbol: str
    variants: int
    worst_consequence: str
    high: int
    moderate: int
    low: int
    modifier: int


class GenesOut(Page[GeneOut]):
    genes: list[GeneOut] = Field(description="The same as items: the former key, kept for one release")


def _variant_out(row: dict, csq_columns: list[str]) -> dict:
    fields = {name: str(row.get(name) or "") for name in csq_columns}
    return {
        "chrom": row["chrom"], "pos": row["pos"], "id": row["id"], "ref": row["ref"], "alt": row["alt"],
        "variant_class": row["variant_class"], "consequence": fields.get("Consequence", ""),
        "impact": fields.get("IMPACT", ""), "symbol": fields.get("SYMBOL", ""), "gene": fields.get("Gene", ""),
        "feature": fields.get("Feature", ""), "biotype": fields.get("BIOTYPE", ""), "hgvsc": fields.get("HGVSc", ""),
        "hgvsp": fields.get("HGVSp", ""), "existing_variation": fields.get("Existing_variation", ""),
        "in_dbsnp": row["in_dbsnp"], "carriers": row.get("carriers"), "samples": row.get("samples") or {},
        "entries": [{name: str(entry.get(name) or "") for name in csq_columns} for entry in row.get("entries", [row])],
    }  # fmt: skip


@router.get(
    "/jobs/{job_id}/variants",
    response={200: VariantsOut, **errors(400, 401, 404, 409, 422)},
    summary="The job's variants, filtered, sorted and paged",
    description=FILTER_DOC + " `sort`: position, -position, severity, -severity, gene, -gene. "
    "`limit` (1-1000, default 100) and `cursor` page through them." + PAGE_DOC,
)
def get_variants(request: ApiRequest, job_id: uuid.UUID, query: Query[ResultsQuery]) -> dict:
    job = job_of(request.auth, job_id)
    found = browser.variant_page(job=job, params=query.params(), default_limit=100, fields=None)
    columns = tables.table_for(job).csq_columns
    items = [_variant_out(row, columns) for row in found.rows]
    return page(items, count=found.count, next_cursor=found.next_cursor, variants=items)


@router.get(
    "/jobs/{job_id}/genes",
    response={200: GenesOut, **errors(400, 401, 404, 409, 422)},
    summary="Per gene: its matching variants, worst consequence and counts by impact",
    description=FILTER_DOC + " `sort`: variants, symbol, severity, high." + PAGE_DOC,
)
def get_genes(request: ApiRequest, job_id: uuid.UUID, query: Query[ResultsQuery]) -> dict:
    job = job_of(request.auth, job_id)
    result = browser.gene_page(job=job, params=query.params())
    following = result["offset"] + result["limit"]
    return page(
        result["genes"], count=result["count"], next_cursor=str(following) if following < result["count"] else None,
        genes=result["genes"],
    )  # fmt: skip


@router.get(
    "/jobs/{job_id}/summary",
    response={200: dict, **errors(401, 404, 409)},
    summary="Counts by most severe consequence, impact, variant class, chromosome, coding; the input QC",
)
def get_summary(request: ApiRequest, job_id: uuid.UUID) -> dict:
    return job_summary.job_summary(job=job_of(request.auth, job_id))


@router.get(
    "/jobs/{job_id}/export/{fmt}",
    response={200: None, **errors(400, 401, 404, 409, 503)},
    summary="What the filters show, as TSV (one row per variant x transcript) or a filtered VCF (bgzipped)",
    description="`fmt`: tsv or vcf. Streamed as it is produced. 503 (`busy`) with Retry-After when the server "
    "is streaming as many exports as it allows at once. " + FILTER_DOC,
)
def get_export(request: ApiRequest, job_id: uuid.UUID, fmt: str, query: Query[ResultsQuery]) -> HttpResponseBase:
    job = job_of(request.auth, job_id)
    return exports.export_response(job=job, params=query.params(), fmt=fmt)
