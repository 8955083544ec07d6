"""Issue 25, items 2 and 3: a region (BED) file is bounded after decompression (bytes, lines of
any kind, a line's length, a name's length, regions over one base) and its ends by the reference's
contig lengths; each refused at once, with the limit and the line."""

from __future__ import annotations

import gzip
import zlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from jobs.models import RegionSet
from tests.helpers import make_token

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("job_settings")]


def gzipped(parts, level: int = 1) -> bytes:
    """Parts (bytes) compressed as one gzip member, without holding the whole text."""
    packer = zlib.compressobj(level, zlib.DEFLATED, 31)
    return b"".join(packer.compress(part) for part in parts) + packer.flush()


@pytest.fixture
def api(signed_in_client):
    return Client(HTTP_AUTHORIZATION=f"Bearer {make_token(signed_in_client)}")


def post(api, name: str, data: bytes):
    return api.post("/api/v1/regions", {"file": SimpleUploadedFile(name, data), "name": "x"})


def refused(api, name: str, data: bytes) -> str:
    response = post(api, name, data)
    assert response.status_code == 400, response.content[:300]
    assert not RegionSet.objects.exists()
    return response.json()["detail"]


def test_millions_of_blank_lines_in_a_small_gzip(api):
    data = gzipped(b"\n" * (1 << 20) for _ in range(8))  # (8.4 million lines, 8 KB compressed)
    assert len(data) < 100_000
    assert refused(api, "blank.bed.gz", data) == (
        "blank.bed.gz, line 250,001: more than 250,000 lines (the most a region file may have)"
    )
    comments = gzipped(b"# a comment\n" * 100_000 for _ in range(5))
    assert "line 250,001: more than 250,000 lines" in refused(api, "comments.bed.gz", comments)


def test_one_huge_line(api):
    data = gzipped(b"A" * (1 << 24) for _ in range(16))  # (256 MB on one line, 250 KB compressed)
    assert refused(api, "long.bed.gz", data) == (
        "long.bed.gz, line 1: longer than 65,536 bytes (the longest line a region file may have)"
    )


def test_decompressed_bytes_are_bounded(api, settings):
    settings.GAS_MAX_REGIONS_DECOMPRESSED_BYTES = 10_000
    data = gzip.compress(b"".join(f"20\t{n}\t{n + 10}\tr{n}\n".encode() for n in range(1000, 3000)))
    assert "the file holds more than 10,000 bytes uncompressed (the most a region file may hold)" in refused(
        api, "many.bed.gz", data
    )


def test_a_long_name_is_refused_not_cut(api):
    data = b"20\t100\t200\tok\n20\t300\t400\t" + b"N" * 10_000 + b"\n"
    assert refused(api, "names.bed", data) == (
        "names.bed, line 2: the name is 10,000 characters; a region's name may have up to 255"
    )


def test_regions_piled_on_one_base(api):
    data = b"".join(f"20\t{1000 + n}\t{5000 + n}\tr{n}\n".encode() for n in range(100))
    assert refused(api, "piled.bed", data) == (
        "piled.bed, line 65: more than 64 regions overlap 20:1,065 (the most one variant may report)"
    )
    side_by_side = b"".join(f"20\t{n * 10}\t{n * 10 + 10}\tr{n}\n".encode() for n in range(1000))
    assert post(api, "tiled.bed", side_by_side).status_code == 201  # (touching is not overlapping: BED ends exclude)


def test_an_end_past_the_contig(api):
    data = b"20\t100\t200\ta\nchr20\t5\t99999999999999999999999\tb\n"
    assert refused(api, "far.bed", data) == (
        "far.bed, line 2: end 99,999,999,999,999,999,999,999 is past the end of chr20 "
        "(63,025,520 bases in the reference)"
    )
    at_the_end = post(api, "end.bed", b"20\t63025000\t63025520\tlast\n1\t5\t999999999\tother contig\n")
    assert at_the_end.status_code == 201  # (the last base; a contig no reference has is not checked)
