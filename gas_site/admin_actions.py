"""What every destructive admin action shares: a page that asks first (as Django's own
"delete selected" does), naming what will happen to which objects; the action runs only on the
form that page posts back."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse


def confirmation(
    request: HttpRequest, model_admin: admin.ModelAdmin, queryset: QuerySet, *, action: str, title: str,
    consequence: str,
) -> TemplateResponse | None:  # fmt: skip
    """None once the user has confirmed (the page's own POST); else the page that asks."""
    if request.POST.get("post") == "yes":
        return None
    context = {
        **model_admin.admin_site.each_context(request),
        "title": title, "consequence": consequence, "objects": list(queryset), "action": action,
        "opts": model_admin.model._meta,
    }  # fmt: skip
    return TemplateResponse(request, "admin/confirm_action.html", context)
