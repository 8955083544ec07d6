"""Cold storage in S3 Glacier storage classes (GLACIER = Flexible Retrieval, or DEEP_ARCHIVE).

Objects are written to the archive bucket in the cold storage class; a restore is
``restore_object`` and its progress is the ``Restore`` header of ``head_object``. (The
original Glacier vault API closed to new customers on 2025-12-15; this uses S3 only.)
"""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, BinaryIO

from botocore.exceptions import ClientError
from django.utils import timezone

from gas_site.aws import aws_client
from gas_site.coldstorage.base import (
    COPY_CHUNK_BYTES,
    EXPEDITED,
    STANDARD,
    TIERS,
    ArchiveNotFound,
    ColdObject,
    ColdStorage,
    ColdStorageError,
    HashingReader,
    RestoreNotReady,
    RestoreState,
    RestoreStatus,
    RestoreTicket,
)

logger = logging.getLogger(__name__)

STORAGE_CLASSES = ("GLACIER", "DEEP_ARCHIVE")
# Typical completion times published by AWS, used for "expected by" on job pages.
_EXPECTED_RESTORE = {
    ("GLACIER", EXPEDITED): timedelta(minutes=5),
    ("GLACIER", STANDARD): timedelta(hours=5),
    ("DEEP_ARCHIVE", STANDARD): timedelta(hours=12),
}
_ONGOING = re.compile(r'ongoing-request="(true|false)"')
_EXPIRY = re.compile(r'expiry-date="([^"]+)"')


def _error_code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


