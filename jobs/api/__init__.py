"""The JSON API for scripts (django-ninja): personal tokens, the same rules as the pages.
Imports: jobs.services, jobs.sources, jobs.results, models; nothing imports it but the URLs.

One router per resource (``jobs``, ``variants``: a job's results, ``sources``, ``regions``), each a
thin interface to the services and selectors; this module puts them together under one
authentication and one set of error answers. OpenAPI schema at /api/v1/openapi.json, interactive
docs at /api/v1/docs.
"""

from __future__ import annotations

import logging
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.operation import Operation

from accounts.models import User
from gas_site.errors import ServiceError, http_status
from jobs.api import jobs, regions, sources, variants
from jobs.api.common import TokenAuth
from jobs.services import uploads

logger = logging.getLogger(__name__)


class _Api(NinjaAPI):
    def get_openapi_operation_id(self, operation: Operation) -> str:
        """Operation ids as before the API was split into routers (``jobs_api_get_job``): clients
        generated from the OpenAPI schema keep their method names."""
        return f"jobs_api_{operation.view_func.__name__}"


api = _Api(
    title="GAS API",
    version="1",
    description="Submit VCF files or variant notations for annotation and fetch the results. Authenticate "
    "with `Authorization: Bearer <token>`; create tokens on [your profile page](/profile). "
    "[Back to GAS](/)",
    auth=TokenAuth(),
    urls_namespace="api",
)
api.add_router("", jobs.router)
api.add_router("", variants.router)
api.add_router("", sources.router)
api.add_router("", regions.router)


# -- one error body for every answer that is not a success: {"code", "detail"} ----------------------
def _error(request: HttpRequest, *, status: int, code: str, detail: str, **extra: Any) -> HttpResponse:
    return api.create_response(request, {"code": code, "detail": detail, **extra}, status=status)


@api.exception_handler(ServiceError)
def _refused(request: HttpRequest, exc: ServiceError) -> HttpResponse:
    """Every refusal of a service (an upload, a filter, a cursor, a job not finished, a result in cold
    storage, a rate limit, exports busy), with the status of its code and Retry-After when it passes."""
    response = _error(request, status=http_status(exc), code=exc.code, detail=exc.message)
    if exc.retry_after is not None:
        response["Retry-After"] = str(exc.retry_after)
    return response


@api.exception_handler(ValidationError)
def _invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    if getattr(request, "upload_too_large", False):  # the upload handler stopped reading: no file arrived
        auth = getattr(request, "auth", None)
        user = auth if isinstance(auth, User) else None
        message = uploads.too_large_message(user) if user else "The file is too large for your plan."
        return _error(request, status=413, code="too_large", detail=message)
    found = [dict(error) for error in exc.errors]
    where = ", ".join(".".join(str(part) for part in error.get("loc", ())) for error in found[:5])
    detail = f"The request does not fit the API's schema ({where or 'the body'}): see errors."
    return _error(request, status=422, code="invalid_request", detail=detail, errors=found)


@api.exception_handler(MultiPartParserError)
def _unreadable_form(request: HttpRequest, exc: MultiPartParserError) -> HttpResponse:
    """Django refuses a multipart part whose headers pass 1 KiB (a file name of about 950 characters or
    more): answered as every API error is, saying what to change."""
    detail = (
        "The upload could not be read: a form part's headers are longer than 1,024 bytes (is the file name "
        "longer than about 900 characters? rename the file)"
        if "header size" in str(exc)
        else f"The upload could not be read as multipart/form-data ({exc})"
    )
    return _error(request, status=400, code="invalid_request", detail=detail)


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return _error(
        request, status=401, code="unauthorized",
        detail="A valid personal token is needed: Authorization: Bearer <token> (create one on your profile page).",
    )  # fmt: skip


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return _error(request, status=404, code="not_found", detail=str(exc) or "Not found.")


CODE_OF_STATUS = {400: "invalid_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "not_allowed"}


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return _error(request, status=exc.status_code, code=CODE_OF_STATUS.get(exc.status_code, "error"), detail=str(exc))


@api.exception_handler(Exception)
def _internal(request: HttpRequest, exc: Exception) -> HttpResponse:
    """Anything else is a bug: logged with its traceback, answered in JSON without internals."""
    logger.exception("API %s %s failed", request.method, request.path)
    return _error(request, status=500, code="internal_error", detail="Something went wrong on our side; try again.")
