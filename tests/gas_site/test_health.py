from __future__ import annotations

import pytest
from django.test import Client


@pytest.mark.django_db
def test_healthz_checks_database_and_storage(settings):
    settings.ALLOWED_HOSTS = ["gas.example.org"]
    response = Client().get("/healthz", HTTP_HOST="10.0.0.12")  # a load balancer probing by IP
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"] == {"database": "ok", "storage:inputs": "ok", "storage:results": "ok"}


@pytest.mark.django_db
def test_healthz_fails_when_storage_is_unreachable(settings):
    from moto import mock_aws

    with mock_aws():  # a bucket that does not exist
        settings.STORAGES = {
            **settings.STORAGES,
            "results": {"BACKEND": "storages.backends.s3.S3Storage",
                        "OPTIONS": {"bucket_name": "no-such-bucket", "region_name": "us-east-1"}},
        }  # fmt: skip
        response = Client().get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["storage:results"].startswith("error")
