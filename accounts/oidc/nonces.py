"""The nonce of each sign-in this browser started, kept in its session under the sign-in's state id."""

from __future__ import annotations

from django.http import HttpRequest

SESSION_KEY = "gas_oidc_nonces"
MAX_PENDING = 8  # sign-ins started in other tabs of the same browser


def remember_nonce(request: HttpRequest, *, state_id: str, nonce: str) -> None:
    nonces: dict[str, str] = request.session.get(SESSION_KEY, {})
    nonces[state_id] = nonce
    request.session[SESSION_KEY] = dict(list(nonces.items())[-MAX_PENDING:])


def pop_nonce(request: HttpRequest, *, state_id: str | None) -> str | None:
    nonces: dict[str, str] = request.session.get(SESSION_KEY, {})
    nonce = nonces.pop(state_id or "", None)
    request.session[SESSION_KEY] = nonces
    return nonce
