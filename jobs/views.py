"""Job pages: thin interfaces to jobs.services (and its selectors), jobs.sources and jobs.results."""

from __future__ import annotations

import logging
import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods, require_POST

from accounts.http import AuthenticatedRequest
from gas_site.errors import NotFound, http_status
from jobs import storage
from jobs.forms import PASTE_EXAMPLES, AnnotateForm, RegionSetForm, TokenForm
from jobs.models import Job
from jobs.references import bundles
from jobs.references.bundles import reference_summary
from jobs.results import sample_pages
from jobs.results import summary as job_summary
from jobs.results.downloads import ResultNotAvailable, download_response, result_unavailable_reason
from jobs.results.schema import TableError
from jobs.services import direct_uploads, lifecycle, notation_inputs, tokens, uploads
from jobs.services.selectors import job_of, jobs_of
from jobs.sources import regions, registry

PAGE_SIZE = 20
logger = logging.getLogger(__name__)


def owned_job(request: AuthenticatedRequest, job_id: uuid.UUID | str) -> Job:
    """The signed-in user's job, else the 404 page (someone else's job is not revealed either)."""
    try:
        return job_of(request.user, job_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc


@csrf_exempt  # CSRF is checked below, once the upload limit handler is installed
@login_required
@require_http_methods(["GET", "POST"])
def annotate(request: AuthenticatedRequest) -> HttpResponse:
    return _annotate(request)


@csrf_protect
def _annotate(request: AuthenticatedRequest) -> HttpResponse:
    limit = uploads.upload_limit(request.user)
    page = {"limit": limit, "installed": bundles.reference_summaries()}
    if direct_uploads.enabled() and request.method == "GET":
        post = direct_uploads.presigned_post(
            user=request.user, redirect_url=request.build_absolute_uri(reverse("annotate_complete"))
        )
        return render(
            request,
            "jobs/annotate_direct.html",
            {**page, "post": post, "references": bundles.reference_choices(), "paste_examples": PASTE_EXAMPLES},
        )
    if request.method == "POST":
        form = AnnotateForm(request.POST, request.FILES, user=request.user)
        if getattr(request, "upload_too_large", False):
            form = AnnotateForm(user=request.user)
            messages.error(request, uploads.too_large_message(request.user))
            return render(request, "jobs/annotate.html", {**page, "form": form}, status=413)
        if form.is_valid():
            data = form.cleaned_data
            region_set = data["regions"]
            try:
                if data["regions_file"]:
                    region_set = regions.region_set_create(
                        owner=request.user, upload=data["regions_file"], name="", file_name=data["regions_file"].name
                    )
            except registry.SourceError as exc:
                form.add_error("regions_file", str(exc))
                return render(request, "jobs/annotate.html", {**page, "form": form}, status=400)
            try:
                upload = data["file"] or notation_inputs.pasted_upload(data["variants"])
                job = lifecycle.job_create(
                    owner=request.user,
                    upload=upload,
                    reference_name=data["reference"] or None,
                    source_names=data.get("sources", []),
                    region_set=region_set,
                    title=data["name"],
                    pick=data["pick"],
                    flags=data["flags"],
                    pedigree=lifecycle.pedigree_text(data["pedigree"]),
                    normal=data["normal"],
                )
            except uploads.UploadRejected as exc:
                fields = {"the pedigree": "pedigree", "normal sample": "normal"}
                field = next((f for start, f in fields.items() if exc.message.startswith(start)), None)
                form.add_error(field or ("file" if data["file"] else "variants"), exc.message)
                return render(request, "jobs/annotate.html", {**page, "form": form}, status=http_status(exc))
            messages.success(request, f"{job.title} was uploaded and queued for annotation.")
            return redirect("job_detail", job_id=job.id)
        return render(request, "jobs/annotate.html", {**page, "form": form}, status=400)
    form = AnnotateForm(user=request.user)
    return render(request, "jobs/annotate.html", {**page, "form": form})


@login_required
def annotate_complete(request: AuthenticatedRequest) -> HttpResponse:
    """Where S3 sends the browser after a direct upload (?bucket=&key=&etag=)."""
    try:
        job = direct_uploads.complete(
            user=request.user, bucket=request.GET.get("bucket", ""), key=request.GET.get("key", "")
        )
    except uploads.UploadRejected as exc:
        messages.error(request, exc.message)
        return redirect("annotate")
    messages.success(request, f"{job.input_name} was uploaded and queued for annotation.")
    return redirect("job_detail", job_id=job.id)


@login_required
def job_list(request: AuthenticatedRequest) -> HttpResponse:
    page = Paginator(jobs_of(request.user), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "jobs/list.html", {"page": page, "live": _live(list(page.object_list))})


# -- live pages: a page whose jobs are still moving polls a small JSON view (static/js/live.js) --------
def _states(jobs: list[Job]) -> str:
    """What a page shows of its jobs beyond their progress: when it changes, the page is reloaded."""
    return "|".join(f"{job.status}:{_archive_state(job)}" for job in jobs)


def _archive_state(job: Job) -> str:
    archive = getattr(job, "result_archive", None)
    return archive.state if archive is not None else ""


def _live(jobs: list[Job]) -> dict[str, str] | None:
    """The poll of a page showing ``jobs`` (its URL and the states it was drawn with), for those still
    moving (running, pending, restoring); None when none is."""
    moving = [job for job in jobs if job.is_active or _restoring(job)]
    if not moving:
        return None
    ids = ",".join(str(job.id) for job in moving)
    return {"url": f"{reverse('job_statuses')}?ids={ids}", "key": _states(moving)}


@login_required
def job_statuses(request: AuthenticatedRequest) -> JsonResponse:
    """The state and progress of some of the user's jobs (``ids``, comma-separated, at most a page's)."""
    wanted = [part for part in request.GET.get("ids", "").split(",") if part][:PAGE_SIZE]
    try:
        found = {str(job.id): job for job in jobs_of(request.user).filter(id__in=[uuid.UUID(i) for i in wanted])}
    except ValueError:
        return JsonResponse({"detail": "ids: expected job ids separated by commas"}, status=400)
    jobs = [found[i] for i in wanted if i in found]
    return JsonResponse(
        {
            "key": _states(jobs),
            "jobs": [
                {
                    "id": str(job.id),
                    "status": str(job.status),
                    "progress": job.progress_percent,
                    "shards": job.shard_progress,
                }
                for job in jobs
            ],
        },
        headers={"Cache-Control": "no-store"},
    )


@login_required
def job_detail(request: AuthenticatedRequest, job_id: str) -> HttpResponse:
    return job_page(request, job=owned_job(request, job_id))


def job_page(request: HttpRequest, *, job: Job, staff_preview: bool = False) -> HttpResponse:
    """A job's page as its owner sees it (``staff_preview``: shown to staff, without its forms)."""
    unavailable = result_unavailable_reason(job)
    summary = None
    if job.status == "COMPLETED":
        summary = {"charts": job.charts or None, "qc": job_summary.job_qc(job=job)}  # (kept for an archived job)
        if not summary["charts"] and not unavailable:  # (a job finished before charts were kept)
            try:
                summary["charts"] = job_summary.job_charts(job=job)
            except (ResultNotAvailable, TableError, OSError) as exc:
                logger.warning("job %s: no summary charts: %s", job.id, exc)
    charts = []
    if summary and summary["charts"]:
        charts = job_summary.charts_with_links(summary["charts"])
    samples = None
    if job.status == "COMPLETED":
        samples = sample_pages.job_samples_panel(job=job, charts=summary["charts"] if summary else None,
                                            with_table=not unavailable)  # fmt: skip
    return render(
        request,
        "jobs/detail.html",
        {
            "job": job,
            "charts": charts,
            "qc": summary["qc"] if summary else None,
            "live": _live([job]),
            "archive": getattr(job, "result_archive", None),
            "unavailable": unavailable,
            "reference": reference_summary(job.reference_name),
            "staff_preview": staff_preview,
            "samples": samples,
        },
    )


@login_required
@require_POST
def job_pedigree(request: AuthenticatedRequest, job_id: str) -> HttpResponse:
    """Give a finished job its pedigree (a PED file, or pasted lines), replace or remove it."""
    job = owned_job(request, job_id)
    try:
        if request.POST.get("remove"):
            lifecycle.job_set_pedigree(job=job, text="")
            messages.success(request, "The pedigree was removed.")
        else:
            text = lifecycle.pedigree_text(request.FILES.get("pedigree")) or request.POST.get("text", "")
            if not text.strip():
                raise uploads.UploadRejected("the pedigree: choose a PED file or paste its lines")
            lifecycle.job_set_pedigree(job=job, text=text)
            messages.success(request, f"The pedigree was saved ({len(job.pedigree)} individuals).")
    except (uploads.UploadRejected, ResultNotAvailable, TableError) as exc:
        messages.error(request, str(exc.message if isinstance(exc, uploads.UploadRejected) else exc))
    return redirect(reverse("job_detail", args=[job.id]) + "#samples")


def _restoring(job: Job) -> bool:
    return _archive_state(job) == "RESTORING"


@login_required
def job_log(request: AuthenticatedRequest, job_id: str) -> HttpResponse:
    job = owned_job(request, job_id)
    text = ""
    if job.log_key:
        with storage.results_storage().open(job.log_key, "rb") as handle:
            text = handle.read().decode("utf-8", errors="replace")
    return render(request, "jobs/log.html", {"job": job, "log": text})


@login_required
def job_download(request: AuthenticatedRequest, job_id: str, kind: str) -> HttpResponseBase:
    job = owned_job(request, job_id)
    try:
        return download_response(job, kind)
    except ResultNotAvailable as exc:
        messages.warning(request, str(exc))
        return redirect("job_detail", job_id=job.id)
    except NotFound as exc:
        raise Http404(exc.message) from exc


@login_required
@require_POST
def job_delete(request: AuthenticatedRequest, job_id: str) -> HttpResponse:
    job = owned_job(request, job_id)
    try:
        lifecycle.job_delete(job=job)
    except lifecycle.JobNotFinished as exc:
        messages.error(request, str(exc))
        return redirect("job_detail", job_id=job.id)
    messages.success(request, f"The job for {job.input_name} and its files were deleted.")
    return redirect("job_list")


@login_required
@require_POST
def token_create(request: AuthenticatedRequest) -> HttpResponse:
    form = TokenForm(request.POST)
    if form.is_valid():
        _, raw = tokens.api_token_create(user=request.user, name=form.cleaned_data["name"])
        request.session["new_api_token"] = raw
        messages.success(request, "Your new API token is shown below, once: copy it now.")
    else:
        messages.error(request, "Give the token a name.")
    return redirect("profile")


@login_required
@require_POST
def token_revoke(request: AuthenticatedRequest, token_id: int) -> HttpResponse:
    if tokens.api_token_revoke(user=request.user, token_id=token_id):
        messages.success(request, "The token was revoked.")
    return redirect("profile")


@login_required
@require_POST
def region_create(request: AuthenticatedRequest) -> HttpResponse:
    form = RegionSetForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, "Choose a BED file to upload.")
        return redirect("profile")
    upload = form.cleaned_data["file"]
    try:
        region_set = regions.region_set_create(
            owner=request.user, upload=upload, name=form.cleaned_data["name"], file_name=upload.name
        )
    except registry.SourceError as exc:
        messages.error(request, f"The region file was not saved: {exc}")
    else:
        messages.success(request, f"{region_set.name}: {region_set.regions} regions saved for your jobs.")
    return redirect("profile")


@login_required
@require_POST
def region_delete(request: AuthenticatedRequest, region_set_id: int) -> HttpResponse:
    if regions.region_set_delete(owner=request.user, region_set_id=region_set_id):
        messages.success(request, "The region file was deleted.")
    return redirect("profile")


# -- the results: variant browser, gene view, exports ---------------------------------------
