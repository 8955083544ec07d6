"""ID-token checks (accounts.oidc.id_token), with keys made here: each way a token can be wrong is
refused with its own reason. The whole sign-in, against a real OpenID provider in a real browser,
is tests/browser/test_sign_in.py."""

from __future__ import annotations

import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from accounts.oidc.id_token import SignInRefused, verify_id_token

ISSUER = "https://idp.example.org"
CLIENT = "gas-client"


def _key(kid: str):
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    return private, {**public, "kid": kid, "use": "sig", "alg": "RS256"}


PRIVATE, PUBLIC = _key("k1")
OTHER_PRIVATE, _ = _key("k1")  # (same kid, another key)


def _token(private=PRIVATE, kid="k1", alg="RS256", **overrides) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "sub": "user-1", "aud": CLIENT, "iat": now, "exp": now + 300, "nonce": "n-1"}
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, private, algorithm=alg, headers={"kid": kid})


def _verify(token: str, nonce: str | None = "n-1", jwks=None) -> dict:
    return verify_id_token(
        token=token, jwks=jwks or {"keys": [PUBLIC]}, issuer=ISSUER, client_id=CLIENT, nonce=nonce,
        provider_name="Lab SSO",
    )  # fmt: skip


def test_a_good_token_gives_its_claims():
    assert _verify(_token())["sub"] == "user-1"


@pytest.mark.parametrize(
    ("token", "nonce", "reason"),
    [
        (lambda: _token(exp=int(time.time()) - 600, iat=int(time.time()) - 900), "n-1", "id_token_expired"),
        (lambda: _token(private=OTHER_PRIVATE), "n-1", "id_token_signature"),
        (lambda: _token(kid="k2"), "n-1", "id_token_unknown_key"),
        (lambda: _token(aud="someone-else"), "n-1", "id_token_audience"),
        (lambda: _token(aud=[CLIENT, "someone-else"], azp="someone-else"), "n-1", "id_token_audience"),
        (lambda: _token(iss="https://evil.example.org"), "n-1", "id_token_issuer"),
        (lambda: _token(), "another-nonce", "id_token_nonce"),
        (lambda: _token(), None, "id_token_nonce"),  # (no sign-in of this browser's waits for it)
        (lambda: _token(nonce=None), "n-1", "id_token_nonce"),
        (lambda: _token(iat=None), "n-1", "id_token_invalid"),
        (lambda: "not.a.jwt", "n-1", "id_token_malformed"),
        (lambda: jwt.encode({"iss": ISSUER}, "a-shared-secret-of-thirty-two-bytes!", algorithm="HS256",
                            headers={"kid": "k1"}), "n-1", "id_token_algorithm"),
        (lambda: jwt.encode({"iss": ISSUER}, None, algorithm="none"), "n-1", "id_token_algorithm"),
    ],
)  # fmt: skip
def test_each_wrong_token_is_refused_with_its_reason(token, nonce, reason):
    with pytest.raises(SignInRefused) as refused:
        _verify(token(), nonce=nonce)
    assert refused.value.reason == reason
    assert "Lab SSO" in refused.value.message or reason == "id_token_issuer"


def test_a_rotated_key_is_found_by_its_kid():
    new_private, new_public = _key("k2")
    assert _verify(_token(private=new_private, kid="k2"), jwks={"keys": [new_public, PUBLIC]})["sub"] == "user-1"


@pytest.mark.parametrize(
    ("query", "exception", "reason", "status", "words"),
    [
        ({"error": "access_denied"}, None, "cancelled", 200, "You declined"),
        ({"error": "temporarily_unavailable", "error_description": "down for maintenance"}, None, "provider_error",
         401, "Lab SSO answered: temporarily_unavailable: down for maintenance."),
        ({"code": "c"}, "unreachable", "unreachable", 502, "GAS could not reach Lab SSO (connection refused)"),
        ({"code": "c"}, "code", "code_refused", 401, "refused to exchange the sign-in code (invalid_grant)"),
        ({"code": "c"}, "id_token", "id_token_nonce", 401, "its nonce differs"),
        ({"code": "c", "state": "forged"}, "no state", "state_mismatch", 400, "altered, used twice"),
    ],
)  # fmt: skip
@pytest.mark.django_db
def test_each_authentication_error_has_a_page_that_says_what_happened(rf, query, exception, reason, status, words):
    from allauth.socialaccount.providers.base.constants import AuthError
    from allauth.socialaccount.providers.oauth2.client import OAuth2Error
    from django.contrib.auth.models import AnonymousUser
    from requests import ConnectionError as RequestsConnectionError

    from accounts import sign_in

    request = rf.get("/accounts/oidc/oidc/login/callback/", query)
    request.user = AnonymousUser()
    error = AuthError.CANCELLED if query.get("error") == "access_denied" else AuthError.UNKNOWN
    raised = {
        "unreachable": RequestsConnectionError("connection refused"),
        "code": OAuth2Error("invalid_grant"),
        "id_token": SignInRefused("id_token_nonce", "Lab SSO's ID token ... (its nonce differs)."),
    }.get(exception)
    response = sign_in.authentication_error(
        request, provider_name="Lab SSO", error=error, exception=raised, state_found=exception != "no state"
    )
    html = response.content.decode()
    assert response.status_code == status
    assert f'data-reason="{reason}"' in html and words in html.replace("&#x27;", "'")
