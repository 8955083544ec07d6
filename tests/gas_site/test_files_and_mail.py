"""The AWS flavours of files (django-storages S3) and mail (SES), on moto."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import boto3
import pytest
from django.core import mail
from django.core.files.base import ContentFile
from django.core.files.storage import storages

BUCKET = "gas-test-results"


@pytest.fixture
def s3_results(settings, aws):
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=BUCKET)
    settings.STORAGES = {
        **settings.STORAGES,
        "results": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": BUCKET,
                "region_name": "us-east-1",
                "default_acl": None,
                "file_overwrite": False,
                "querystring_auth": True,
                "querystring_expire": 300,
                "signature_version": "s3v4",
                "object_parameters": {"ServerSideEncryption": "AES256"},
            },
        },
    }
    return storages["results"]


def test_s3_results_storage_round_trip_and_short_lived_signed_url(s3_results):
    name = s3_results.save("u1/job-1/out.vcf", ContentFile(b"##fileformat=VCFv4.2\n"))
    assert name == "u1/job-1/out.vcf"
    with s3_results.open(name) as handle:
        assert handle.read() == b"##fileformat=VCFv4.2\n"
    head = boto3.client("s3", region_name="us-east-1").head_object(Bucket=BUCKET, Key=name)
    assert head["ServerSideEncryption"] == "AES256"
    query = parse_qs(urlparse(s3_results.url(name)).query)
    assert query["X-Amz-Expires"] == ["300"]
    assert "X-Amz-Signature" in query
    # no overwrite: a second save gets a new name
    assert s3_results.save("u1/job-1/out.vcf", ContentFile(b"x")) != name


def test_local_results_storage_writes_under_the_data_dir(isolated_data_dir):
    name = storages["results"].save("u1/a.txt", ContentFile(b"hello"))
    assert (isolated_data_dir / "results" / name).read_bytes() == b"hello"


def test_mail_through_ses(settings, aws):
    from moto.backends import get_backend

    settings.EMAIL_BACKEND = "django_ses.SESBackend"
    settings.AWS_SES_REGION_NAME = "us-east-1"
    settings.AWS_SES_REGION_ENDPOINT_URL = "https://email.us-east-1.amazonaws.com"
    settings.USE_SES_V2 = True
    settings.AWS_SES_AUTO_THROTTLE = None
    boto3.client("ses", region_name="us-east-1").verify_email_identity(EmailAddress="noreply@gas.example.org")
    sent = mail.send_mail("Your job", "It is done.", "noreply@gas.example.org", ["ada@example.org"])
    assert sent == 1
    # moto's SESv2 records sent mail in the SES core backend it wraps
    ses = get_backend("ses")["123456789012"]["us-east-1"]
    [raw] = ses.sent_messages
    assert "Subject: Your job" in raw.raw_data and "ada@example.org" in raw.destinations


def test_mail_to_files_by_default(settings, tmp_path):
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path / "mail")
    mail.send_mail("Hello", "Body text", "gas@localhost", ["ada@example.org"])
    [written] = list((tmp_path / "mail").iterdir())
    assert "Subject: Hello" in written.read_text()
