from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from accounts.models import PlanChange, User


class PlanChangeInline(admin.TabularInline):
    model = PlanChange
    extra = 0
    readonly_fields = ["from_plan", "to_plan", "changed_at", "payment_reference"]
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


@admin.register(PlanChange)
class PlanChangeAdmin(admin.ModelAdmin):
    list_display = ["user", "from_plan", "to_plan", "changed_at", "payment_reference"]
    list_filter = ["to_plan"]
    search_fields = ["user__email"]
    date_hierarchy = "changed_at"
