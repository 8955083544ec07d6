"""The JSON API for scripts (django-ninja): personal tokens, the same rules as the pages.
Imports: jobs.services, jobs.sources, jobs.results, models; nothing imports it but the URLs.

One router per resource (``jobs``, ``variants``: a job's results, ``sources``, ``regions``), each a
thin interface to the services and selectors; this module puts them together under one
authentication and one set of error answers. OpenAPI schema at /api/v1/openapi.json, interactive
docs at /api/v1/docs.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from ninja import NinjaAPI
from ninja.errors import HttpError, ValidationError
from ninja.operation import Operation

from accounts.models import User
from gas_site import ratelimit
from jobs.api import jobs, regions, sources, variants
from jobs.api.common import TokenAuth
from jobs.results import exports
from jobs.services import uploads


class _Api(NinjaAPI):
    def get_openapi_operation_id(self, operation: Operation) -> str:
        """Operation ids as before the API was split into routers (``jobs_api_get_job``): clients
        generated from the OpenAPI schema keep their method names."""
        return f"jobs_api_{operation.view_func.__name__}"


api = _Api(
    title="GAS API",
    version="1",
    description="Submit VCF files for annotation and fetch the results. Authenticate with "
    "`Authorization: Bearer <token>`; create tokens on your profile page.",
    auth=TokenAuth(),
    urls_namespace="api",
)
api.add_router("", jobs.router)
api.add_router("", variants.router)
api.add_router("", sources.router)
api.add_router("", regions.router)


@api.exception_handler(exports.ExportsBusy)
def _exports_busy(request: HttpRequest, exc: exports.ExportsBusy) -> HttpResponse:
    return _try_again_later(request, exc, status=503)


@api.exception_handler(MultiPartParserError)
def _unreadable_form(request: HttpRequest, exc: MultiPartParserError) -> HttpResponse:
    """Django refuses a multipart part whose headers pass 1 KiB (a file name of about 950 characters or
    more): answered in JSON, as every API error is, saying what to change."""
    detail = (
        "The upload could not be read: a form part's headers are longer than 1,024 bytes (is the file name "
        "longer than about 900 characters? rename the file)"
        if "header size" in str(exc)
        else f"The upload could not be read as multipart/form-data ({exc})"
    )
    return api.create_response(request, {"detail": detail}, status=400)


@api.exception_handler(ratelimit.RateLimited)
def _rate_limited(request: HttpRequest, exc: ratelimit.RateLimited) -> HttpResponse:
    return _try_again_later(request, exc, status=429)


def _try_again_later(
    request: HttpRequest, exc: ratelimit.RateLimited | exports.ExportsBusy, *, status: int
) -> HttpResponse:
    """A refusal that passes (too many requests, exports busy): its message, and Retry-After."""
    response = api.create_response(request, {"detail": str(exc)}, status=status)
    response["Retry-After"] = str(exc.retry_after)
    return response


@api.exception_handler(ValidationError)
def _invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    if getattr(request, "upload_too_large", False):  # the upload handler stopped reading: no file arrived
        user = request.auth if isinstance(getattr(request, "auth", None), User) else None
        message = uploads.too_large_message(user) if user else "The file is too large for your plan."
        return api.create_response(request, {"detail": message}, status=413)
    return api.create_response(request, {"detail": exc.errors}, status=422)


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return api.create_response(request, {"detail": str(exc)}, status=exc.status_code)
