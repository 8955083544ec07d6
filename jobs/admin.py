from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from gas_site.admin_actions import confirmation
from jobs.models import AnnotationSource, ApiToken, Job, JobShard, MatchType, RegionSet
from jobs.references.bundles import reference_choices
from jobs.sources import registry


class JobShardInline(admin.TabularInline):
    """A split job's shards, to read: who ran each, how often, how long (jobs.services.shards)."""

    model = JobShard
    fields = ("index", "line_offset", "lines", "status", "attempts", "worker", "started_at", "finished_at", "seconds")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    inlines = [JobShardInline]
    list_display = ["id", "owner", "input_name", "status", "submitted_at", "completed_at", "records", "attempts"]
    list_filter = ["status", "reference_name", "submitted_at"]
    search_fields = ["id", "owner__email", "input_name"]
    date_hierarchy = "submitted_at"
    readonly_fields = [field.name for field in Job._meta.fields] + ["source_names", "sources"]

    def has_add_permission(self, request: HttpRequest) -> bool:  # jobs come from uploads only
        return False


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "key_start", "created_at", "last_used_at", "revoked_at"]
    search_fields = ["user__email", "name"]
    readonly_fields = ["key_hash", "key_start", "created_at", "last_used_at"]


class SourceAddForm(forms.ModelForm):
    """Registering from the admin: a file already on the server, checked as ``source add`` does."""

    server_path = forms.CharField(
        label="File on the server", help_text="A VCF or BED (.gz); it is checked, indexed if needed and copied."
    )
    fields_text = forms.CharField(label="Fields", required=False, help_text="INFO fields, comma-separated (VCF).")
    reference_name = forms.ChoiceField(label="Reference")
    match_type = forms.ChoiceField(label="Match", choices=MatchType.choices)

    class Meta:
        model = AnnotationSource
        fields = ["name", "reference_name", "match_type", "short_name", "default", "description"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["reference_name"]).choices = reference_choices()
        self.fields["short_name"].required = False

    def _post_clean(self) -> None:
        super()._post_clean()  # type: ignore[misc]  # (the model's own checks first: a taken name is refused there)
        if self.errors:
            return
        data = self.cleaned_data
        try:
            self.registered = registry.source_register(
                name=data["name"], reference_name=data["reference_name"], path=Path(data["server_path"]),
                match_type=data["match_type"], short_name=data.get("short_name") or "",
                fields=[field.strip() for field in data.get("fields_text", "").split(",") if field.strip()],
                default=data.get("default", False), description=data.get("description", ""),
            )  # fmt: skip
        except registry.SourceError as exc:
            self.add_error(None, str(exc))


@admin.register(AnnotationSource)
class AnnotationSourceAdmin(admin.ModelAdmin):
    list_display = ["name", "reference_name", "format", "match_type", "short_name", "default", "version", "size"]
    list_filter = ["reference_name", "match_type", "default"]
    search_fields = ["name", "short_name", "file_name"]
    actions = ["remove_sources"]

    def get_form(  # type: ignore[override]
        self, request: HttpRequest, obj: AnnotationSource | None = None, **kwargs: Any
    ) -> Any:
        if obj is None:
            kwargs["form"] = SourceAddForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request: HttpRequest, obj: AnnotationSource | None = None) -> Any:
        if obj is None:
            return ["name", "reference_name", "server_path", "match_type", "fields_text", "short_name", "default",
                    "description"]  # fmt: skip
        return [field.name for field in AnnotationSource._meta.fields if field.name != "id"]

    def get_readonly_fields(self, request: HttpRequest, obj: AnnotationSource | None = None) -> list[str]:
        if obj is None:
            return []
        return [field.name for field in AnnotationSource._meta.fields if field.name not in ("default", "description")]

    def save_model(self, request: HttpRequest, obj: AnnotationSource, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        registered = form.registered  # (registered while the form was checked)
        obj.pk, obj._state.adding = registered.pk, False
        messages.info(request, f"{registered.name}: version {registered.version}, {len(registered.contigs)} contigs.")

    def delete_model(self, request: HttpRequest, obj: AnnotationSource) -> None:
        registry.source_remove(name=obj.name)

    @admin.action(description="Remove the selected sources and their files", permissions=["delete"])
    def remove_sources(self, request: HttpRequest, queryset: QuerySet[AnnotationSource]) -> TemplateResponse | None:
        names = list(queryset.values_list("name", flat=True))
        asking = confirmation(
            request, self, queryset, action="remove_sources", title="Remove annotation sources?",
            consequence=f"The {len(names)} source(s) below and their files will be removed: the upload form and the "
            "API will no longer offer them, and jobs submitted with them but not yet run will say they were not "
            "applied. This cannot be undone.",
        )  # fmt: skip
        if asking is not None:
            return asking
        for name in names:
            registry.source_remove(name=name)
        messages.success(request, f"Removed {len(names)} source(s): {', '.join(names)}.")
        return None

    def get_actions(self, request: HttpRequest) -> dict:
        found = super().get_actions(request)
        found.pop("delete_selected", None)  # (its bulk delete would leave the files behind)
        return found


@admin.register(RegionSet)
class RegionSetAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "regions", "file_name", "uploaded_at"]
    search_fields = ["owner__email", "name", "file_name"]
    readonly_fields = [field.name for field in RegionSet._meta.fields]
