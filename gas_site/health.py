"""``/healthz`` for the load balancer: the database answers and the storages can be reached."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

from django.core.files.storage import FileSystemStorage, Storage, storages
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache

logger = logging.getLogger(__name__)


def _probe(storage: Storage) -> None:
    """Raise unless the storage can be written to (local) or its bucket answers (S3)."""
    if isinstance(storage, FileSystemStorage):
        location = Path(storage.location)
        location.mkdir(parents=True, exist_ok=True)
        if not os.access(location, os.W_OK):
            raise PermissionError(f"{location} is not writable")
        return
    bucket = getattr(storage, "bucket", None)
    if bucket is not None:  # django-storages S3Storage
        bucket.meta.client.head_bucket(Bucket=bucket.name)
        return
    storage.exists(".gas-health-check")


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    checks: dict[str, str] = {}
    started = time.monotonic()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        checks["database"] = "ok"
    except Exception as exc:
        logger.warning("health check: database: %s", exc)
        checks["database"] = f"error: {type(exc).__name__}"
    for alias in ("inputs", "results"):
        try:
            _probe(storages[alias])
            checks[f"storage:{alias}"] = "ok"
        except Exception as exc:
            logger.warning("health check: storage %s: %s", alias, exc)
            checks[f"storage:{alias}"] = f"error: {type(exc).__name__}"
    healthy = all(value == "ok" for value in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "error", "checks": checks, "ms": round(1000 * (time.monotonic() - started))},
        status=200 if healthy else 503,
    )


class HealthCheckMiddleware:
    """Answers /healthz first: load balancers probe by IP over plain HTTP, which ALLOWED_HOSTS
    and the HTTPS redirect would otherwise refuse."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path == "/healthz" and request.method in ("GET", "HEAD"):
            return healthz(request)
        return self.get_response(request)
