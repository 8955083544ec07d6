"""Sign-in through a generic OpenID Connect provider, against a real local test double.

The double is an HTTP server on 127.0.0.1 that serves discovery, token and userinfo
endpoints the way Keycloak or Globus do; allauth talks to it over real HTTP.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest
from django.urls import reverse

from accounts.models import User

pytestmark = pytest.mark.django_db

CLIENT_ID = "gas-test-client"
CLIENT_SECRET = "gas-test-secret"


class FakeProvider:
    def __init__(self) -> None:
        self.token_requests: list[dict[str, list[str]]] = []
        self.userinfo = {
            "sub": "user-123",
            "email": "oidc.user@example.org",
            "email_verified": True,
            "name": "Rosalind Franklin",
        }
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _json(self, payload: dict, status: int = 200) -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                path = urlparse(self.path).path
                if path == "/.well-known/openid-configuration":
                    base = provider.url
                    self._json(
                        {
                            "issuer": base,
                            "authorization_endpoint": f"{base}/authorize",
                            "token_endpoint": f"{base}/token",
                            "userinfo_endpoint": f"{base}/userinfo",
                            "jwks_uri": f"{base}/jwks",
                            "token_endpoint_auth_methods_supported": ["client_secret_post"],
                        }
                    )
                elif path == "/userinfo":
                    if self.headers.get("Authorization") != "Bearer access-token-xyz":
                        self._json({"error": "invalid_token"}, 401)
                    else:
                        self._json(provider.userinfo)
                else:
                    self._json({"error": "not found"}, 404)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                form = parse_qs(self.rfile.read(length).decode())
                provider.token_requests.append(form)
                if form.get("client_secret") != [CLIENT_SECRET] or form.get("code") != ["auth-code-1"]:
                    self._json({"error": "invalid_grant"}, 400)
                    return
                self._json({"access_token": "access-token-xyz", "token_type": "Bearer", "expires_in": 300})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FakeProvider:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def oidc_provider(settings) -> Iterator[FakeProvider]:
    with FakeProvider() as provider:
        settings.SOCIALACCOUNT_PROVIDERS = {
            "openid_connect": {
                "APPS": [
                    {
                        "provider_id": "oidc",
                        "name": "Lab SSO",
                        "client_id": CLIENT_ID,
                        "secret": CLIENT_SECRET,
                        "settings": {"server_url": provider.url},
                    }
                ],
                "OAUTH_PKCE_ENABLED": True,
            }
        }
        yield provider


def test_login_page_offers_the_configured_provider(client, oidc_provider):
    html = client.get(reverse("account_login")).content.decode()
    assert "Lab SSO" in html


def test_oidc_sign_in_creates_a_user_from_userinfo(client, oidc_provider):
    login_url = reverse("openid_connect_login", kwargs={"provider_id": "oidc"})
    response = client.post(login_url)
    assert response.status_code == 302
    authorize = urlparse(response["Location"])
    assert f"{authorize.scheme}://{authorize.netloc}{authorize.path}" == f"{oidc_provider.url}/authorize"
    query = parse_qs(authorize.query)
    assert query["client_id"] == [CLIENT_ID]
    assert "code_challenge" in query  # PKCE
    callback = urlparse(query["redirect_uri"][0]).path

    response = client.get(callback, {"code": "auth-code-1", "state": query["state"][0]}, follow=True)
    assert response.status_code == 200
    user = User.objects.get(email="oidc.user@example.org")
    assert user.full_name == "Rosalind Franklin"
    assert response.context["user"] == user
    assert oidc_provider.token_requests[0]["code_verifier"]


def test_oidc_callback_with_a_bad_code_does_not_sign_in(client, oidc_provider):
    response = client.post(reverse("openid_connect_login", kwargs={"provider_id": "oidc"}))
    query = parse_qs(urlparse(response["Location"]).query)
    callback = urlparse(query["redirect_uri"][0]).path
    response = client.get(callback, {"code": "stolen", "state": query["state"][0]})
    assert not User.objects.filter(email="oidc.user@example.org").exists()
    assert "_auth_user_id" not in client.session
