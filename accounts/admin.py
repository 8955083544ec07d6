from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts import services
from accounts.http import AuthenticatedRequest
from accounts.models import PlanChange, User


class PlanChangeInline(admin.TabularInline):
    model = PlanChange
    fk_name = "user"
    extra = 0
    readonly_fields = ["from_plan", "to_plan", "changed_at", "payment_reference", "changed_by"]
    can_delete = False


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "full_name", "institution", "plan", "plan_changed_at", "is_staff", "date_joined"]
    list_filter = ["plan", "is_staff", "is_active"]
    search_fields = ["email", "full_name", "institution"]
    readonly_fields = ["plan", "plan_changed_at", "last_login", "date_joined"]
    inlines = [PlanChangeInline]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("full_name", "institution")}),
        ("Plan", {"fields": ("plan", "plan_changed_at")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)
    actions = ["upgrade", "back_to_free"]

    def _changed(self, request: HttpRequest, users: list[User], plan: str) -> None:
        for user in users:
            self.log_change(request, user, f"Changed the plan to {plan}")  # (the admin log: who, when)
        count = f"{len(users)} user{'' if len(users) == 1 else 's'}"
        self.message_user(request, f"{count} moved to {plan}.", messages.INFO)

    @admin.action(description="Upgrade to premium (their archived results come back)", permissions=["change"])
    def upgrade(self, request: AuthenticatedRequest, queryset: QuerySet[User]) -> None:
        reference = f"staff:{request.user.email}"
        changed = [
            user for user in queryset if services.plan_upgrade(user=user, payment_reference=reference, by=request.user)
        ]
        self._changed(request, changed, "premium")

    @admin.action(description="Back to the free plan", permissions=["change"])
    def back_to_free(self, request: AuthenticatedRequest, queryset: QuerySet[User]) -> None:
        changed = [user for user in queryset if services.plan_cancel(user=user, by=request.user)]
        self._changed(request, changed, "free")


@admin.register(PlanChange)
class PlanChangeAdmin(admin.ModelAdmin):
    list_display = ["user", "from_plan", "to_plan", "changed_at", "payment_reference", "changed_by"]
    list_filter = ["to_plan"]
    search_fields = ["user__email"]
    date_hierarchy = "changed_at"
