"""The JSON API for scripts (django-ninja): personal tokens, the same rules as the pages.

OpenAPI schema at /api/v1/openapi.json, interactive docs at /api/v1/docs.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from ninja import File, Form, NinjaAPI, Schema, Status
from ninja.errors import HttpError, ValidationError
from ninja.files import UploadedFile
from ninja.security import HttpBearer

from accounts.models import User
from gas_site import ratelimit
from jobs import browser, services, tables
from jobs import sources as sources_service
from jobs.downloads import ResultNotAvailable, download_response
from jobs.models import AnnotationSource, Job, RegionSet
from jobs.selectors import job_of, jobs_of
from jobs.variants import TableError


class TokenAuth(HttpBearer):
    """Bearer tokens, with guesses throttled per client address and requests per user."""

    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        address = ratelimit.client_address(request)
        failures = {
            "scope": "token-failures", "key": address, "window_seconds": 60,
            "limit": settings.GAS_TOKEN_FAILURES_PER_MINUTE, "what": "failed sign-ins with a token",
        }  # fmt: skip
        ratelimit.check(**failures)
        user = services.api_token_authenticate(token)
        if user is None:
            ratelimit.hit(**failures)
            return None
        ratelimit.hit(
            scope="api", key=str(user.pk), limit=settings.GAS_API_RATE_PER_MINUTE, window_seconds=60,
            what="API requests",
        )  # fmt: skip
        request.user = user
        return user


api = NinjaAPI(
    title="GAS API",
    version="1",
    description="Submit VCF files for annotation and fetch the results. Authenticate with "
    "`Authorization: Bearer <token>`; create tokens on your profile page.",
    auth=TokenAuth(),
    urls_namespace="api",
)


class JobOut(Schema):
    id: uuid.UUID
    input_name: str
    name: str
    pick: str
    flags: list[str]
    status: str
    progress: float
    reference: str
    submitted_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    records: int | None
    alleles: int | None
    records_in_dbsnp: int | None
    consequence_counts: dict[str, int]
    error_message: str
    warnings: list[str]
    source_names: list[str]
    regions: int | None
    sources: list[dict]
    result_state: str | None
    result_url: str | None
    log_url: str | None
    variants_url: str | None
    summary_url: str | None

    @staticmethod
    def build(job: Job, request: HttpRequest) -> dict:
        base = f"/api/v1/jobs/{job.id}"
        return {
            "id": job.id,
            "input_name": job.input_name,
            "name": job.name,
            "pick": job.pick,
            "flags": job.flags,
            "status": job.status,
            "progress": 1.0 if job.status == "COMPLETED" else round(job.progress, 3),
            "reference": job.reference_name,
            "submitted_at": job.submitted_at,
            "started_at": job.started_at,
            "completed_at": job.completed_at,
            "records": job.records,
            "alleles": job.alleles,
            "records_in_dbsnp": job.records_in_dbsnp,
            "consequence_counts": job.consequence_counts,
            "error_message": job.error_message,
            "warnings": job.warnings if job.status == "COMPLETED" else [],
            "source_names": job.source_names,
            "regions": job.region_set_id,
            "sources": job.sources,
            "result_state": job.result_archive.state if hasattr(job, "result_archive") else None,
            "result_url": request.build_absolute_uri(f"{base}/result") if job.result_key else None,
            "log_url": request.build_absolute_uri(f"{base}/log") if job.log_key else None,
            "variants_url": request.build_absolute_uri(f"{base}/variants") if job.result_key else None,
            "summary_url": request.build_absolute_uri(f"{base}/summary") if job.result_key else None,
        }


class ErrorOut(Schema):
    detail: str


@api.post("/jobs", response={201: JobOut, 400: ErrorOut, 413: ErrorOut, 429: ErrorOut}, summary="Submit a VCF file")
def create_job(
    request: HttpRequest,
    file: File[UploadedFile],
    reference: Form[str] = "",
    sources: Form[str | None] = None,
    regions: Form[int | None] = None,
    name: Form[str] = "",
    pick: Form[str] = "",
    flags: Form[str] = "",
):
    """``sources``: registered annotation sources to apply, comma-separated (GET /sources lists
    them; left out: the operator's defaults; empty: none). ``regions``: one of your region files
    (GET /regions), reported in CSQ field REGIONS. ``pick``: one of VEP's pick options
    (pick, flag_pick, pick_allele, flag_pick_allele, per_gene); left out: every entry. ``flags``:
    VEP's transcript flags to add, comma-separated (canonical, mane, tsl, appris, ccds, protein)."""
    if getattr(request, "upload_too_large", False):
        return Status(413, {"detail": services.too_large_message(request.auth)})
    region_set = None
    if regions is not None:
        region_set = RegionSet.objects.filter(owner=request.auth, id=regions).first()
        if region_set is None:
            return Status(400, {"detail": f"You have no region file {regions} (GET /api/v1/regions lists yours)."})
    names = None if sources is None else [part.strip() for part in sources.split(",") if part.strip()]
    try:
        job = services.job_create(
            owner=request.auth, upload=file, reference_name=reference or None, source_names=names,
            region_set=region_set, title=name, pick=pick,
            flags=[part.strip() for part in flags.split(",") if part.strip()],
        )  # fmt: skip
    except services.UploadRejected as exc:
        return Status(exc.status, {"detail": exc.message})
    return Status(201, JobOut.build(job, request))


class SourceOut(Schema):
    name: str
    reference: str
    short_name: str
    format: str
    match_type: str
    fields: list[str]
    default: bool
    description: str
    version: str


@api.get("/sources", response=list[SourceOut], summary="Annotation sources you can apply")
def list_sources(request: HttpRequest, reference: str = ""):
    found = AnnotationSource.objects.all()
    if reference:
        found = found.filter(reference_name=reference)
    return [
        {
            "name": source.name,
            "reference": source.reference_name,
            "short_name": source.short_name,
            "format": source.format,
            "match_type": source.match_type,
            "fields": source.fields,
            "default": source.default,
            "description": source.description,
            "version": source.version,
        }
        for source in found
    ]


class RegionSetOut(Schema):
    id: int
    name: str
    file_name: str
    regions: int
    contigs: list[str]
    uploaded_at: datetime


def _region_out(region_set: RegionSet) -> dict:
    return {
        "id": region_set.id, "name": region_set.name, "file_name": region_set.file_name,
        "regions": region_set.regions, "contigs": region_set.contigs, "uploaded_at": region_set.uploaded_at,
    }  # fmt: skip


@api.get("/regions", response=list[RegionSetOut], summary="Your region files")
def list_regions(request: HttpRequest):
    return [_region_out(region_set) for region_set in RegionSet.objects.filter(owner=request.auth)]


@api.post("/regions", response={201: RegionSetOut, 400: ErrorOut, 429: ErrorOut}, summary="Upload a BED region file")
def create_regions(request: HttpRequest, file: File[UploadedFile], name: Form[str] = ""):
    try:
        region_set = sources_service.region_set_create(
            owner=request.auth, upload=file, name=name, file_name=file.name or "regions.bed"
        )
    except sources_service.SourceError as exc:
        return Status(400, {"detail": str(exc)})
    return Status(201, _region_out(region_set))


@api.delete("/regions/{region_set_id}", response={204: None, 404: ErrorOut}, summary="Delete a region file")
def delete_regions(request: HttpRequest, region_set_id: int):
    if not sources_service.region_set_delete(owner=request.auth, region_set_id=region_set_id):
        raise HttpError(404, "Not found.")
    return Status(204, None)


MAX_JOBS_PAGE = 200
MAX_JOBS_OFFSET = 10**9


@api.get(
    "/jobs", response={200: list[JobOut], 400: ErrorOut}, summary="Your jobs, newest first",
    description=f"`limit` 1-{MAX_JOBS_PAGE} (default 50), `offset` 0 or more (default 0).",
)  # fmt: skip
def list_jobs(request: HttpRequest, limit: str = "50", offset: str = "0"):
    wanted = _results_call(lambda: browser.bounded_int(limit, 50, 1, MAX_JOBS_PAGE, "limit"))
    skip = _results_call(lambda: browser.bounded_int(offset, 0, 0, MAX_JOBS_OFFSET, "offset"))
    return [JobOut.build(job, request) for job in jobs_of(request.auth)[skip : skip + wanted]]


@api.get("/jobs/{job_id}", response={200: JobOut, 404: ErrorOut}, summary="One job")
def get_job(request: HttpRequest, job_id: uuid.UUID):
    return JobOut.build(job_of(request.auth, job_id), request)


@api.get(
    "/jobs/{job_id}/result", response={200: None, 302: None, 404: ErrorOut, 409: ErrorOut}, summary="The annotated VCF"
)
def get_result(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    try:
        return download_response(job_of(request.auth, job_id), "result")
    except ResultNotAvailable as exc:
        raise HttpError(409, str(exc)) from exc


@api.get("/jobs/{job_id}/log", response={200: None, 302: None, 404: ErrorOut}, summary="The count log")
def get_log(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    return download_response(job_of(request.auth, job_id), "log", inline=True)


@api.delete("/jobs/{job_id}", response={204: None, 404: ErrorOut, 409: ErrorOut}, summary="Delete a finished job")
def delete_job(request: HttpRequest, job_id: uuid.UUID):
    job = job_of(request.auth, job_id)
    try:
        services.job_delete(job=job)
    except services.JobNotFinished as exc:
        raise HttpError(409, str(exc)) from exc
    return Status(204, None)


# -- the results: variants, genes, summary, exports --------------------------------------------
class EntryOut(Schema):
    """One CSQ entry (a transcript, or the intergenic entry): every CSQ field under its VEP name."""

    fields: dict[str, str]


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
    entries: list[dict[str, str]]


class VariantsOut(Schema):
    count: int
    next_cursor: str | None
    variants: list[VariantOut]


class GeneOut(Schema):
    gene: str
    symbol: str
    variants: int
    worst_consequence: str
    high: int
    moderate: int
    low: int
    modifier: int


class GenesOut(Schema):
    count: int
    next_cursor: str | None
    genes: list[GeneOut]


def _filter_params(request: HttpRequest) -> dict:
    return browser.filter_params(request.GET)


_FILTER_DOC = (
    "Filters combine (each takes a comma-separated list, any of which matches): `consequence` (VEP terms), "
    "`impact` (HIGH, MODERATE, LOW, MODIFIER), `gene` (symbols or ids), `biotype`, "
    "`region` (chr:start-end, several separated by spaces or ;), "
    "`class` (SNV, insertion, deletion, MNV, SV), `dbsnp` (yes/no), `q` (an rs id, or text in HGVSc/HGVSp), "
    "`show` (variant: each variant once by its most severe matching entry; all: every matching entry)."
)


def _variant_out(row: dict, csq_columns: list[str]) -> dict:
    fields = {name: str(row.get(name) or "") for name in csq_columns}
    return {
        "chrom": row["chrom"], "pos": row["pos"], "id": row["id"], "ref": row["ref"], "alt": row["alt"],
        "variant_class": row["variant_class"], "consequence": fields.get("Consequence", ""),
        "impact": fields.get("IMPACT", ""), "symbol": fields.get("SYMBOL", ""), "gene": fields.get("Gene", ""),
        "feature": fields.get("Feature", ""), "biotype": fields.get("BIOTYPE", ""), "hgvsc": fields.get("HGVSc", ""),
        "hgvsp": fields.get("HGVSp", ""), "existing_variation": fields.get("Existing_variation", ""),
        "in_dbsnp": row["in_dbsnp"],
        "entries": [{name: str(entry.get(name) or "") for name in csq_columns} for entry in row.get("entries", [row])],
    }  # fmt: skip


def _results_call(call):
    try:
        return call()
    except ResultNotAvailable as exc:
        raise HttpError(409, str(exc)) from exc
    except TableError as exc:
        raise HttpError(400, str(exc)) from exc


@api.get(
    "/jobs/{job_id}/variants",
    response={200: VariantsOut, 400: ErrorOut, 404: ErrorOut, 409: ErrorOut},
    summary="The job's variants, filtered, sorted and paged",
    description=_FILTER_DOC + " `sort`: position, -position, severity, -severity, gene, -gene. "
    "`limit` (1-1000, default 100) and `cursor` (the previous page's next_cursor) page through them.",
)
def get_variants(
    request: HttpRequest, job_id: uuid.UUID, consequence: str = "", impact: str = "", gene: str = "",
    biotype: str = "", region: str = "", dbsnp: str = "", q: str = "", show: str = "variant",
    sort: str = "position", limit: int = 100, cursor: str = "",
):  # fmt: skip
    job = job_of(request.auth, job_id)
    page = _results_call(
        lambda: browser.variant_page(job=job, params=_filter_params(request), default_limit=100, fields=None)
    )
    columns = tables.table_for(job).csq_columns
    return {
        "count": page.count,
        "next_cursor": page.next_cursor,
        "variants": [_variant_out(row, columns) for row in page.rows],
    }


@api.get(
    "/jobs/{job_id}/genes",
    response={200: GenesOut, 400: ErrorOut, 404: ErrorOut, 409: ErrorOut},
    summary="Per gene: its matching variants, worst consequence and counts by impact",
    description=_FILTER_DOC + " `sort`: variants, symbol, severity, high.",
)
def get_genes(
    request: HttpRequest, job_id: uuid.UUID, consequence: str = "", impact: str = "", region: str = "",
    sort: str = "variants", limit: int = 100, cursor: str = "",
):  # fmt: skip
    job = job_of(request.auth, job_id)
    result = _results_call(lambda: browser.gene_page(job=job, params=_filter_params(request)))
    following = result["offset"] + result["limit"]
    return {
        "count": result["count"],
        "next_cursor": str(following) if following < result["count"] else None,
        "genes": result["genes"],
    }


@api.get(
    "/jobs/{job_id}/summary",
    response={200: dict, 404: ErrorOut, 409: ErrorOut},
    summary="Counts by most severe consequence, impact, variant class, chromosome, coding; the input QC",
)
def get_summary(request: HttpRequest, job_id: uuid.UUID):
    job = job_of(request.auth, job_id)
    return _results_call(lambda: browser.job_summary(job=job))


@api.get(
    "/jobs/{job_id}/export/{fmt}",
    response={200: None, 400: ErrorOut, 404: ErrorOut, 409: ErrorOut, 503: ErrorOut},
    summary="What the filters show, as TSV (one row per variant x transcript) or a filtered VCF (bgzipped)",
    description="`fmt`: tsv or vcf. Streamed as it is produced. 503 with Retry-After when the server is "
    "streaming as many exports as it allows at once. " + _FILTER_DOC,
)
def get_export(request: HttpRequest, job_id: uuid.UUID, fmt: str) -> HttpResponse:
    job = job_of(request.auth, job_id)
    return _results_call(lambda: browser.export_response(job=job, params=_filter_params(request), fmt=fmt))


@api.exception_handler(browser.ExportsBusy)
def _exports_busy(request: HttpRequest, exc: browser.ExportsBusy) -> HttpResponse:
    return _try_again_later(request, exc, status=503)


@api.exception_handler(MultiPartParserError)
def _unreadable_form(request: HttpRequest, exc: MultiPartParserError) -> HttpResponse:
    """Django refuses a multipart part whose headers pass 1 KiB (a file name of about 950 characters or
    more): answered in JSON, as every API error is, saying what to change."""
    detail = (
        "The upload could not be read: a form part's headers are longer than 1,024 bytes (is the file name "
        "longer than about 900 characters? rename the file)"
        if "header size" in str(exc)
        else f"The upload could not be read as multipart/form-data ({exc})"
    )
    return api.create_response(request, {"detail": detail}, status=400)


@api.exception_handler(ratelimit.RateLimited)
def _rate_limited(request: HttpRequest, exc: ratelimit.RateLimited) -> HttpResponse:
    return _try_again_later(request, exc, status=429)


def _try_again_later(
    request: HttpRequest, exc: ratelimit.RateLimited | browser.ExportsBusy, *, status: int
) -> HttpResponse:
    """A refusal that passes (too many requests, exports busy): its message, and Retry-After."""
    response = api.create_response(request, {"detail": str(exc)}, status=status)
    response["Retry-After"] = str(exc.retry_after)
    return response


@api.exception_handler(ValidationError)
def _invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    if getattr(request, "upload_too_large", False):  # the upload handler stopped reading: no file arrived
        user = request.auth if isinstance(getattr(request, "auth", None), User) else None
        message = services.too_large_message(user) if user else "The file is too large for your plan."
        return api.create_response(request, {"detail": message}, status=413)
    return api.create_response(request, {"detail": exc.errors}, status=422)


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return api.create_response(request, {"detail": str(exc)}, status=exc.status_code)
