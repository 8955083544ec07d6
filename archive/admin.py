"""Staff view of jobs with their cold storage state, and the actions that go through the services."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from archive import services
from archive.models import ResultArchive, ResultState
from jobs import services as job_services
from jobs.admin import JobAdmin
from jobs.models import Job


class ArchiveStateFilter(admin.SimpleListFilter):
    title = "result storage"
    parameter_name = "result_state"

    def lookups(self, request, model_admin):
        return ResultState.choices

    def queryset(self, request, queryset):
        return queryset.filter(result_archive__state=self.value()) if self.value() else queryset


class ResultArchiveInline(admin.StackedInline):
    model = ResultArchive
    can_delete = False
    readonly_fields = [field.name for field in ResultArchive._meta.fields if field.name != "job"]
    extra = 0


admin.site.unregister(Job)


@admin.register(Job)
class JobWithArchiveAdmin(JobAdmin):
    list_display = [*JobAdmin.list_display, "result_state", "owner_plan"]
    list_filter = ["status", ArchiveStateFilter, "owner__plan", "submitted_at", "reference_name"]
    list_select_related = ["owner", "result_archive"]
    inlines = [ResultArchiveInline]
    actions = ["force_restore", "archive_now", "rerun"]

    @admin.display(description="results")
    def result_state(self, job: Job) -> str:
        archive = getattr(job, "result_archive", None)
        return archive.get_state_display() if archive else "—"

    @admin.display(description="plan", ordering="owner__plan")
    def owner_plan(self, job: Job) -> str:
        return job.owner.get_plan_display()

    @admin.action(description="Force restore archived results (any plan)")
    def force_restore(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        started = sum(services.restore_request(job=job) for job in queryset)
        self.message_user(request, f"Restore started for {started} of {queryset.count()} jobs.", messages.INFO)

    @admin.action(description="Archive results now")
    def archive_now(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        queued = sum(services.archive_now(job=job) for job in queryset)
        self.message_user(request, f"Archiving queued for {queued} of {queryset.count()} jobs.", messages.INFO)

    @admin.action(description="Re-run failed jobs")
    def rerun(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        queued = sum(job_services.job_rerun(job=job) for job in queryset)
        self.message_user(request, f"{queued} failed jobs queued again.", messages.INFO)
