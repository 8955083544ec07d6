"""Cold storage: the local backend and S3 Glacier storage classes on moto."""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterator

import boto3
import pytest
from botocore.exceptions import ClientError
from freezegun import freeze_time

from gas_site.coldstorage import (
    EXPEDITED,
    STANDARD,
    ArchiveNotFound,
    ColdStorage,
    RestoreNotReady,
    RestoreState,
    cold_storage,
)

T0 = "2026-02-01 08:00:00"
PAYLOAD = os.urandom(3 * 1024 * 1024 + 17)  # spans several read chunks
BUCKET = "gas-test-archive"


def _read_all(storage: ColdStorage, archive_id: str) -> bytes:
    with storage.open_restored(archive_id) as stream:
        return stream.read()


# -- local -------------------------------------------------------------------------------
@pytest.fixture
def local_cold(settings, tmp_path) -> ColdStorage:
    settings.GAS_COLD_STORAGE = {
        "default": {
            "BACKEND": "gas_site.coldstorage.local.LocalColdStorage",
            "OPTIONS": {"location": str(tmp_path / "cold"), "thaw_seconds": 60, "standard_thaw_seconds": 300},
        }
    }
    return cold_storage()


def test_local_archive_is_cold_until_the_thaw_delay_has_passed(local_cold):
    with freeze_time(T0) as clock:
        stored = local_cold.archive(io.BytesIO(PAYLOAD), key="results/u1/job.vcf.gz")
        assert stored.size == len(PAYLOAD)
        assert stored.sha256 == hashlib.sha256(PAYLOAD).hexdigest()
        assert local_cold.stat(stored.archive_id) == stored
        assert local_cold.restore_status(stored.archive_id).state is RestoreState.NOT_REQUESTED
        with pytest.raises(RestoreNotReady):
            _read_all(local_cold, stored.archive_id)

        ticket = local_cold.start_restore(stored.archive_id)
        assert ticket.tier == EXPEDITED
        assert ticket.expected_ready_at.isoformat().startswith("2026-02-01T08:01:00")
        assert local_cold.start_restore(stored.archive_id) == ticket  # repeated request: no change
        clock.tick(59)
        assert local_cold.restore_status(stored.archive_id).state is RestoreState.IN_PROGRESS
        with pytest.raises(RestoreNotReady, match="in progress"):
            _read_all(local_cold, stored.archive_id)
        clock.tick(1)
        assert local_cold.restore_status(stored.archive_id).state is RestoreState.READY
        assert _read_all(local_cold, stored.archive_id) == PAYLOAD

        local_cold.delete(stored.archive_id)
        local_cold.delete(stored.archive_id)  # already gone: no error
        with pytest.raises(ArchiveNotFound):
            local_cold.stat(stored.archive_id)


def test_local_expedited_falls_back_to_standard_when_unavailable(settings, tmp_path):
    settings.GAS_COLD_STORAGE = {
        "default": {
            "BACKEND": "gas_site.coldstorage.local.LocalColdStorage",
            "OPTIONS": {
                "location": str(tmp_path),
                "thaw_seconds": 5,
                "standard_thaw_seconds": 50,
                "expedited_available": False,
            },
        }
    }
    storage = cold_storage()
    with freeze_time(T0) as clock:
        stored = storage.archive(io.BytesIO(b"x"), key="k")
        assert storage.start_restore(stored.archive_id).tier == STANDARD
        clock.tick(10)
        assert storage.restore_status(stored.archive_id).state is RestoreState.IN_PROGRESS
        clock.tick(40)
        assert storage.restore_status(stored.archive_id).state is RestoreState.READY


def test_local_rejects_ids_that_could_escape_its_directory(local_cold):
    with pytest.raises(ArchiveNotFound):
        local_cold.stat("../../etc/passwd")


