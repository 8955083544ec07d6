from django.contrib import admin

from jobs.models import ApiToken, Job


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ["id", "owner", "input_name", "status", "submitted_at", "completed_at", "records", "attempts"]
    list_filter = ["status", "reference_name", "submitted_at"]
    search_fields = ["id", "owner__email", "input_name"]
    date_hierarchy = "submitted_at"
    readonly_fields = [field.name for field in Job._meta.fields]

    def has_add_permission(self, request) -> bool:  # jobs come from uploads only
        return False


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "key_start", "created_at", "last_used_at", "revoked_at"]
    search_fields = ["user__email", "name"]
    readonly_fields = ["key_hash", "key_start", "created_at", "last_used_at"]
