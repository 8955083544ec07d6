"""Result pages: the variant browser, a variant's own page, the gene view, the live count and the
exports; thin interfaces to jobs.results."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import content_disposition_header, url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from accounts import services as accounts_services
from accounts.http import AuthenticatedRequest
from gas_site.errors import ServiceError
from jobs.models import FilterSet, Job, JobStatus
from jobs.results import browser, exports, sample_pages, summary, tables
from jobs.results.downloads import ResultNotAvailable
from jobs.results.schema import TableError
from jobs.services import filter_sets
from jobs.views import owned_job


def _table_unavailable(request: HttpRequest, job: Job, exc: Exception) -> HttpResponse:
    messages.warning(request, str(exc))
    return redirect("job_detail", job_id=job.id)


def _results_page(
    request: AuthenticatedRequest, job_id: str, template: str, build: Callable[[Job, dict[str, Any]], Any],
    context: Callable[[Job, dict[str, Any], Any], dict[str, Any]],
) -> HttpResponse:
    """A results page (variants, genes): ``build(job, params)`` answers it, ``context(job, params,
    answer)`` adds what its template needs; a bad filter is a 400 page saying which and why."""
    job = owned_job(request, job_id)
    params = browser.filter_params(request.GET)
    error, answer = "", None
    try:
        answer = build(job, params)
    except ResultNotAvailable as exc:
        return _table_unavailable(request, job, exc)
    except TableError as exc:
        error = str(exc)
    page = {"job": job, "error": error, "params": params, **context(job, params, answer)}
    return render(request, template, page, status=400 if error else 200)


@login_required
def job_variants(request: AuthenticatedRequest, job_id: str) -> HttpResponse:
    return _results_page(
        request, job_id, "jobs/variants.html",
        lambda job, params: _remember_columns(request, browser.variant_page(
            job=job, params=params, default_limit=50, saved_columns=request.user.variant_columns)),
        lambda job, params, page: {
            "page": page,
            "choices": browser.FILTER_CHOICES,
            "selected": {name: browser.selected(params, name) for name in ("consequence", "impact", "class")},
            "chips": browser.filter_chips(page.filter, params) if page else [],
            **sample_pages.sample_choices(samples=page.all_samples if page else [], params=params),
            "column_sets": [*browser.COLUMN_SETS, "everything"],
            "charts": summary.charts_with_links(job.charts, params=params) if job.charts else [],
            **_filter_set_choices(request, params),
            **sample_pages.value_choices(job=job, params=params),
        },
    )  # fmt: skip


def _remember_columns(request: AuthenticatedRequest, page: browser.VariantPage) -> browser.VariantPage:
    """A choice of columns (columns= given) is kept as the user's, for every job's table."""
    chosen = page.columns or [browser.NO_COLUMNS]  # (none chosen is kept apart from never choosing)
    if "columns" in request.GET and chosen != request.user.variant_columns:
        accounts_services.remember_variant_columns(user=request.user, columns=chosen)
    return page


@login_required
def job_variant(request: AuthenticatedRequest, job_id: str, v: int) -> HttpResponse:
    """A variant's own page (a permalink): all its entries, sources' values, genotypes, links out."""
    job = owned_job(request, job_id)
    try:
        detail = sample_pages.variant_detail(job=job, v=v, params=browser.filter_params(request.GET))
    except ResultNotAvailable as exc:
        return _table_unavailable(request, job, exc)
    if detail is None:
        raise Http404("No such variant in this job.")
    return render(request, "jobs/variant.html", {"job": job, "detail": detail})


@login_required
def job_variant_count(request: AuthenticatedRequest, job_id: str) -> HttpResponse:
    """The browser's live count, as the filters change (JSON)."""
    job = owned_job(request, job_id)
    try:
        table = tables.table_for(job)
        filt = browser.job_filter(job=job, params=browser.filter_params(request.GET), table=table)
        count = browser.variant_count(job=job, table=table, filt=filt)
    except (ResultNotAvailable, TableError) as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    return JsonResponse({"count": count})


@login_required
def job_genes(request: AuthenticatedRequest, job_id: str) -> HttpResponse:
    return _results_page(
        request, job_id, "jobs/genes.html",
        lambda job, params: browser.gene_page(job=job, params=params),
        lambda job, params, genes: {
            "result": genes,
            "filtered": any(name not in ("cursor", "sort") for name in request.GET),
        },
    )  # fmt: skip


