"""Result downloads: a short-lived signed URL when files are in S3, a streamed response otherwise."""

from __future__ import annotations

from django.core.files.storage import FileSystemStorage
from django.http import FileResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase

from gas_site.errors import NotFound, ServiceError
from jobs.models import Job
from jobs.storage import results_storage

CONTENT_TYPES = {"result": "application/gzip", "log": "text/plain; charset=utf-8", "summary": "application/json"}


class ResultNotAvailable(ServiceError):
    """The result file is in cold storage (or on its way back); the message says what to do."""

    code = "result_not_available"


def result_unavailable_reason(job: Job) -> str | None:
    archive = getattr(job, "result_archive", None)
    if archive is None or archive.state in ("AVAILABLE", "ARCHIVING"):
        return None
    if archive.state == "RESTORING":
        expected = archive.restore_expected_at
        when = f", expected by {expected:%Y-%m-%d %H:%M} UTC" if expected else ""
        return f"These results are being restored from cold storage{when}; you will get an e-mail when they are back."
    return "These results are archived in cold storage. Upgrade to premium to restore them."


def download_response(job: Job, kind: str, *, inline: bool = False) -> HttpResponseBase:
    if kind == "result":
        reason = result_unavailable_reason(job)
        if reason:
            raise ResultNotAvailable(reason)
    key = {"result": job.result_key, "log": job.log_key, "summary": job.summary_key}.get(kind)
    if not key:
        raise NotFound("This job has no such file.")
    storage = results_storage()
    if not isinstance(storage, FileSystemStorage):
        return HttpResponseRedirect(storage.url(key))
    try:
        handle = storage.open(key, "rb")
    except FileNotFoundError as exc:
        raise NotFound("The file is no longer available.") from exc
    response = FileResponse(handle, as_attachment=not inline, filename=key.rsplit("/", 1)[-1])
    response["Content-Type"] = CONTENT_TYPES[kind]
    response["Cache-Control"] = "private, no-store"
    return response
