"""What every API router shares: token authentication, the error schema, the filters' documentation,
and the mapping of the results' errors to HTTP answers."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from ninja import Schema
from ninja.errors import HttpError
from ninja.security import HttpBearer

from accounts.models import User
from gas_site import ratelimit
from jobs.results import browser
from jobs.results.downloads import ResultNotAvailable
from jobs.results.schema import TableError
from jobs.services import tokens


class TokenAuth(HttpBearer):
    """Bearer tokens, with guesses throttled per client address and requests per user."""

    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        address = ratelimit.client_address(request)
        failures = {
            "scope": "token-failures", "key": address, "window_seconds": 60,
            "limit": settings.GAS_TOKEN_FAILURES_PER_MINUTE, "what": "failed sign-ins with a token",
        }  # fmt: skip
        ratelimit.check(**failures)
        user = tokens.api_token_authenticate(token)
        if user is None:
            ratelimit.hit(**failures)
            return None
        ratelimit.hit(
            scope="api", key=str(user.pk), limit=settings.GAS_API_RATE_PER_MINUTE, window_seconds=60,
            what="API requests",
        )  # fmt: skip
        request.user = user
        return user


class ErrorOut(Schema):
    detail: str


def filter_params_of(request: HttpRequest) -> dict:
    return browser.filter_params(request.GET)


FILTER_DOC = (
    "Filters combine (each takes a comma-separated list, any of which matches): `consequence` (VEP terms), "
    "`impact` (HIGH, MODERATE, LOW, MODIFIER), `gene` (symbols or ids), `biotype`, "
    "`region` (chr:start-end, several separated by spaces or ;), "
    "`class` (SNV, insertion, deletion, MNV, SV), `dbsnp` (yes/no), `q` (an rs id, or text in HGVSc/HGVSp), "
    "`show` (variant: each variant once by its most severe matching entry; all: every matching entry)."
)


def results_call(call):
    try:
        return call()
    except ResultNotAvailable as exc:
        raise HttpError(409, str(exc)) from exc
    except TableError as exc:
        raise HttpError(400, str(exc)) from exc
