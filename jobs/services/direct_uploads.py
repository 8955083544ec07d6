"""Browser uploads straight to S3 (AWS mode): a presigned POST whose policy carries the plan's size
limit, the user's key prefix, the content type and a short expiry; S3 then redirects the browser
back, and ``complete`` checks the object before any job exists.
"""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from storages.backends.s3 import S3Storage

from accounts.models import User
from jobs.annotation.bcf import BcfTextFile
from jobs.models import Job
from jobs.services.lifecycle import job_create_from_stored
from jobs.services.uploads import (
    HEADER_READ_LIMIT,
    UploadRejected,
    check_vcf_header,
    check_vcf_start,
    choose_reference,
    too_large_message,
    upload_limit,
    vcf_text,
)
from jobs.storage import inputs_storage

CONTENT_TYPE = "application/octet-stream"
SSE = "AES256"


def enabled() -> bool:
    return settings.GAS_DIRECT_UPLOADS and isinstance(inputs_storage(), S3Storage)


def user_prefix(user: User) -> str:
    return f"uploads/{user.pk}/"


@dataclass
class PresignedPost:
    url: str
    fields: dict[str, str]
    prefix: str
    limit: int


def presigned_post(*, user: User, redirect_url: str) -> PresignedPost:
    storage: Any = inputs_storage()
    client = storage.connection.meta.client
    prefix = f"{user_prefix(user)}{uuid.uuid4()}/"
    limit = upload_limit(user)
    fields = {"Content-Type": CONTENT_TYPE, "success_action_redirect": redirect_url,
              "x-amz-server-side-encryption": SSE}  # fmt: skip
    conditions: list[Any] = [
        ["content-length-range", 1, limit],
        ["starts-with", "$key", prefix],
        {"Content-Type": CONTENT_TYPE},
        {"success_action_redirect": redirect_url},
        {"x-amz-server-side-encryption": SSE},
        ["starts-with", "$x-amz-meta-reference", ""],
    ]
    post = client.generate_presigned_post(
        Bucket=storage.bucket_name,
        Key=prefix + "${filename}",
        Fields=fields,
        Conditions=conditions,
        ExpiresIn=settings.GAS_UPLOAD_URL_SECONDS,
    )
    return PresignedPost(url=post["url"], fields=post["fields"], prefix=prefix, limit=limit)


def complete(*, user: User, bucket: str, key: str) -> Job:
    """Create a job from an object S3 says was uploaded; refuse (and delete) anything that does not fit."""
    storage: Any = inputs_storage()
    if bucket != storage.bucket_name or not key.startswith(user_prefix(user)) or key.endswith("/"):
        raise UploadRejected("That upload does not belong to you.", code="not_found")
    client = storage.connection.meta.client
    try:
        head = client.head_object(Bucket=bucket, Key=key)
    except client.exceptions.ClientError:
        raise UploadRejected("The upload was not found; please upload the file again.", code="not_found") from None
    size = int(head["ContentLength"])
    name = key.rsplit("/", 1)[-1]
    reference_name = head.get("Metadata", {}).get("reference") or None
    try:
        if size > upload_limit(user):
            raise UploadRejected(too_large_message(user, size), code="too_large")
        if not name.endswith((".vcf", ".vcf.gz", ".vcf.bgz", ".bcf")):
            raise UploadRejected(f"{name}: expected a .vcf, .vcf.gz or .bcf file.")
        start = client.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{HEADER_READ_LIMIT - 1}")["Body"].read()
        with vcf_text(io.BytesIO(start), name=name) as text:
            reference = choose_reference(reference_name=reference_name, handle=text, name=name)
            text.seek(0)
            check_vcf_header(text, name=name, reference=reference)
            text.seek(0)
            if not isinstance(text, BcfTextFile):  # (a BCF's start is checked by the worker)
                check_vcf_start(start, name=name, reference=reference)
    except UploadRejected:
        client.delete_object(Bucket=bucket, Key=key)
        raise
    except Exception as exc:
        client.delete_object(Bucket=bucket, Key=key)
        raise UploadRejected(str(exc)) from exc
    return job_create_from_stored(owner=user, key=key, name=name, size=size, reference=reference)