@login_required
def job_export(request: AuthenticatedRequest, job_id: str, fmt: str) -> HttpResponseBase:
    job = owned_job(request, job_id)
    try:
        return exports.export_response(job=job, params=browser.filter_params(request.GET), fmt=fmt)
    except exports.ExportsBusy as exc:
        page = {"code": 503, "title": "Exports are busy", "message": str(exc)}
        busy = render(request, "_error.html", page, status=503)
        busy["Retry-After"] = str(exc.retry_after)
        return busy
    except ResultNotAvailable as exc:
        return _table_unavailable(request, job, exc)
    except TableError as exc:
        messages.error(request, str(exc))
        return redirect(f"{reverse('job_variants', args=[job.id])}?{request.GET.urlencode()}")


# -- filter sets ---------------------------------------------------------------------------------
def _filter_set_row(item: FilterSet) -> dict[str, Any]:
    share = reverse("filter_set_shared", args=[filter_sets.filter_set_share_token(item)])
    return {"id": item.id, "name": item.name, "query": urlencode(item.params, doseq=True), "share": share}


def _filter_set_choices(request: AuthenticatedRequest, params: dict[str, Any]) -> dict[str, Any]:
    owned = FilterSet.objects.filter(owner=request.user)
    return {
        "built_in_sets": [(name, urlencode(query, doseq=True)) for name, query in filter_sets.BUILT_IN.items()],
        "filter_sets": [_filter_set_row(item) for item in owned],
        "current_params_json": json.dumps(
            {key: value for key, value in params.items() if key not in filter_sets.NOT_KEPT}
        ),
    }


def _back(request: HttpRequest) -> HttpResponse:
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}) or not target.startswith("/"):
        target = reverse("job_list")
    return redirect(target)


@login_required
@require_POST
def filter_set_create(request: AuthenticatedRequest) -> HttpResponse:
    try:
        params = json.loads(request.POST.get("params") or "{}")
        if not isinstance(params, dict):
            raise ValueError("not an object")
        saved = filter_sets.filter_set_save(owner=request.user, name=request.POST.get("name", ""), params=params)
        messages.success(request, f"Saved the filter set \u201c{saved.name}\u201d.")
    except ValueError:
        messages.error(request, "Those filters could not be read.")
    except ServiceError as exc:
        messages.error(request, str(exc))
    return _back(request)


@login_required
@require_POST
def filter_set_import(request: AuthenticatedRequest) -> HttpResponse:
    upload = request.FILES.get("file")
    try:
        if upload is None:
            raise filter_sets.FilterSetError("Choose a JSON file of filter sets.")
        found = filter_sets.filter_set_import(owner=request.user, data=upload.read(filter_sets.MAX_IMPORT_BYTES + 1))
        messages.success(request, f"Imported {len(found)} filter set{'s' if len(found) != 1 else ''}.")
    except ServiceError as exc:
        messages.error(request, str(exc))
    return _back(request)


@login_required
def filter_set_export(request: AuthenticatedRequest, set_id: int) -> HttpResponse:
    found = get_object_or_404(FilterSet, id=set_id, owner=request.user)
    response = JsonResponse(filter_sets.filter_set_export(found), json_dumps_params={"indent": 2})
    response["Content-Disposition"] = content_disposition_header(True, f"{found.name}.json")
    return response


@login_required
def filter_set_shared(request: AuthenticatedRequest, token: str) -> HttpResponse:
    """A shared filter set: its filters, a link to apply them to each of the visitor's own jobs, and a
    form to keep them as the visitor's own set."""
    try:
        shared = filter_sets.filter_set_from_token(token)
    except ServiceError as exc:
        page = {"code": 400, "title": "Not a filter set link", "message": str(exc)}
        return render(request, "_error.html", page, status=400)
    query = urlencode(shared["params"], doseq=True)
    jobs = Job.objects.filter(owner=request.user, status=JobStatus.COMPLETED).order_by("-submitted_at")[:20]
    context = {
        "shared": shared, "query": query, "jobs": jobs,
        "lines": [(key, ", ".join(map(str, value)) if isinstance(value, list) else value)
                  for key, value in shared["params"].items()],
        "params_json": json.dumps(shared["params"]),
    }  # fmt: skip
    return render(request, "jobs/filter_set_shared.html", context)


@login_required
@require_POST
def filter_set_delete(request: AuthenticatedRequest, set_id: int) -> HttpResponse:
    get_object_or_404(FilterSet, id=set_id, owner=request.user).delete()
    messages.success(request, "The filter set was deleted.")
    return _back(request)
