"""allauth adapters: what GAS takes from an identity provider and what it refuses.

A new identity signs in only with an e-mail address its provider vouches for (``email_verified``,
or an app whose provider has no such claim but releases only addresses it knows, as Globus);
one whose address belongs to an existing account is offered to link to it (``account_link``),
never merged silently. Every refusal is a page that says what happened (accounts.sign_in).
"""

from __future__ import annotations

from typing import Any

from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialLogin
from django.http import HttpRequest
from django.shortcuts import redirect

from accounts import sign_in
from accounts.models import User
from accounts.services import identity_claims


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def populate_user(self, request: HttpRequest, sociallogin: Any, data: dict[str, Any]) -> User:
        user = super().populate_user(request, sociallogin, data)
        claims = identity_claims(sociallogin.account.extra_data)
        name = data.get("name") or " ".join(filter(None, [data.get("first_name"), data.get("last_name")]))
        if name and not user.full_name:
            user.full_name = name.strip()[:150]
        organization = claims.get("organization")
        if isinstance(organization, str) and organization.strip() and not user.institution:
            user.institution = organization.strip()[:200]
        return user

    def pre_social_login(self, request: HttpRequest, sociallogin: SocialLogin) -> None:
        if sociallogin.is_existing or sociallogin.state.get("process") == "connect":
            return  # a known identity, or one a signed-in user is adding
        provider = sociallogin.provider
        claims = identity_claims(sociallogin.account.extra_data)
        email = str(claims.get("email") or "").strip()
        if not email:
            raise ImmediateHttpResponse(sign_in.refusal(request, provider_name=provider.name, reason="email_missing"))
        verified = claims.get("email_verified")
        if verified is None:
            verified = bool(provider.app.settings.get("email_verified"))
        if verified is not True and str(verified).lower() != "true":
            raise ImmediateHttpResponse(
                sign_in.refusal(request, provider_name=provider.name, reason="email_unverified", email=email)
            )
        for address in sociallogin.email_addresses:
            if address.email.lower() == email.lower():
                address.verified = True
        if User.objects.filter(email__iexact=email).exists():
            sign_in.pending_link_stash(request, sociallogin=sociallogin, email=email)
            raise ImmediateHttpResponse(redirect("account_link"))

    def on_authentication_error(
        self,
        request: HttpRequest,
        provider: Any,
        error: str | None = None,
        exception: Exception | None = None,
        extra_context: dict[str, Any] | None = None,
    ) -> None:
        raise ImmediateHttpResponse(
            sign_in.authentication_error(
                request, provider_name=getattr(provider, "name", "The provider"), error=error,
                exception=exception, state_found="state" in (extra_context or {}),
            )
        )  # fmt: skip
