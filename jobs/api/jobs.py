"""Jobs: submit a VCF or BCF file or variant notations, list and read your jobs, fetch their result and
log, delete them."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.http import HttpRequest
from django.http.response import HttpResponseBase
from ninja import Field, File, Form, Router, Schema, Status
from ninja.files import UploadedFile

from jobs.api.common import PAGE_DOC, ApiRequest, Page, errors, page
from jobs.models import Job, JobStatus, RegionSet
from jobs.results import browser
from jobs.results.downloads import download_response
from jobs.services import lifecycle, notation_inputs, uploads
from jobs.services.selectors import job_of, jobs_of

router = Router()


class JobOut(Schema):
    id: uuid.UUID
    input_name: str
    name: str
    pick: str
    flags: list[str]
    status: str
    progress: float
    shards: int = Field(description="parts a large job was split into over the annotators (0: run whole)")
    shards_done: int
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
    samples: list[str]
    pedigree: list[dict[str, str]]
    normal_sample: str

    @staticmethod
    def build(job: Job, request: HttpRequest) -> dict:
        base = f"/api/v1/jobs/{job.id}"
        return {
            "id": job.id,
            "input_name": job.input_name,
            "name": job.name,
            "pick": job.pick,
            "flags": job.flags,
            "status": str(job.status),
            "progress": 1.0 if job.status == JobStatus.COMPLETED else round(job.progress, 3),
            "shards": job.shards,
            "shards_done": job.shards_done,
            "reference": job.reference_name,
            "submitted_at": job.submitted_at,
            "started_at": job.started_at,
            "completed_at": job.completed_at,
            "records": job.records,
            "alleles": job.alleles,
            "records_in_dbsnp": job.records_in_dbsnp,
            "consequence_counts": job.consequence_counts,
            "error_message": job.error_message,
            "warnings": job.warnings if job.status == JobStatus.COMPLETED else [],
            "source_names": job.source_names,
            "regions": job.region_set_id,
            "sources": job.sources,
            "result_state": job.result_archive.state if hasattr(job, "result_archive") else None,
            "result_url": request.build_absolute_uri(f"{base}/result") if job.result_key else None,
            "log_url": request.build_absolute_uri(f"{base}/log") if job.log_key else None,
            "variants_url": request.build_absolute_uri(f"{base}/variants") if job.result_key else None,
            "summary_url": request.build_absolute_uri(f"{base}/summary") if job.result_key else None,
            "samples": job.samples,
            "pedigree": job.pedigree,
            "normal_sample": job.normal_sample,
        }


@router.post(
    "/jobs", response={201: JobOut, **errors(400, 404, 413, 422, 429)}, summary="Submit a VCF file or variants"
)
def create_job(
    request: ApiRequest,
    file: File[UploadedFile | None] = None,
    text: Form[str] = "",
    reference: Form[str] = "",
    sources: Form[str | None] = None,
    regions: Form[int | None] = None,
    name: Form[str] = "",
    pick: Form[str] = "",
    flags: Form[str] = "",
    pedigree: File[UploadedFile | None] = None,
    normal: Form[str] = "",
) -> Status:
    """``file``: a VCF, VCF.gz or BCF file, or a text file of notations; or instead ``text``: variant
    notations, one per line (HGVS such as ``20:g.36030940G>A`` or ``ENST…:c.68-7T>A``, SPDI such as
    ``NC_000020.10:36030939:G:A``, a region such as ``20:36030940-36030940/A``, or an rs id); those
    that cannot be placed on the genome are listed in the job's ``warnings``. ``sources``: registered
    annotation sources to apply, comma-separated (GET /sources lists them; left out: the operator's
    defaults; empty: none). ``regions``: one of your region files
    (GET /regions), reported in CSQ field REGIONS. ``pick``: one of VEP's pick options
    (pick, flag_pick, pick_allele, flag_pick_allele, per_gene); left out: every entry. ``flags``:
    VEP's transcript flags to add, comma-separated (canonical, mane, tsl, appris, ccds, protein).
    ``pedigree``: a PED file (family, individual, father, mother, sex, phenotype) relating the VCF's
    samples, for the inheritance filters; ``normal``: the normal sample of a tumour/normal pair (left
    out: the header's ``##normal_sample``)."""
    if getattr(request, "upload_too_large", False):
        raise uploads.UploadRejected(uploads.too_large_message(request.auth), code="too_large")
    region_set = None
    if regions is not None:
        region_set = RegionSet.objects.filter(owner=request.auth, id=regions).first()
        if region_set is None:
            raise uploads.UploadRejected(
                f"You have no region file {regions} (GET /api/v1/regions lists yours).", code="invalid_parameter"
            )
    if (file is None) == (not text.strip()):
        raise uploads.UploadRejected("Send a file, or variants as text=, one of the two.", code="invalid_parameter")
    names = None if sources is None else [part.strip() for part in sources.split(",") if part.strip()]
    upload = file or notation_inputs.pasted_upload(text)
    job = lifecycle.job_create(
        owner=request.auth, upload=upload, reference_name=reference or None, source_names=names,
        region_set=region_set, title=name, pick=pick, flags=[part.strip() for part in flags.split(",") if part.strip()],
        pedigree=lifecycle.pedigree_text(pedigree), normal=normal,
    )  # fmt: skip
    return Status(201, JobOut.build(job, request))


@router.post(
    "/jobs/{job_id}/pedigree", response={200: JobOut, **errors(400, 401, 404, 422)},
    summary="Give a job its pedigree (a PED file), or replace it",
)  # fmt: skip
def set_pedigree(request: ApiRequest, job_id: uuid.UUID, pedigree: File[UploadedFile]) -> dict:
    """``pedigree``: a PED file whose individuals are the job's samples (a 400 names the line and
    what was expected)."""
    job = job_of(request.auth, job_id)
    text = lifecycle.pedigree_text(pedigree)
    if not text.strip():
        raise uploads.UploadRejected("the pedigree file is empty: expected a line per individual (family, individual, "
                                     "father, mother, sex, phenotype)")  # fmt: skip
    lifecycle.job_set_pedigree(job=job, text=text)
    return JobOut.build(job, request)


@router.delete("/jobs/{job_id}/pedigree", response={200: JobOut, **errors(401, 404)}, summary="Remove the pedigree")
def delete_pedigree(request: ApiRequest, job_id: uuid.UUID) -> dict:
    job = job_of(request.auth, job_id)
    lifecycle.job_set_pedigree(job=job, text="")
    return JobOut.build(job, request)


MAX_JOBS_PAGE = 200


@router.get(
    "/jobs", response={200: Page[JobOut], **errors(400, 401, 429)}, summary="Your jobs, newest first",
    description=f"`limit` 1-{MAX_JOBS_PAGE} (default 50) and `cursor` page through them." + PAGE_DOC
    + " (`offset` is the former way to page, kept for one release.)",
)  # fmt: skip
def list_jobs(request: ApiRequest, limit: str = "50", cursor: str = "", offset: str = "") -> dict:
    wanted = browser.bounded_int(limit, 50, 1, MAX_JOBS_PAGE, "limit")
    skip = browser.page_start(cursor=cursor, offset=offset)
    found = jobs_of(request.auth)
    count = found.count()
    items = [JobOut.build(job, request) for job in found[skip : skip + wanted]]
    following = str(skip + wanted) if skip + wanted < count else None
    return page(items, count=count, next_cursor=following)


@router.get("/jobs/{job_id}", response={200: JobOut, **errors(401, 404)}, summary="One job")
def get_job(request: ApiRequest, job_id: uuid.UUID) -> dict:
    return JobOut.build(job_of(request.auth, job_id), request)


@router.get(
    "/jobs/{job_id}/result", response={200: None, 302: None, **errors(401, 404, 409)}, summary="The annotated VCF"
)
def get_result(request: ApiRequest, job_id: uuid.UUID) -> HttpResponseBase:
    return download_response(job_of(request.auth, job_id), "result")


@router.get("/jobs/{job_id}/log", response={200: None, 302: None, **errors(401, 404, 409)}, summary="The count log")
def get_log(request: ApiRequest, job_id: uuid.UUID) -> HttpResponseBase:
    return download_response(job_of(request.auth, job_id), "log", inline=True)


@router.delete("/jobs/{job_id}", response={204: None, **errors(401, 404, 409)}, summary="Delete a finished job")
def delete_job(request: ApiRequest, job_id: uuid.UUID) -> Status:
    lifecycle.job_delete(job=job_of(request.auth, job_id))
    return Status(204, None)
