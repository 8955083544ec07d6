"""Login and callback views of the verified OpenID Connect provider."""

from __future__ import annotations

from typing import Any

from allauth.socialaccount.adapter import get_adapter
from allauth.socialaccount.models import SocialApp, SocialLogin, SocialToken
from allauth.socialaccount.providers.oauth2.views import OAuth2CallbackView, OAuth2LoginView
from allauth.socialaccount.providers.openid_connect.views import OpenIDConnectOAuth2Adapter
from django.http import Http404, HttpRequest, HttpResponse

from accounts.oidc.id_token import SignInRefused, fetch_jwks, verify_id_token
from accounts.oidc.nonces import pop_nonce


class VerifiedOpenIDConnectAdapter(OpenIDConnectOAuth2Adapter):
    def complete_login(self, request: HttpRequest, app: SocialApp, token: SocialToken, **kwargs: Any) -> SocialLogin:
        provider = self.get_provider()
        id_token = kwargs["response"].get("id_token")
        if not id_token:
            raise SignInRefused(
                "id_token_missing", f"{provider.name} answered without an ID token (is the openid scope allowed?)."
            )
        config = self.openid_config
        with get_adapter().get_requests_session() as session:
            claims = verify_id_token(
                token=id_token,
                jwks=fetch_jwks(session=session, jwks_uri=config["jwks_uri"]),
                issuer=config["issuer"],
                client_id=app.client_id,
                nonce=pop_nonce(request, state_id=request.GET.get("state")),
                provider_name=provider.name,
            )
            response = session.get(self.profile_url, headers={"Authorization": f"Bearer {token.token}"}, timeout=10)
            response.raise_for_status()
            userinfo = response.json()
        if str(userinfo.get("sub")) != str(claims["sub"]):
            raise SignInRefused(
                "userinfo_subject", f"{provider.name}'s user information speaks of another person than its ID token."
            )
        return provider.sociallogin_from_response(request, {"userinfo": userinfo, "id_token": claims})


def login(request: HttpRequest, provider_id: str) -> HttpResponse:
    try:
        return OAuth2LoginView.adapter_view(VerifiedOpenIDConnectAdapter(request, provider_id))(request)
    except SocialApp.DoesNotExist:
        raise Http404 from None


def callback(request: HttpRequest, provider_id: str) -> HttpResponse:
    try:
        return OAuth2CallbackView.adapter_view(VerifiedOpenIDConnectAdapter(request, provider_id))(request)
    except SocialApp.DoesNotExist:
        raise Http404 from None
