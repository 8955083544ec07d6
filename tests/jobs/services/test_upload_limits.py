"""Uploads and the limits of one job: long names, endless lines, gzip bombs, records and time, bad bytes
(issue 15, items 1, 3, 4 and 8: each defect found by trying, each test failing on the code before its fix)."""

from __future__ import annotations

import gzip
import io
import os
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from accounts.services import plan_upgrade
from jobs.annotation.engine import JobLimits, annotate_vcf
from jobs.annotation.errors import InputFormatError, LimitExceeded
from jobs.annotation.vcf import MAX_LINE_BYTES
from jobs.models import Job, JobStatus
from jobs.services import lifecycle, uploads
from tests.helpers import GOOD_VCF, HEADER, ROOT, make_token, run, the_job, upload

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("job_settings", "cold_store")]


# -- 1. long file names -----------------------------------------------------------------------
def test_a_300_character_file_name_is_cut_and_the_job_completes(signed_in_client, django_capture_on_commit_callbacks):
    name = "x" * 300 + ".vcf"
    response = upload(signed_in_client, name, GOOD_VCF.encode(), django_capture_on_commit_callbacks)
    assert response.status_code == 302
    job = the_job()
    assert job.input_name == "x" * uploads.MAX_NAME_STEM + ".vcf"
    run("run_annotator", django_capture_on_commit_callbacks)
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED, job.error_message
    assert job.result_name == "x" * uploads.MAX_NAME_STEM + ".annot.vcf.gz"


@pytest.mark.parametrize(
    "raw, safe",
    [
        ("../../etc/passwd.vcf", "passwd.vcf"),
        ("a b.vcf.gz", "a_b.vcf.gz"),
        ("." * 300, "input"),
        ("y" * 400 + ".VCF.GZ", "y" * 100 + ".VCF.GZ"),
        (None, "input"),
    ],
)
def test_safe_input_names(raw, safe):
    assert uploads.safe_input_name(raw) == safe


def test_an_output_path_that_cannot_be_created_is_an_error_not_a_crash(tmp_path, demo_reference_dir):
    source = tmp_path / "x.vcf"
    source.write_text(HEADER + "20\t71381\t.\tA\tT\t.\t.\t.\n")
    for output in ("/nonexistent/x.vcf.gz", str(tmp_path / ("a" * 300 + ".vcf.gz"))):
        done = subprocess.run(
            [sys.executable, "manage.py", "annotate", str(source), "-o", output, "--quiet"],
            cwd=ROOT, capture_output=True, text=True, timeout=120,
            env={**os.environ, "GAS_REFERENCE_DIR": str(demo_reference_dir), "GAS_DATA_DIR": str(tmp_path)},
        )  # fmt: skip
        assert done.returncode == 1, (done.returncode, done.stderr)  # (it was 139: pysam segfaulted)
        assert "CommandError" in done.stderr and ("does not exist" in done.stderr or "cannot write" in done.stderr)


# -- 3. unbounded lines ------------------------------------------------------------------------
class EndlessLine(io.RawIOBase):
    """A header line that never ends: counts what is read of it."""

    def __init__(self) -> None:
        self.served = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self.served == 0:
            start = b"##fileformat=VCFv4.2\n##x="
            buffer[: len(start)] = start
            self.served += len(start)
            return len(start)
        buffer[:] = b"A" * len(buffer)
        self.served += len(buffer)
        return len(buffer)

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        return 0


def test_the_upload_check_reads_a_bounded_amount_of_an_endless_line(demo_reference_dir):
    from jobs.references.bundles import load_reference

    stream = EndlessLine()
    handle = io.BufferedReader(stream)
    with pytest.raises(uploads.UploadRejected, match=r"big.vcf, line 2: the VCF header is longer than 8 MB"):
        uploads.check_vcf_header(handle, name="big.vcf", reference=load_reference("demo"))
    assert stream.served < uploads.HEADER_READ_LIMIT + 2 * io.DEFAULT_BUFFER_SIZE


