"""The one error type of the services: a refusal in words for the user with a stable ``code`` that
clients can act on, and when it passes, ``retry_after``. No HTTP here: each interface maps codes
to its own answers (the API to statuses and ``{"code", "detail"}``, pages to messages and 404s)."""

from __future__ import annotations


class ServiceError(Exception):
    """A request a service refuses. Subclasses set ``code``; an instance may narrow it.
    ``retry_after``: seconds after which the same request may succeed (a refusal that passes)."""

    code: str = "invalid"
    retry_after: int | None = None

    def __init__(self, message: str, *, code: str | None = None, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if retry_after is not None:
            self.retry_after = retry_after


class NotFound(ServiceError):
    """Nothing of that id belongs to the user (someone else's is not revealed either)."""

    code = "not_found"


# For the interfaces (the API, the pages): the HTTP status of each code; any other code is a 400.
HTTP_STATUS_OF_CODE = {
    "not_found": 404,
    "too_large": 413,
    "job_not_finished": 409,
    "result_not_available": 409,
    "rate_limited": 429,
    "busy": 503,
}


def http_status(error: ServiceError) -> int:
    return HTTP_STATUS_OF_CODE.get(error.code, 400)