class S3GlacierColdStorage(ColdStorage):
    def __init__(
        self,
        *,
        bucket_name: str,
        storage_class: str = "GLACIER",
        restore_days: int = 1,
        region_name: str | None = None,
        endpoint_url: str | None = None,
        key_prefix: str = "archive/",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if storage_class not in STORAGE_CLASSES:
            raise ValueError(f"storage_class must be one of {', '.join(STORAGE_CLASSES)}, got {storage_class!r}")
        self.bucket_name = bucket_name
        self.storage_class = storage_class
        self.restore_days = restore_days
        self.region_name = region_name
        self.endpoint_url = endpoint_url
        self.key_prefix = key_prefix
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = aws_client("s3", region_name=self.region_name, endpoint_url=self.endpoint_url)
        return self._client

    def _head(self, archive_id: str) -> dict[str, Any]:
        try:
            return self.client.head_object(Bucket=self.bucket_name, Key=archive_id)
        except ClientError as exc:
            if _error_code(exc) in ("404", "NoSuchKey", "NotFound"):
                raise ArchiveNotFound(f"no archive s3://{self.bucket_name}/{archive_id}") from None
            raise ColdStorageError(f"head_object s3://{self.bucket_name}/{archive_id}: {exc}") from exc

    def new_archive_id(self, *, key: str) -> str:
        return f"{self.key_prefix}{uuid.uuid4().hex}/{key.rsplit('/', 1)[-1]}"

    def archive_ids(self) -> Iterator[str]:
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket_name, Prefix=self.key_prefix
            ):
                for item in page.get("Contents", []):
                    yield item["Key"]
        except ClientError as exc:
            raise ColdStorageError(f"list s3://{self.bucket_name}/{self.key_prefix}: {exc}") from exc

    def archive(self, stream: BinaryIO, *, key: str, archive_id: str | None = None) -> ColdObject:
        archive_id = archive_id or self.new_archive_id(key=key)
        reader = HashingReader(stream)
        # Spool to a temporary file so the SHA-256 is known before the upload: it is stored
        # as metadata and checked again when the object comes back.
        with tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024) as spool:
            shutil.copyfileobj(reader, spool, COPY_CHUNK_BYTES)
            spool.seek(0)
            try:
                self.client.upload_fileobj(
                    spool,
                    self.bucket_name,
                    archive_id,
                    ExtraArgs={
                        "StorageClass": self.storage_class,
                        "ServerSideEncryption": "AES256",
                        "ChecksumAlgorithm": "SHA256",
                        "Metadata": {"sha256": reader.sha256, "source-key": key},
                    },
                )
            except ClientError as exc:
                raise ColdStorageError(f"upload to s3://{self.bucket_name}/{archive_id}: {exc}") from exc
        return ColdObject(archive_id=archive_id, size=reader.size, sha256=reader.sha256)

    def stat(self, archive_id: str) -> ColdObject:
        head = self._head(archive_id)
        return ColdObject(
            archive_id=archive_id, size=int(head["ContentLength"]), sha256=head.get("Metadata", {}).get("sha256", "")
        )

    def _expected(self, tier: str) -> datetime:
        delay = _EXPECTED_RESTORE.get((self.storage_class, tier), timedelta(hours=12))
        return timezone.now() + delay

    def start_restore(self, archive_id: str, *, tier: str = EXPEDITED) -> RestoreTicket:
        if tier not in TIERS:
            raise ValueError(f"unknown restore tier {tier!r}; expected one of {', '.join(TIERS)}")
        if self.storage_class == "DEEP_ARCHIVE":
            tier = STANDARD  # Deep Archive offers no Expedited retrieval
        try:
            self._restore_object(archive_id, tier)
        except ClientError as exc:
            code = _error_code(exc)
            if code == "GlacierExpeditedRetrievalNotAvailable" and tier == EXPEDITED:
                logger.info("Expedited retrieval capacity short for %s; falling back to Standard", archive_id)
                tier = STANDARD
                self._restore_object(archive_id, tier)
            elif code == "NoSuchKey":
                raise ArchiveNotFound(f"no archive s3://{self.bucket_name}/{archive_id}") from None
            else:
                raise ColdStorageError(f"restore_object s3://{self.bucket_name}/{archive_id}: {exc}") from exc
        return RestoreTicket(tier=tier, expected_ready_at=self._expected(tier))

    def _restore_object(self, archive_id: str, tier: str) -> None:
        try:
            self.client.restore_object(
                Bucket=self.bucket_name,
                Key=archive_id,
                RestoreRequest={"Days": self.restore_days, "GlacierJobParameters": {"Tier": tier}},
            )
        except ClientError as exc:
            if _error_code(exc) == "RestoreAlreadyInProgress":
                return  # a repeated request is not an error
            raise

    def restore_status(self, archive_id: str) -> RestoreStatus:
        head = self._head(archive_id)
        if head.get("StorageClass", "STANDARD") not in STORAGE_CLASSES:
            return RestoreStatus(state=RestoreState.READY)  # not (or no longer) cold
        header = head.get("Restore", "")
        ongoing = _ONGOING.search(header)
        if ongoing is None:
            return RestoreStatus(state=RestoreState.NOT_REQUESTED)
        if ongoing.group(1) == "true":
            return RestoreStatus(state=RestoreState.IN_PROGRESS)
        expiry = _EXPIRY.search(header)
        return RestoreStatus(
            state=RestoreState.READY, ready_at=parsedate_to_datetime(expiry.group(1)) if expiry else None
        )

    @contextmanager
    def open_restored(self, archive_id: str) -> Iterator[BinaryIO]:
        try:
            response = self.client.get_object(Bucket=self.bucket_name, Key=archive_id)
        except ClientError as exc:
            code = _error_code(exc)
            if code == "InvalidObjectState":
                raise RestoreNotReady(
                    f"s3://{self.bucket_name}/{archive_id} is still in {self.storage_class}"
                ) from None
            if code == "NoSuchKey":
                raise ArchiveNotFound(f"no archive s3://{self.bucket_name}/{archive_id}") from None
            raise ColdStorageError(f"get_object s3://{self.bucket_name}/{archive_id}: {exc}") from exc
        body = response["Body"]
        try:
            yield body
        finally:
            body.close()

    def delete(self, archive_id: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket_name, Key=archive_id)
        except ClientError as exc:
            raise ColdStorageError(f"delete_object s3://{self.bucket_name}/{archive_id}: {exc}") from exc
