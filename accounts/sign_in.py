"""Sign-in through an identity provider: the pages that refuse one (saying what happened) and the
identity waiting to be linked to an existing account."""

from __future__ import annotations

import logging
from typing import Any

from allauth.socialaccount.models import SocialLogin
from allauth.socialaccount.providers.base.constants import AuthError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from requests import RequestException

from accounts.oidc.id_token import SignInRefused

logger = logging.getLogger(__name__)

PENDING_LINK_KEY = "gas_pending_link"

_REASONS: dict[str, tuple[str, str]] = {
    "cancelled": (
        "Sign-in cancelled",
        "You declined to share your details with GAS at {provider}. Nothing was shared and you are not signed in.",
    ),
    "state_mismatch": (
        "This sign-in answer does not belong to this browser",
        "The answer from {provider} carried a state that no sign-in started in this browser matches: it was "
        "altered, used twice, or the sign-in expired. Nothing was changed; start the sign-in again.",
    ),
    "email_missing": (
        "No e-mail address was shared",
        "{provider} did not tell GAS your e-mail address, which GAS needs to reach you when a job finishes. "
        "Allow the e-mail scope at {provider} and sign in again.",
    ),
    "email_unverified": (
        "Your e-mail address is not verified",
        "{provider} says it has not verified {email}, so GAS cannot sign you in with it (an unverified "
        "address could be anyone's). Verify the address at {provider} and sign in again, or use GAS's own "
        "e-mail sign-in.",
    ),
    "provider_error": ("{provider} refused the sign-in", "{provider} answered: {detail}."),
    "unreachable": ("{provider} could not be reached", "GAS could not reach {provider} ({detail}). Try again shortly."),
    "code_refused": (
        "{provider} did not accept the sign-in",
        "{provider} refused to exchange the sign-in code ({detail}). Start the sign-in again.",
    ),
}


def refusal(request: HttpRequest, *, provider_name: str, reason: str, status: int = 401, **detail: str) -> HttpResponse:
    title, message = _REASONS[reason]
    fields = {"provider": provider_name, "email": "", "detail": "", **detail}
    return _page(request, reason=reason, title=title.format(**fields), message=message.format(**fields), status=status)


def _page(request: HttpRequest, *, reason: str, title: str, message: str, status: int) -> HttpResponse:
    logger.info("sign-in refused (%s): %s", reason, message)
    context = {"reason": reason, "title": title, "message": message}
    return render(request, "accounts/sign_in_refused.html", context, status=status)


def authentication_error(
    request: HttpRequest, *, provider_name: str, error: str | None, exception: Exception | None, state_found: bool
) -> HttpResponse:
    """The page for an answer allauth could not complete: cancelled, a state this browser did not start,
    the provider's own error, a refused ID token, an unreachable provider."""
    if error == AuthError.CANCELLED:
        return refusal(request, provider_name=provider_name, reason="cancelled", status=200)
    if isinstance(exception, SignInRefused):
        return _page(request, reason=exception.reason, title="Sign-in refused", message=exception.message, status=401)
    if exception is None and not state_found:
        return refusal(request, provider_name=provider_name, reason="state_mismatch", status=400)
    if "error" in request.GET:
        detail = ": ".join(filter(None, [request.GET.get("error"), request.GET.get("error_description")]))
        return refusal(request, provider_name=provider_name, reason="provider_error", detail=detail)
    if isinstance(exception, RequestException):
        return refusal(request, provider_name=provider_name, reason="unreachable", status=502, detail=str(exception))
    return refusal(request, provider_name=provider_name, reason="code_refused", detail=str(exception or "no code"))


def pending_link_stash(request: HttpRequest, *, sociallogin: SocialLogin, email: str) -> None:
    request.session[PENDING_LINK_KEY] = {"sociallogin": sociallogin.serialize(), "email": email}


def pending_link(request: HttpRequest) -> tuple[SocialLogin, str] | None:
    data: dict[str, Any] | None = request.session.get(PENDING_LINK_KEY)
    if not data:
        return None
    return SocialLogin.deserialize(data["sociallogin"]), data["email"]


def pending_link_drop(request: HttpRequest) -> None:
    request.session.pop(PENDING_LINK_KEY, None)
