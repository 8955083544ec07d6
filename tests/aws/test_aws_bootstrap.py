"""aws_bootstrap against moto: --check names what is missing, one run fixes it, a second changes nothing."""

from __future__ import annotations

import json
from io import StringIO

import boto3
import pytest
from django.core.management import CommandError, call_command


@pytest.fixture
def aws_settings(settings, aws):
    def s3_storage(bucket: str) -> dict:
        return {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {"bucket_name": bucket}}

    settings.STORAGES = {**settings.STORAGES, "inputs": s3_storage("gas-in"), "results": s3_storage("gas-out")}
    settings.GAS_COLD_STORAGE = {"default": {
        "BACKEND": "gas_site.coldstorage.s3glacier.S3GlacierColdStorage",
        "OPTIONS": {"bucket_name": "gas-cold", "region_name": "us-east-1"},
    }}  # fmt: skip
    settings.GAS_QUEUES = {
        alias: {"BACKEND": "gas_site.queues.sqs.SQSQueue", "NAME": f"gas-{alias}",
                "OPTIONS": {"visibility_timeout": 300, "max_receives": 5, "region_name": "us-east-1"}}
        for alias in ("jobs", "archive", "restore", "thaw")
    }  # fmt: skip
    settings.GAS_SITE_URL = "https://gas.example.org"
    settings.GAS_FREE_RETENTION_SECONDS = 300
    return settings


def run(*args: str) -> str:
    out = StringIO()
    call_command("aws_bootstrap", *args, stdout=out)
    return out.getvalue()


def test_check_fails_bootstrap_fixes_and_is_idempotent(aws_settings):
    with pytest.raises(CommandError, match="missing or misconfigured"):
        out = StringIO()
        call_command("aws_bootstrap", "--check", stdout=out)
    assert "MISSING  s3://gas-in (inputs)" in out.getvalue()
    assert "MISSING  sqs gas-jobs-dlq" in out.getvalue()
    assert boto3.client("s3", region_name="us-east-1").list_buckets()["Buckets"] == []  # --check changed nothing

    first = run()
    assert "created  s3://gas-cold (archive)" in first and "created  sqs gas-archive (archive)" in first
    second = run()
    assert second.strip().endswith("0 change(s) made.")
    assert "All resources present" in run("--check")

    s3 = boto3.client("s3", region_name="us-east-1")
    assert s3.get_public_access_block(Bucket="gas-out")["PublicAccessBlockConfiguration"]["BlockPublicAcls"]
    algorithm = s3.get_bucket_encryption(Bucket="gas-cold")["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert algorithm["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    cors = s3.get_bucket_cors(Bucket="gas-in")["CORSRules"][0]
    assert cors["AllowedMethods"] == ["POST"] and cors["AllowedOrigins"] == ["https://gas.example.org"]
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.get_queue_url(QueueName="gas-archive")["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["DelaySeconds"] == "300"
    assert json.loads(attributes["RedrivePolicy"])["deadLetterTargetArn"].endswith(":gas-archive-dlq")


def test_check_names_a_misconfiguration(aws_settings):
    run()
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.get_queue_url(QueueName="gas-jobs")["QueueUrl"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "5"})
    with pytest.raises(CommandError):
        out = StringIO()
        call_command("aws_bootstrap", "--check", stdout=out)
    assert "MISSING  sqs gas-jobs (jobs) attributes VisibilityTimeout" in out.getvalue()
    assert "updated  sqs gas-jobs (jobs) attributes VisibilityTimeout" in run()
