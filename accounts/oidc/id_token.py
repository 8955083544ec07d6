"""ID-token checks (OpenID Connect Core 3.1.3.7): each failure is a SignInRefused naming what was wrong."""

from __future__ import annotations

import hmac
from typing import Any

import jwt
import requests
from allauth.socialaccount.providers.oauth2.client import OAuth2Error

# Asymmetric algorithms only: never "none", never an HMAC keyed with something public.
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
LEEWAY_SECONDS = 60


class SignInRefused(OAuth2Error):
    """A sign-in answer GAS does not accept. ``reason`` is a short code; ``message`` tells the user."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


def _signing_key(*, token: str, jwks: dict[str, Any], provider_name: str) -> tuple[Any, str]:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise SignInRefused(
            "id_token_malformed", f"{provider_name} sent an ID token that is not a JWT ({exc})."
        ) from None
    alg = header.get("alg")
    if alg not in ALGORITHMS:
        raise SignInRefused(
            "id_token_algorithm", f"{provider_name} signed its ID token with {alg!r}, which GAS does not accept."
        )
    kid = header.get("kid")
    keys = [k for k in jwks.get("keys", []) if k.get("use", "sig") == "sig" and (kid is None or k.get("kid") == kid)]
    if not keys:
        raise SignInRefused(
            "id_token_unknown_key",
            f"{provider_name}'s ID token was signed with a key it does not publish (kid {kid!r}).",
        )
    try:
        return jwt.PyJWK(keys[0], algorithm=alg).key, alg
    except jwt.PyJWTError as exc:
        raise SignInRefused(
            "id_token_unknown_key", f"{provider_name} publishes a key GAS cannot read ({exc})."
        ) from None


def fetch_jwks(*, session: requests.Session, jwks_uri: str) -> dict[str, Any]:
    """The provider's keys, fetched for each sign-in: a rotated key is there as soon as it is published."""
    response = session.get(jwks_uri, timeout=10)
    response.raise_for_status()
    return response.json()


def verify_id_token(
    *, token: str, jwks: dict[str, Any], issuer: str, client_id: str, nonce: str | None, provider_name: str
) -> dict[str, Any]:
    key, alg = _signing_key(token=token, jwks=jwks, provider_name=provider_name)
    try:
        claims = jwt.decode(
            token,
            key=key,
            algorithms=[alg],
            audience=client_id,
            issuer=issuer,
            leeway=LEEWAY_SECONDS,
            options={"require": ["iss", "sub", "aud", "exp", "iat"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise SignInRefused(
            "id_token_expired",
            f"{provider_name}'s ID token had expired before it reached GAS (check both machines' clocks).",
        ) from exc
    except jwt.InvalidSignatureError as exc:
        raise SignInRefused(
            "id_token_signature",
            f"{provider_name}'s ID token does not carry a valid signature from its published keys.",
        ) from exc
    except jwt.InvalidAudienceError:
        raise SignInRefused(
            "id_token_audience", f"{provider_name}'s ID token was issued to another application."
        ) from None
    except jwt.InvalidIssuerError as exc:
        raise SignInRefused("id_token_issuer", f"The ID token was not issued by {provider_name} ({issuer}).") from exc
    except jwt.PyJWTError as exc:
        raise SignInRefused("id_token_invalid", f"{provider_name}'s ID token was refused: {exc}.") from exc
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if len(audiences) > 1 and claims.get("azp") != client_id:
        raise SignInRefused("id_token_audience", f"{provider_name}'s ID token names another authorized party.")
    if nonce is None or not hmac.compare_digest(str(claims.get("nonce", "")), nonce):
        raise SignInRefused(
            "id_token_nonce",
            f"{provider_name}'s ID token does not answer the sign-in this browser started (its nonce differs).",
        )
    return claims
