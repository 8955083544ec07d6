"""Create or check GAS's AWS resources: buckets (private, encrypted, CORS for browser uploads) and
SQS queues with their dead-letter queues and redrive policies. Idempotent; ``check`` changes nothing.

Versioning stays off on purpose: results are deleted from hot storage by design once their
cold copy is confirmed, and inputs once a job is deleted; old versions would only keep paying
for data the service has already moved or released.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError
from django.conf import settings
from django.utils.module_loading import import_string
from storages.backends.s3 import S3Storage

from gas_site.aws import aws_client
from gas_site.queues import queues
from gas_site.queues.base import MAX_DELAY_SECONDS
from gas_site.queues.sqs import SQSQueue

PUBLIC_ACCESS_BLOCK = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}


@dataclass
class Report:
    check_only: bool
    lines: list[str] = field(default_factory=list)
    problems: int = 0
    changes: int = 0

    def ok(self, what: str) -> None:
        self.lines.append(f"ok       {what}")

    def fixed(self, what: str, action: str) -> None:
        if self.check_only:
            self.problems += 1
            self.lines.append(f"MISSING  {what}: {action}")
        else:
            self.changes += 1
            self.lines.append(f"{action.split(' ')[0]:<8} {what}")


def _code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def _s3() -> Any:
    return aws_client("s3", region_name=settings.AWS_DEFAULT_REGION, endpoint_url=settings.AWS_ENDPOINT_URL)


def buckets() -> dict[str, str]:
    """Role -> bucket name, for the buckets this configuration uses."""
    found = {}
    for alias in ("inputs", "results"):
        entry: dict[str, Any] = settings.STORAGES[alias]
        if issubclass(import_string(entry["BACKEND"]), S3Storage):
            found[alias] = entry["OPTIONS"]["bucket_name"]
    cold: dict[str, Any] = settings.GAS_COLD_STORAGE["default"]
    if cold["BACKEND"].endswith("S3GlacierColdStorage"):
        found["archive"] = cold["OPTIONS"]["bucket_name"]
    return found


def upload_origins() -> list[str]:
    return sorted({settings.GAS_SITE_URL, *settings.CSRF_TRUSTED_ORIGINS})


def cors_rules() -> list[dict[str, Any]]:
    return [{
        "AllowedMethods": ["POST"],
        "AllowedOrigins": upload_origins(),
        "AllowedHeaders": ["*"],
        "ExposeHeaders": ["ETag", "Location"],
        "MaxAgeSeconds": 3000,
    }]  # fmt: skip


def ensure_bucket(report: Report, role: str, name: str) -> None:
    s3 = _s3()
    what = f"s3://{name} ({role})"
    try:
        s3.head_bucket(Bucket=name)
        report.ok(what)
    except ClientError as exc:
        if _code(exc) not in ("404", "NoSuchBucket", "NotFound"):
            raise
        report.fixed(what, "created bucket")
        if report.check_only:
            return
        region = settings.AWS_DEFAULT_REGION
        extra = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        s3.create_bucket(Bucket=name, **extra)
    try:
        block = s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"]
    except ClientError:
        block = {}
    if block == PUBLIC_ACCESS_BLOCK:
        report.ok(f"{what} blocks public access")
    else:
        report.fixed(f"{what} public access block", "updated public access block")
        if not report.check_only:
            s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=PUBLIC_ACCESS_BLOCK)
    try:
        rules = s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"]
        algorithm = rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"]
    except (ClientError, KeyError, IndexError):
        algorithm = ""
    if algorithm in ("AES256", "aws:kms"):
        report.ok(f"{what} encrypted ({algorithm})")
    else:
        report.fixed(f"{what} default encryption", "updated default encryption to AES256")
        if not report.check_only:
            s3.put_bucket_encryption(
                Bucket=name,
                ServerSideEncryptionConfiguration={
                    "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
                },
            )
    if role == "inputs":
        try:
            current = s3.get_bucket_cors(Bucket=name)["CORSRules"]
        except ClientError:
            current = []
        wanted = cors_rules()
        comparable = [{k: v for k, v in rule.items() if k != "ID"} for rule in current]
        if comparable == wanted:
            report.ok(f"{what} CORS for browser uploads from {', '.join(upload_origins())}")
        else:
            report.fixed(f"{what} CORS", "updated CORS for browser uploads")
            if not report.check_only:
                s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": wanted})


def ensure_queue(report: Report, alias: str, queue: SQSQueue) -> None:
    client = queue.client
    dlq_what = f"sqs {queue.dead_letter_name}"
    what = f"sqs {queue.name} ({alias})"
    try:
        dlq_url = client.get_queue_url(QueueName=queue.dead_letter_name)["QueueUrl"]
        report.ok(dlq_what)
    except ClientError:
        report.fixed(dlq_what, "created dead-letter queue")
        if report.check_only:
            dlq_url = None
        else:
            dlq_url = client.create_queue(
                QueueName=queue.dead_letter_name, Attributes={"MessageRetentionPeriod": str(14 * 24 * 3600)}
            )["QueueUrl"]
    dlq_arn = (
        client.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        if dlq_url
        else "arn:unknown"
    )
    wanted = queue.desired_attributes(dlq_arn)
    if alias == "archive":
        wanted["DelaySeconds"] = str(min(settings.GAS_FREE_RETENTION_SECONDS, MAX_DELAY_SECONDS))
    try:
        url = client.get_queue_url(QueueName=queue.name)["QueueUrl"]
    except ClientError:
        report.fixed(what, "created queue")
        if not report.check_only:
            client.create_queue(QueueName=queue.name, Attributes=wanted)
        return
    current = client.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    wrong = []
    for key, value in wanted.items():
        have = current.get(key, "")
        if key == "RedrivePolicy":
            have_policy = json.loads(have) if have else {}
            want_policy = json.loads(value)
            same = have_policy.get("deadLetterTargetArn") == want_policy["deadLetterTargetArn"] and str(
                have_policy.get("maxReceiveCount")
            ) == str(want_policy["maxReceiveCount"])
        else:
            same = have == value
        if not same:
            wrong.append(key)
    if wrong:
        report.fixed(f"{what} attributes {', '.join(wrong)}", "updated queue attributes")
        if not report.check_only:
            client.set_queue_attributes(QueueUrl=url, Attributes=wanted)
    else:
        report.ok(f"{what} with its dead-letter queue after {queue.max_receives} receives")


def bootstrap(*, check_only: bool) -> Report:
    report = Report(check_only=check_only)
    for role, name in buckets().items():
        ensure_bucket(report, role, name)
    for alias in queues.aliases():
        queue = queues[alias]
        if isinstance(queue, SQSQueue):
            ensure_queue(report, alias, queue)
    if not report.lines:
        report.lines.append("nothing to do: this configuration uses no S3 bucket and no SQS queue")
    return report
