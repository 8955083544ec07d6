"""allauth's OpenID Connect provider, sending a nonce that the callback checks in the ID token."""

from __future__ import annotations

import secrets
from typing import Any

from allauth.socialaccount.providers.openid_connect.provider import OpenIDConnectProvider
from django.http import HttpRequest, HttpResponse

from accounts.oidc.nonces import remember_nonce
from accounts.oidc.views import VerifiedOpenIDConnectAdapter


class VerifiedOpenIDConnectProvider(OpenIDConnectProvider):
    oauth2_adapter_class = VerifiedOpenIDConnectAdapter
    package = "accounts.oidc"  # its login and callback views (allauth imports <package>.urls)

    def redirect(
        self, request: HttpRequest, process: Any, next_url: str | None = None, data: Any = None, **kwargs: Any
    ) -> HttpResponse:
        nonce = secrets.token_urlsafe(32)
        auth_params = dict(kwargs.pop("auth_params", None) or self.get_auth_params())
        auth_params["nonce"] = nonce
        return super().redirect(request, process, next_url, data, auth_params=auth_params, oidc_nonce=nonce, **kwargs)

    def stash_redirect_state(
        self,
        request: HttpRequest,
        process: Any,
        next_url: str | None = None,
        data: Any = None,
        state_id: str | None = None,
        oidc_nonce: str | None = None,
        **kwargs: Any,
    ) -> str:
        state_id = super().stash_redirect_state(request, process, next_url, data, state_id=state_id, **kwargs)
        if oidc_nonce:
            remember_nonce(request, state_id=state_id, nonce=oidc_nonce)
        return state_id
