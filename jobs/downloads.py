"""Result downloads: a short-lived signed URL when files are in S3, a streamed response otherwise."""

from __future__ import annotations

from django.core.files.storage import FileSystemStorage
from django.http import FileResponse, Http404, HttpResponse, HttpResponseRedirect

from jobs.models import Job
from jobs.services import results_storage

CONTENT_TYPES = {"result": "application/gzip", "log": "text/plain; charset=utf-8", "summary": "application/json"}


def download_response(job: Job, kind: str, *, inline: bool = False) -> HttpResponse:
    key = {"result": job.result_key, "log": job.log_key, "summary": job.summary_key}.get(kind)
    if not key:
        raise Http404("This job has no such file.")
    storage = results_storage()
    if not isinstance(storage, FileSystemStorage):
        return HttpResponseRedirect(storage.url(key))
    try:
        handle = storage.open(key, "rb")
    except FileNotFoundError as exc:
        raise Http404("The file is no longer available.") from exc
    response = FileResponse(handle, as_attachment=not inline, filename=key.rsplit("/", 1)[-1])
    response["Content-Type"] = CONTENT_TYPES[kind]
    response["Cache-Control"] = "private, no-store"
    return response
