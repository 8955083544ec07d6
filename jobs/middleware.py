"""Upload limits enforced while the request body is read, before it is stored anywhere.

``UploadLimitMiddleware`` runs for the upload endpoints (the form and the API): a request
whose Content-Length is already over the plan's limit is answered 413 without reading it,
and a streamed body that grows past the limit stops being read (``StopUpload``).
"""

from __future__ import annotations

from collections.abc import Callable

from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from accounts.models import User
from jobs.services.tokens import api_token_authenticate
from jobs.services.uploads import too_large_message, upload_limit

UPLOAD_PATHS = ("/annotate", "/api/v1/jobs")
MULTIPART_SLACK = 64 * 1024  # form fields and multipart boundaries around the file


class LimitedUploadHandler(FileUploadHandler):
    def __init__(self, request: HttpRequest, limit: int) -> None:
        super().__init__(request)
        self.limit = limit
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self.received += len(raw_data)
        if self.received > self.limit:
            setattr(self.request, "upload_too_large", True)  # noqa: B010 - (read back by the views and the API)
            raise StopUpload(connection_reset=True)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


def request_user(request: HttpRequest) -> User | None:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return user  # type: ignore[return-value]
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return api_token_authenticate(header[7:].strip())
    return None


class UploadLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method == "POST" and request.path.rstrip("/") in UPLOAD_PATHS:
            user = request_user(request)
            if user is not None:
                limit = upload_limit(user)
                request.upload_too_large = False  # type: ignore[attr-defined]
                length = int(request.META.get("CONTENT_LENGTH") or 0)
                if length > limit + MULTIPART_SLACK:
                    message = too_large_message(user, length)
                    if request.path.startswith("/api/"):
                        return JsonResponse({"detail": message}, status=413)
                    return render(request, "413.html", {"message": message}, status=413)
                request.upload_handlers.insert(0, LimitedUploadHandler(request, limit))
        return self.get_response(request)
