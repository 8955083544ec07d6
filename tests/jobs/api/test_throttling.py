"""Token guesses and API requests are throttled, with Retry-After (issue 15, item 8)."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.helpers import make_token

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("job_settings", "cold_store")]


def test_bearer_token_guesses_are_throttled_with_retry_after(signed_in_client, settings):
    settings.GAS_TOKEN_FAILURES_PER_MINUTE = 5
    token = make_token(signed_in_client)
    guesser = Client(HTTP_AUTHORIZATION="Bearer gas_wrong")
    codes = [guesser.get("/api/v1/jobs").status_code for _ in range(7)]
    assert codes[:5] == [401] * 5 and codes[5:] == [429, 429]
    limited = guesser.get("/api/v1/jobs")
    assert 1 <= int(limited["Retry-After"]) <= 60 and "Too many failed sign-ins" in limited.json()["detail"]
    # the same address with a good token is throttled too while the window lasts (guessing stops)
    assert Client(HTTP_AUTHORIZATION=f"Bearer {token}").get("/api/v1/jobs").status_code == 429


def test_api_requests_are_limited_per_user(signed_in_client, settings):
    settings.GAS_API_RATE_PER_MINUTE = 3
    api = Client(HTTP_AUTHORIZATION=f"Bearer {make_token(signed_in_client)}")
    codes = [api.get("/api/v1/jobs").status_code for _ in range(5)]
    assert codes == [200, 200, 200, 429, 429]
