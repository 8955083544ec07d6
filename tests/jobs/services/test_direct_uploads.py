"""Browser uploads straight to S3: the presigned POST policy, and the checks after S3 redirects back."""

from __future__ import annotations

import base64
import gzip
import json
import re
from datetime import UTC, datetime
from html import unescape
from urllib.parse import urlencode

import boto3
import pytest
from django.urls import reverse

from jobs.models import Job
from tests.helpers import GOOD_VCF, dbsnp_records, vcf

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("job_settings")]
BUCKET = "gas-direct-inputs"
# every REF the complement of the genome's base there (a wrong build, shifted positions), gzipped
_COMPLEMENT = {"A": "T", "C": "G", "G": "C", "T": "A"}
WRONG_BUILD = gzip.compress(vcf([(pos, _COMPLEMENT[ref], ref) for pos, ref, _ in dbsnp_records(30)]), mtime=0)


@pytest.fixture
def s3_inputs(settings, aws):
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=BUCKET)
    settings.STORAGES = {**settings.STORAGES, "inputs": {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {"bucket_name": BUCKET, "region_name": "us-east-1", "signature_version": "s3v4"},
    }}  # fmt: skip
    settings.GAS_DIRECT_UPLOADS = True
    settings.GAS_FREE_MAX_UPLOAD_BYTES = 150_000
    return boto3.client("s3", region_name="us-east-1")


def form_fields(html: str) -> tuple[str, dict[str, str]]:
    """The direct-upload form's action and hidden fields, as a browser would send them."""
    form = re.search(
        r'<form method="post" enctype="multipart/form-data" action="([^"]+)" data-testid="direct-upload">', html
    )
    assert form, "the annotate page offers the direct upload form"
    hidden = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html)
    return unescape(form.group(1)), {unescape(name): unescape(value) for name, value in hidden}


def test_policy_carries_size_range_prefix_type_and_short_expiry(signed_in_client, user, s3_inputs):
    html = signed_in_client.get(reverse("annotate")).content.decode()
    action, fields = form_fields(html)
    assert action.startswith("https://") and BUCKET in action
    policy = json.loads(base64.b64decode(fields["policy"]))
    conditions = policy["conditions"]
    assert ["content-length-range", 1, 150_000] in conditions
    prefix = next(c[2] for c in conditions if isinstance(c, list) and c[:2] == ["starts-with", "$key"])
    assert re.fullmatch(rf"uploads/{user.pk}/[0-9a-f-]{{36}}/", prefix)
    assert {"Content-Type": "application/octet-stream"} in conditions
    assert {"x-amz-server-side-encryption": "AES256"} in conditions
    expires = datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
    assert 0 < (expires - datetime.now(UTC)).total_seconds() <= 600
    assert fields["key"] == prefix + "${filename}"


def test_upload_to_s3_then_redirect_creates_the_job(
    signed_in_client, user, s3_inputs, django_capture_on_commit_callbacks
):
    _, fields = form_fields(signed_in_client.get(reverse("annotate")).content.decode())
    prefix = fields["key"].removesuffix("${filename}")
    # what the browser does: POST the fields and the file to the bucket (moto answers for S3 here) ...
    key = prefix + "ok.vcf"
    s3_inputs.put_object(Bucket=BUCKET, Key=key, Body=GOOD_VCF.encode(), Metadata={"reference": "demo"})
    # ... and S3 redirects back with bucket, key and etag
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in_client.get(
            reverse("annotate_complete") + "?" + urlencode({"bucket": BUCKET, "key": key, "etag": "x"})
        )
    job = Job.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("job_detail", args=[job.id])
    assert (job.input_key, job.input_name, job.input_size, job.reference_name) == (key, "ok.vcf", len(GOOD_VCF), "demo")


@pytest.mark.parametrize(
    "name, body, message",
    [
        ("big.vcf", GOOD_VCF.encode() + b"20\t100\t.\tA\tG\t50\tPASS\t.\n" * 8000, "too large"),
        ("notes.vcf", b"hello\n", "is not a VCF"),
        ("data.csv", GOOD_VCF.encode(), "expected a .vcf"),
        ("wrong.vcf.gz", WRONG_BUILD, "none of the REF alleles of its first 30 data lines agrees with GRCh37"),
        (
            "hg38.vcf",
            GOOD_VCF.replace("length=63025520", "length=64444167").encode(),
            "no GRCh38 reference is installed here",
        ),
    ],
)
def test_a_forged_or_bad_redirect_gains_nothing(signed_in_client, user, s3_inputs, name, body, message):
    key = f"uploads/{user.pk}/{'0' * 8}-0000-0000-0000-{'0' * 12}/{name}"
    s3_inputs.put_object(Bucket=BUCKET, Key=key, Body=body)
    response = signed_in_client.get(
        reverse("annotate_complete") + "?" + urlencode({"bucket": BUCKET, "key": key}), follow=True
    )
    assert message in response.content.decode()
    assert Job.objects.count() == 0
    assert "Contents" not in s3_inputs.list_objects_v2(Bucket=BUCKET)  # the refused object is deleted


def test_someone_elses_upload_cannot_be_claimed(signed_in_client, other_user, s3_inputs):
    key = f"uploads/{other_user.pk}/x/ok.vcf"
    s3_inputs.put_object(Bucket=BUCKET, Key=key, Body=GOOD_VCF.encode())
    response = signed_in_client.get(
        reverse("annotate_complete") + "?" + urlencode({"bucket": BUCKET, "key": key}), follow=True
    )
    assert "does not belong to you" in response.content.decode()
    assert Job.objects.count() == 0
    assert s3_inputs.head_object(Bucket=BUCKET, Key=key)  # and it is not touched
