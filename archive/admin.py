"""Staff view of jobs with their cold storage state, and the actions that go through the services."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join

from archive import services
from archive.models import ResultArchive, ResultState
from gas_site.admin_actions import confirmation
from gas_site.errors import NotFound
from gas_site.queues import QueueError, queues
from jobs import views as job_views
from jobs.admin import JobAdmin
from jobs.models import Job
from jobs.results.downloads import ResultNotAvailable, download_response
from jobs.services import lifecycle

logger = logging.getLogger(__name__)


class ArchiveStateFilter(admin.SimpleListFilter):
    title = "result storage"
    parameter_name = "result_state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return list(ResultState.choices)

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(result_archive__state=self.value()) if self.value() else queryset


class ResultArchiveInline(admin.StackedInline):
    model = ResultArchive
    can_delete = False
    readonly_fields = [field.name for field in ResultArchive._meta.fields if field.name != "job"]
    extra = 0


admin.site.unregister(Job)


def _shortened(text: str, most: int) -> str:
    """``text`` cut to ``most`` characters with an ellipsis, whole in its tooltip (the list fits 1280 px)."""
    if len(text) <= most:
        return text
    return format_html('<span title="{}">{}…</span>', text, text[: most - 1])


def _count(number: int, one: str, many: str) -> str:
    return f"{number} {one if number == 1 else many}"


@admin.register(Job)
class JobWithArchiveAdmin(JobAdmin):
    # what staff look for first; the id, which wraps, last and short
    list_display = [
        "file", "owner_email", "status", "result_state", "owner_plan", "submitted_at", "duration", "records",
        "short_id",
    ]  # fmt: skip
    list_display_links = ["file"]
    list_filter = ["status", ArchiveStateFilter, "owner__plan", "submitted_at", "reference_name"]
    list_select_related = ["owner", "result_archive"]
    inlines = [ResultArchiveInline]
    actions = ["force_restore", "archive_now", "rerun", "delete_jobs"]
    readonly_fields = ["files", "timeline", *JobAdmin.readonly_fields]

    class Media:
        css = {"all": ["css/admin-jobs.css"]}

    def get_urls(self) -> list[Any]:
        queues_page = path("queues/", self.admin_site.admin_view(self.queues_view), name="jobs_job_queues")
        file_page = path(
            "<uuid:job_id>/file/<str:kind>/", self.admin_site.admin_view(self.file_view), name="jobs_job_file"
        )
        owner_page = path(
            "<uuid:job_id>/as-owner/", self.admin_site.admin_view(self.owner_view), name="jobs_job_owner_view"
        )
        return [queues_page, file_page, owner_page, *super().get_urls()]

    def owner_view(self, request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
        """The job's page as its owner sees it (summary, charts, QC, warnings), for staff, without its forms."""
        job = get_object_or_404(Job.objects.select_related("owner", "result_archive"), id=job_id)
        if not self.has_view_permission(request, job):
            raise PermissionDenied
        return job_views.job_page(request, job=job, staff_preview=True)

    def file_view(self, request: HttpRequest, job_id: uuid.UUID, kind: str) -> HttpResponseBase:
        """A job's log, summary or result for staff (any owner's): the log and summary shown in the browser."""
        job = get_object_or_404(Job.objects.select_related("result_archive"), id=job_id)
        if not self.has_view_permission(request, job):
            raise PermissionDenied
        try:
            return download_response(job, kind, inline=kind != "result")
        except ResultNotAvailable as exc:
            self.message_user(request, str(exc), messages.WARNING)
            return redirect("admin:jobs_job_change", job_id)
        except NotFound as exc:
            raise Http404(exc.message) from exc

    @admin.display(description="files")
    def files(self, job: Job) -> str:
        links = [
            (reverse("admin:jobs_job_file", args=[job.id, kind]), label)
            for kind, label, key in (
                ("log", "log", job.log_key),
                ("summary", "summary (JSON)", job.summary_key),
                ("result", "result VCF", job.result_key),
            )
            if key
        ]
        links.append((reverse("admin:jobs_job_owner_view", args=[job.id]), "the owner's view"))
        links.append((reverse("admin:accounts_user_change", args=[job.owner_id]), f"owner {job.owner.email}"))
        return format_html_join(" · ", '<a href="{}">{}</a>', links)

    def queues_view(self, request: HttpRequest) -> HttpResponse:
        """Every queue's depth and dead letters; superusers may redrive them."""
        can_redrive = request.user.is_superuser
        if request.method == "POST":
            alias = request.POST.get("redrive", "")
            if not can_redrive:
                raise PermissionDenied
            if alias not in queues.aliases():
                self.message_user(request, f"No queue called {alias!r}.", messages.ERROR)
            else:
                moved = queues[alias].redrive_dead_letters()
                logger.info("%s redrove %d dead letter(s) of queue %s", request.user, moved, alias)
                sent_back = _count(moved, "message", "messages")
                self.message_user(request, f"Queue {alias}: {sent_back} sent back.", messages.INFO)
            return redirect("admin:jobs_job_queues")
        rows = []
        for alias in queues.aliases():
            queue = queues[alias]
            try:
                rows.append({"alias": alias, "name": queue.name, "depth": queue.depth()})
            except QueueError as exc:
                rows.append({"alias": alias, "name": queue.name, "error": str(exc)})
        context = {**self.admin_site.each_context(request), "title": "Queues", "rows": rows, "can_redrive": can_redrive}
        return TemplateResponse(request, "admin/queues.html", context)

    def has_change_permission(self, request: HttpRequest, obj: Job | None = None) -> bool:
        return False  # (a job's page is for reading: nothing on it can be saved; the actions change jobs)

    @admin.display(description="file", ordering="input_name")
    def file(self, job: Job) -> str:
        return _shortened(job.input_name, 24)

    @admin.display(description="owner", ordering="owner__email")
    def owner_email(self, job: Job) -> str:
        return _shortened(job.owner.email, 20)

    @admin.display(description="results")
    def result_state(self, job: Job) -> str:
        archive = getattr(job, "result_archive", None)
        return archive.get_state_display() if archive else "—"

    @admin.display(description="plan", ordering="owner__plan")
    def owner_plan(self, job: Job) -> str:
        return job.owner.get_plan_display()

    @admin.display(description="duration")
    def duration(self, job: Job) -> str:
        if not (job.started_at and job.completed_at):
            return "—"
        seconds = round((job.completed_at - job.started_at).total_seconds())
        return f"{seconds // 60}m {seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"

    @admin.display(description="id")
    def short_id(self, job: Job) -> str:
        return str(job.id)[:8]

    @admin.display(description="timeline")
    def timeline(self, job: Job) -> str:
        events = services.job_timeline(job=job)
        return format_html_join(
            "", "<div>{} — {}</div>", ((date_format(when, "DATETIME_FORMAT"), what) for when, what in events)
        ) or "—"  # fmt: skip

    def _record(self, request: HttpRequest, jobs: list[Job], action: str) -> None:
        """Each staff action in Django's admin log, with who did it (the job's timeline shows it)."""
        for job in jobs:
            self.log_change(request, job, action)

    def has_restore_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("jobs.restore_job")

    def has_archive_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("jobs.archive_job")

    def has_rerun_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("jobs.rerun_job")

    def get_actions(self, request: HttpRequest) -> dict:
        found = super().get_actions(request)
        found.pop("delete_selected", None)  # (a bulk delete would leave the jobs' files behind: delete_jobs)
        return found

    def delete_model(self, request: HttpRequest, obj: Job) -> None:
        lifecycle.job_delete(job=obj)

    @admin.action(description="Delete the selected finished jobs and their files", permissions=["delete"])
    def delete_jobs(self, request: HttpRequest, queryset: QuerySet[Job]) -> TemplateResponse | None:
        asking = confirmation(
            request, self, queryset, action="delete_jobs", title="Delete jobs?",
            consequence=f"The {_count(queryset.count(), 'job', 'jobs')} below will be deleted with their input and "
            "result files (jobs still running are left alone). Their owners lose them. This cannot be undone.",
        )  # fmt: skip
        if asking is not None:
            return asking
        deleted = []
        for job in queryset:
            try:
                lifecycle.job_delete(job=job)
            except lifecycle.JobNotFinished:
                continue
            deleted.append(job)
        self.message_user(request, f"Deleted {_of_selected(deleted, queryset)}.", messages.INFO)
        return None

    @admin.action(description="Force restore archived results (any plan)", permissions=["restore"])
    def force_restore(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        started = [job for job in queryset if services.restore_request(job=job)]
        self._record(request, started, "Forced a restore of the results")
        self.message_user(request, f"Restore started for {_of_selected(started, queryset)}.", messages.INFO)

    @admin.action(description="Archive results now", permissions=["archive"])
    def archive_now(self, request: HttpRequest, queryset: QuerySet[Job]) -> TemplateResponse | None:
        asking = confirmation(
            request, self, queryset, action="archive_now", title="Archive results now?",
            consequence=f"The results of the {_count(queryset.count(), 'job', 'jobs')} below move to cold storage "
            "now: their owners can no longer download or browse them, and a free user gets them back only by "
            "upgrading (or a forced restore, which takes hours on S3 Glacier).",
        )  # fmt: skip
        if asking is not None:
            return asking
        queued = [job for job in queryset if services.archive_now(job=job)]
        self._record(request, queued, "Archived the results now")
        self.message_user(request, f"Archiving queued for {_of_selected(queued, queryset)}.", messages.INFO)
        return None

    @admin.action(description="Re-run failed jobs", permissions=["rerun"])
    def rerun(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        queued = [job for job in queryset if lifecycle.job_rerun(job=job)]
        self._record(request, queued, "Re-ran the job")
        self.message_user(request, f"{_count(len(queued), 'failed job', 'failed jobs')} queued again.", messages.INFO)


def _of_selected(done: list[Job], selected: QuerySet[Job]) -> str:
    """ "1 of 3 jobs", "1 job" (when it is all that was selected)."""
    total = selected.count()
    if len(done) == total:
        return _count(total, "job", "jobs")
    return f"{len(done)} of {_count(total, 'job', 'jobs')}"
