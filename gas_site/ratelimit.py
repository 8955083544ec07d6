"""Fixed-window rate limits kept in the shared cache (the database cache by default, so every web
process and machine counts together). Exceeding one raises ``RateLimited`` with the seconds to wait,
which the API answers as 429 with a Retry-After header."""

from __future__ import annotations

import hashlib
import math
import time

from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest

from gas_site.errors import ServiceError


class RateLimited(ServiceError):
    code = "rate_limited"

    def __init__(self, retry_after: int, what: str) -> None:
        super().__init__(f"Too many {what}; try again in {retry_after} s.", retry_after=retry_after)


def client_address(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def _window(scope: str, key: str, window_seconds: int) -> tuple[str, int]:
    """The cache key of this window for ``scope``/``key``, and the seconds until the next window."""
    now = time.time()
    window = int(now // window_seconds)
    digest = hashlib.sha256(f"{scope}:{key}".encode()).hexdigest()[:32]
    return f"rl:{scope}:{digest}:{window}", max(1, math.ceil((window + 1) * window_seconds - now))


def hit(*, scope: str, key: str, limit: int, window_seconds: int, what: str) -> None:
    """Count one event of ``scope``/``key``; raise RateLimited once more than ``limit`` fell in this window."""
    if limit <= 0:
        return
    cache_key, retry_after = _window(scope, key, window_seconds)
    cache = caches[settings.GAS_RATELIMIT_CACHE]
    if cache.add(cache_key, 1, timeout=window_seconds + 1):
        count = 1
    else:
        try:
            count = cache.incr(cache_key)
        except ValueError:  # (expired between add and incr)
            cache.set(cache_key, 1, timeout=window_seconds + 1)
            count = 1
    if count > limit:
        raise RateLimited(retry_after, what)


def check(*, scope: str, key: str, limit: int, window_seconds: int, what: str) -> None:
    """Raise RateLimited if ``scope``/``key`` is already at ``limit`` in this window, without counting."""
    if limit <= 0:
        return
    cache_key, retry_after = _window(scope, key, window_seconds)
    if caches[settings.GAS_RATELIMIT_CACHE].get(cache_key, 0) >= limit:
        raise RateLimited(retry_after, what)
