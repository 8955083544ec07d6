"""Profile and plan pages: thin interfaces to accounts.services."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts import billing, services, sign_in
from accounts.forms import ConfirmForm, ProfileForm
from accounts.http import AuthenticatedRequest
from archive.services import storage_usage
from jobs.forms import RegionSetForm

UPGRADE_CONFIRM = "Upgrade my account to premium"
CANCEL_CONFIRM = "Cancel premium and return to the free plan"


def _posted(request: HttpRequest) -> QueryDict | None:
    """The submitted data of a POST (even an empty one), None for a GET."""
    return request.POST if request.method == "POST" else None


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html", {"free_retention_seconds": settings.GAS_FREE_RETENTION_SECONDS})


@login_required
@require_http_methods(["GET", "POST"])
def profile(request: AuthenticatedRequest) -> HttpResponse:
    form = ProfileForm(_posted(request), instance=request.user)
    if request.method == "POST" and form.is_valid():
        services.profile_update(
            user=request.user,
            full_name=form.cleaned_data["full_name"],
            institution=form.cleaned_data["institution"],
        )
        messages.success(request, "Your profile was saved.")
        return redirect("profile")
    return render(
        request,
        "accounts/profile.html",
        {
            "form": form,
            "plan_changes": request.user.plan_changes.all()[:10],
            "limits": _limits(),
            "tokens": request.user.api_tokens.filter(revoked_at=None),
            "new_api_token": request.session.pop("new_api_token", None),
            "storage": storage_usage(user=request.user),
            "region_sets": request.user.region_sets.all(),
            "region_form": RegionSetForm(),
            "identities": services.linked_identities(user=request.user),
            "sign_in_ways": services.sign_in_ways(user=request.user),
        },
    )


def _limits() -> dict[str, int | str]:
    return {
        "free_bytes": settings.GAS_FREE_MAX_UPLOAD_BYTES,
        "premium_bytes": settings.GAS_PREMIUM_MAX_UPLOAD_BYTES,
        "free_input_bytes": settings.GAS_FREE_MAX_INPUT_BYTES,
        "premium_input_bytes": settings.GAS_PREMIUM_MAX_INPUT_BYTES,
        "free_records": settings.GAS_FREE_MAX_RECORDS,
        "premium_records": settings.GAS_PREMIUM_MAX_RECORDS,
        "free_retention_seconds": settings.GAS_FREE_RETENTION_SECONDS,
        "premium_price": settings.GAS_PREMIUM_PRICE,
    }


@login_required
@require_http_methods(["GET", "POST"])
def subscribe(request: AuthenticatedRequest) -> HttpResponse:
    if request.user.is_premium:
        if request.method == "POST":
            messages.info(request, "You are already on the premium plan.")
            return redirect("profile")
        return render(request, "accounts/subscribe.html", {"limits": _limits(), "form": None})
    form = ConfirmForm(_posted(request), label=UPGRADE_CONFIRM)
    if request.method == "POST" and form.is_valid():
        try:
            reference = billing.authorize_premium(user=request.user)
        except billing.PaymentDeclined as exc:
            messages.error(request, f"The upgrade did not go through: {exc}")
        else:
            services.plan_upgrade(user=request.user, payment_reference=reference)
            messages.success(
                request, "Welcome to premium: your results stay available and archived results are being restored."
            )
            return redirect("profile")
    return render(request, "accounts/subscribe.html", {"limits": _limits(), "form": form})


@login_required
@require_http_methods(["GET", "POST"])
def unsubscribe(request: AuthenticatedRequest) -> HttpResponse:
    if not request.user.is_premium:
        messages.info(request, "You are on the free plan.")
        return redirect("profile")
    form = ConfirmForm(_posted(request), label=CANCEL_CONFIRM)
    if request.method == "POST" and form.is_valid():
        services.plan_cancel(user=request.user)
        messages.success(request, "Premium was cancelled; you are on the free plan.")
        return redirect("profile")
    return render(request, "accounts/unsubscribe.html", {"limits": _limits(), "form": form})


@require_http_methods(["GET", "POST"])
def account_link(request: HttpRequest) -> HttpResponse:
    """An identity whose verified address belongs to an existing account: linked once that account's
    owner has signed in to it (with its password, or however they sign in), never before."""
    pending = sign_in.pending_link(request)
    if pending is None:
        messages.info(request, "No sign-in is waiting to be linked.")
        return redirect("home")
    sociallogin, email = pending
    provider = sociallogin.provider.name
    if request.method == "POST":
        if request.POST.get("action") == "cancel":
            sign_in.pending_link_drop(request)
            messages.info(request, f"Nothing was linked: {provider} was not added to any account.")
            return redirect("home")
        if request.user.is_authenticated:
            sign_in.pending_link_drop(request)
            try:
                services.identity_link(request=request, user=request.user, sociallogin=sociallogin, email=email)
            except services.IdentityError as exc:
                messages.error(request, str(exc))
            else:
                messages.success(request, f"{provider} is linked: you can now sign in with it.")
            return redirect("profile")
    return render(
        request,
        "accounts/link_identity.html",
        {"provider": provider, "email": email, "label": services.identity_label(sociallogin.account)},
    )


@login_required
@require_http_methods(["POST"])
def identity_remove(request: AuthenticatedRequest, account_id: int) -> HttpResponse:
    try:
        identity = services.identity_unlink(user=request.user, account_id=account_id)
    except services.IdentityError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{identity.provider} ({identity.label}) is no longer linked to your account.")
    return redirect("profile")
