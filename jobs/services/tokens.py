"""Personal API tokens: issued (the raw token shown once), revoked, and checked on each API request."""

from __future__ import annotations

import logging

from django.utils import timezone

from accounts.models import User
from jobs.models import ApiToken

logger = logging.getLogger(__name__)


# -- API tokens ------------------------------------------------------------------------------
def api_token_create(*, user: User, name: str) -> tuple[ApiToken, str]:
    raw, key_hash = ApiToken.generate()
    token = ApiToken.objects.create(
        user=user, name=name.strip()[:100] or "token", key_hash=key_hash, key_start=raw[:12]
    )
    return token, raw


def api_token_revoke(*, user: User, token_id: int) -> bool:
    return bool(ApiToken.objects.filter(user=user, id=token_id, revoked_at=None).update(revoked_at=timezone.now()))


def api_token_authenticate(raw: str) -> User | None:
    token = ApiToken.lookup(raw)
    if token is None or not token.user.is_active:
        return None
    ApiToken.objects.filter(id=token.id).update(last_used_at=timezone.now())
    return token.user