# -- S3 Glacier --------------------------------------------------------------------------
@pytest.fixture
def glacier(settings) -> Iterator[ColdStorage]:
    from moto import mock_aws

    with mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=BUCKET)
        settings.GAS_COLD_STORAGE = {
            "default": {
                "BACKEND": "gas_site.coldstorage.s3glacier.S3GlacierColdStorage",
                "OPTIONS": {"bucket_name": BUCKET, "storage_class": "GLACIER", "region_name": "us-east-1"},
            }
        }
        yield cold_storage()


@pytest.fixture
def slow_restores() -> Iterator[None]:
    """Make moto report a restore as in progress for the first status check."""
    from moto.moto_api import state_manager

    state_manager.set_transition(model_name="s3::keyrestore", transition={"progression": "manual", "times": 1})
    yield
    state_manager.unset_transition(model_name="s3::keyrestore")


def test_glacier_full_cycle(glacier, slow_restores):
    stored = glacier.archive(io.BytesIO(PAYLOAD), key="results/u1/job.annot.vcf.gz")
    head = boto3.client("s3", region_name="us-east-1").head_object(Bucket=BUCKET, Key=stored.archive_id)
    assert head["StorageClass"] == "GLACIER"
    assert head["ContentLength"] == len(PAYLOAD)
    assert glacier.stat(stored.archive_id).sha256 == hashlib.sha256(PAYLOAD).hexdigest()
    assert stored.archive_id.endswith("/job.annot.vcf.gz")

    assert glacier.restore_status(stored.archive_id).state is RestoreState.NOT_REQUESTED
    with pytest.raises(RestoreNotReady):
        _read_all(glacier, stored.archive_id)

    ticket = glacier.start_restore(stored.archive_id)
    assert ticket.tier == EXPEDITED
    assert glacier.restore_status(stored.archive_id).state is RestoreState.IN_PROGRESS
    status = glacier.restore_status(stored.archive_id)
    assert status.state is RestoreState.READY and status.ready_at is not None
    assert _read_all(glacier, stored.archive_id) == PAYLOAD

    glacier.delete(stored.archive_id)
    with pytest.raises(ArchiveNotFound):
        glacier.stat(stored.archive_id)


def test_glacier_expedited_capacity_short_falls_back_to_standard(glacier, monkeypatch):
    stored = glacier.archive(io.BytesIO(b"variants"), key="k.vcf")
    client = glacier.client
    real_restore = client.restore_object
    tiers: list[str] = []

    def restore_object(**kwargs):
        tier = kwargs["RestoreRequest"]["GlacierJobParameters"]["Tier"]
        tiers.append(tier)
        if tier == "Expedited":
            raise ClientError(
                {"Error": {"Code": "GlacierExpeditedRetrievalNotAvailable", "Message": "capacity"}}, "RestoreObject"
            )
        return real_restore(**kwargs)

    monkeypatch.setattr(client, "restore_object", restore_object)
    ticket = glacier.start_restore(stored.archive_id)
    assert tiers == ["Expedited", "Standard"]
    assert ticket.tier == STANDARD
    assert glacier.restore_status(stored.archive_id).state is RestoreState.READY


def test_glacier_restore_of_a_missing_object(glacier):
    with pytest.raises(ArchiveNotFound):
        glacier.start_restore("archive/nope/x.vcf")
    with pytest.raises(ArchiveNotFound):
        glacier.restore_status("archive/nope/x.vcf")


def test_deep_archive_uses_standard_retrieval(settings, glacier):
    settings.GAS_COLD_STORAGE = {
        "default": {
            "BACKEND": "gas_site.coldstorage.s3glacier.S3GlacierColdStorage",
            "OPTIONS": {"bucket_name": BUCKET, "storage_class": "DEEP_ARCHIVE", "region_name": "us-east-1"},
        }
    }
    deep = cold_storage()
    stored = deep.archive(io.BytesIO(b"abc"), key="k")
    head = boto3.client("s3", region_name="us-east-1").head_object(Bucket=BUCKET, Key=stored.archive_id)
    assert head["StorageClass"] == "DEEP_ARCHIVE"
    assert deep.start_restore(stored.archive_id).tier == STANDARD