def test_a_data_line_longer_than_the_cap_fails_with_its_line_number(demo_reference, tmp_path):
    source = tmp_path / "long.vcf.gz"
    with gzip.open(source, "wb", compresslevel=1) as handle:
        handle.write((HEADER + "20\t71381\t.\tA\tT\t.\t.\t.\n").encode())
        handle.write(b"20\t71382\t.\tA\tT\t.\t.\t")
        block = b"A" * (1 << 20)
        for _ in range(MAX_LINE_BYTES // len(block) + 2):
            handle.write(block)
        handle.write(b"\n")
    with pytest.raises(LimitExceeded, match=r"long.vcf.gz, line 4: the line is longer than 64 MB"):
        annotate_vcf(source, tmp_path / "out.vcf", demo_reference)
    assert not (tmp_path / "out.vcf").exists()


def test_a_long_line_under_the_cap_is_read_whole(demo_reference, tmp_path):
    info = "X=" + "A" * 300_000  # five times the read block
    source = tmp_path / "wide.vcf"
    source.write_text(HEADER + f"20\t71381\t.\tA\tT\t.\t.\t{info}\n20\t71382\t.\tA\tT\t.\t.\t.\n")
    result = annotate_vcf(source, tmp_path / "out.vcf", demo_reference)
    lines = [line for line in result.output.read_text().splitlines() if not line.startswith("#")]
    assert len(lines) == 2 and lines[0].split("\t")[7].startswith(info + ";CSQ=")


# -- 4. limits per job: bytes, records, time; a gzip bomb ----------------------------------------
def bomb(path: Path, *, inflated_gib: float, header: str = HEADER) -> Path:
    """A gzip file of ``inflated_gib`` GiB of zeros after a VCF header, made of repeated members."""
    member = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = member.compress(b"\0" * (64 << 20)) + member.flush()
    with open(path, "wb") as handle:
        handle.write(gzip.compress(header.encode()))
        for _ in range(int(inflated_gib * 16)):
            handle.write(zeros)
    return path


def test_a_10_gib_gzip_bomb_fails_the_job_with_the_limit_it_hit(
    signed_in_client, user, django_capture_on_commit_callbacks, tmp_path, settings
):
    plan_upgrade(user=user)  # (premium: the upload limit takes the bomb's 10 MB)
    content = bomb(tmp_path / "bomb.vcf.gz", inflated_gib=10).read_bytes()
    assert len(content) < 12 << 20
    started = time.monotonic()
    upload(signed_in_client, "bomb.vcf.gz", content, django_capture_on_commit_callbacks)
    run("run_annotator", django_capture_on_commit_callbacks)
    job = the_job()
    assert job.status == JobStatus.FAILED
    assert job.error_message.startswith("bomb.vcf.gz, line 3: the line is longer than 64 MB")
    assert time.monotonic() - started < 120  # (a bound on a hang, not a timing claim)


def test_inflated_bytes_over_the_plan_limit_fail_the_job(
    signed_in_client, django_capture_on_commit_callbacks, settings
):
    settings.GAS_FREE_MAX_INPUT_BYTES = 100_000
    lines = "".join(f"20\t{71381 + i}\t.\tA\tT\t.\t.\t.\n" for i in range(5000))
    content = gzip.compress((HEADER + lines).encode())
    assert len(content) < settings.GAS_FREE_MAX_UPLOAD_BYTES
    refused = upload(signed_in_client, "many.vcf.gz", content, django_capture_on_commit_callbacks)  # (at upload)
    assert refused.status_code == 413 and not Job.objects.exists()
    assert "many.vcf.gz holds more than 97.7\xa0KB of VCF text once decompressed" in refused.content.decode()
    settings.GAS_UPLOAD_SCAN_BYTES = 50_000  # past the scan, the worker enforces the limit
    upload(signed_in_client, "many.vcf.gz", content, django_capture_on_commit_callbacks)
    run("run_annotator", django_capture_on_commit_callbacks)
    job = the_job()
    assert job.status == JobStatus.FAILED
    assert "larger than 100,000 bytes once decompressed, the limit for one job on the Free plan" in job.error_message


def test_records_over_the_plan_limit_fail_the_job(signed_in_client, django_capture_on_commit_callbacks, settings):
    settings.GAS_FREE_MAX_RECORDS = 1000
    lines = "".join(f"20\t{71381 + i}\t.\tA\tT\t.\t.\t.\n" for i in range(5000))
    upload(
        signed_in_client, "many.vcf.gz", gzip.compress((HEADER + lines).encode()), django_capture_on_commit_callbacks
    )
    run("run_annotator", django_capture_on_commit_callbacks)
    job = the_job()
    assert job.status == JobStatus.FAILED
    assert "more than 1,000 records, the limit for one job on the Free plan" in job.error_message


def test_the_wall_clock_limit_stops_an_annotation(demo_reference, tmp_path):
    source = tmp_path / "in.vcf"
    source.write_text(HEADER + "20\t71381\t.\tA\tT\t.\t.\t.\n")
    with pytest.raises(LimitExceeded, match=r"took longer than 0 seconds, the limit for one job on the Free plan"):
        annotate_vcf(source, tmp_path / "out.vcf", demo_reference, limits=JobLimits(max_seconds=1e-9, plan="Free"))


def test_job_limits_follow_the_plan(user, settings):
    settings.GAS_FREE_MAX_RECORDS, settings.GAS_PREMIUM_MAX_RECORDS = 10, 20
    assert lifecycle.job_limits(user).max_records == 10
    plan_upgrade(user=user)
    user.refresh_from_db()
    assert lifecycle.job_limits(user).max_records == 20 and lifecycle.job_limits(user).max_seconds > 0


# -- 8. smaller gaps ------------------------------------------------------------------------------
def test_the_api_answers_413_between_the_limit_and_the_multipart_slack(
    signed_in_client, settings, django_capture_on_commit_callbacks
):
    token = make_token(signed_in_client)
    api = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    content = (HEADER + "#" * (settings.GAS_FREE_MAX_UPLOAD_BYTES + 1000)).encode()
    response = api.post("/api/v1/jobs", {"file": SimpleUploadedFile("big.vcf", content)})
    assert response.status_code == 413, response.content
    assert "The file is too large" in response.json()["detail"]


def test_an_empty_file_is_refused_with_400_on_the_form(signed_in_client, django_capture_on_commit_callbacks):
    response = upload(signed_in_client, "empty.vcf", b"", django_capture_on_commit_callbacks)
    assert response.status_code == 400
    assert "empty" in response.content.decode()
    assert Job.objects.count() == 0


def test_a_non_utf8_byte_is_reported_with_its_line(demo_reference, tmp_path, signed_in_client):
    from jobs.references.bundles import load_reference

    content = (HEADER + "20\t71381\t.\tA\tT\t.\t.\t.\n").encode() + b"20\t71382\t.\tA\tT\t.\t.\tX=\xff\n"
    uploads.check_vcf_header(io.BytesIO(content), name="u.vcf", reference=load_reference("demo"))  # header fine
    source = tmp_path / "u.vcf"
    source.write_bytes(content)
    with pytest.raises(InputFormatError, match=r"u.vcf, line 4: is not a text VCF"):
        annotate_vcf(source, tmp_path / "out.vcf", demo_reference)
    header = b"##fileformat=VCFv4.2\n##x=\xfe\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    with pytest.raises(uploads.UploadRejected, match=r"v.vcf, line 2: not text"):
        uploads.check_vcf_header(io.BytesIO(header), name="v.vcf", reference=load_reference("demo"))


def test_a_position_past_the_contig_end_is_named_as_such(demo_reference, tmp_path):
    source = tmp_path / "far.vcf"
    source.write_text(HEADER + "20\t71381\t.\tA\tT\t.\t.\t.\n20\t70000000\t.\tA\tT\t.\t.\t.\n")
    with pytest.raises(InputFormatError, match=r"far.vcf, line 4: 20:70000000 .* past the end of contig 20, which is"):
        annotate_vcf(source, tmp_path / "out.vcf", demo_reference)
