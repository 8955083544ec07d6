"""Issue 25, item 1: exports stream from their first bytes in bounded memory, and a web process
streams at most GAS_EXPORTS_PER_PROCESS at once (the rest: 503 with Retry-After)."""

from __future__ import annotations

import gzip
import io
import struct
import zlib

import pysam
import pytest
from django.core.signals import request_finished
from django.db import close_old_connections
from django.urls import reverse

from jobs.annotation.engine import BGZF_EOF
from jobs.results import tables
from jobs.results.bgzf import BGZF_BLOCK_INPUT, bgzf_stream, filtered_records
from jobs.results.filters import parse_filter
from jobs.results.queries import VariantTable
from jobs.services import tokens

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("job_settings")]


def bgzf_blocks(data: bytes) -> list[tuple[int, int]]:
    """Each block's (compressed size, input size), read from its BC field and its trailer."""
    blocks, at = [], 0
    while at < len(data):
        assert data[at : at + 4] == b"\x1f\x8b\x08\x04" and data[at + 12 : at + 14] == b"BC"
        size = struct.unpack("<H", data[at + 16 : at + 18])[0] + 1
        blocks.append((size, struct.unpack("<I", data[at + size - 4 : at + size])[0]))
        at += size
    return blocks


def test_bgzf_stream_is_bgzip_readable_in_whole_blocks(tmp_path):
    lines = [f"line {n}\t{'ACGT' * (n % 50)}\n".encode() for n in range(40_000)]
    data = b"".join(bgzf_stream(iter(lines)))
    assert data.endswith(BGZF_EOF)
    blocks = bgzf_blocks(data)
    assert len(blocks) > 10 and all(size <= 65536 and raw <= BGZF_BLOCK_INPUT for size, raw in blocks)
    assert gzip.decompress(data) == b"".join(lines)
    path = tmp_path / "x.gz"
    path.write_bytes(data)
    with pysam.BGZFile(str(path), "rb") as handle:  # (htslib's reader, as bgzip and tabix use)
        assert handle.read() == b"".join(lines)
    assert b"".join(bgzf_stream(iter([]))) == BGZF_EOF
    zlib.decompress(data[18 : blocks[0][0] - 8], -15)  # (raw deflate inside, as the BC size says)


def test_filtered_records_stop_after_the_last_wanted():
    text = "##fileformat=VCFv4.2\n#CHROM\tPOS\n" + "".join(f"20\t{n}\n" for n in range(1, 11))

    def picked(records, *, block=1 << 20, body=text):
        return b"".join(filtered_records(io.BytesIO(gzip.compress(body.encode())), records, block=block)).decode()

    assert picked([0, 3, 9]).splitlines() == ["##fileformat=VCFv4.2", "#CHROM\tPOS", "20\t1", "20\t4", "20\t10"]
    for block in (1, 3, 7, 64):  # (lines cut across blocks anywhere)
        assert picked([0, 3, 9], block=block) == picked([0, 3, 9])
        assert picked(range(10), block=block) == text
    assert picked([]) == "##fileformat=VCFv4.2\n#CHROM\tPOS\n"
    assert picked([9], body=text.rstrip("\n"), block=5).splitlines()[-1] == "20\t10"  # (no final newline)


def test_streamed_tsv_is_what_duckdb_writes(annotated, tmp_path):
    """The peer: DuckDB's own CSV writer (what the export used before it streamed), byte for byte,
    in batches smaller than the job so that several are joined."""
    job = annotated()
    table: VariantTable = tables.table_for(job)
    for params in ({}, {"impact": "HIGH,MODERATE"}, {"gene": "NOPE"}):
        filt = parse_filter(params)
        streamed = b"".join(table.tsv_lines(filt, batch_rows=1000))
        from jobs.results.filters import where_clause
        from jobs.results.queries import quoted, sql_path

        where, values = where_clause(filt, entries=True)
        csq = ", ".join(quoted(name) for name in table.csq_columns)
        target = tmp_path / "peer.tsv"
        table._run(f"COPY (SELECT chrom AS CHROM, pos AS POS, id AS ID, ref AS REF, alt AS ALT, "
                   f"variant_class AS VARIANT_CLASS, {csq} FROM t WHERE {where} ORDER BY v, eno) "
                   f"TO '{sql_path(target)}' (HEADER, DELIMITER '\t', QUOTE '')", values)  # fmt: skip
        assert streamed == target.read_bytes(), params
    records = list(table.records(parse_filter({"impact": "HIGH"}), batch_rows=7))
    assert records == sorted(set(records)) and len(records) > 7


@pytest.fixture
def one_export_at_a_time(settings, monkeypatch):
    from jobs.results.exports import _ExportSlot

    settings.GAS_EXPORTS_PER_PROCESS = 1
    monkeypatch.setattr(_ExportSlot, "_busy", 0)  # (earlier tests' responses were never closed, as a server would)


def test_exports_beyond_the_limit_wait_their_turn(annotated, signed_in_client, one_export_at_a_time):
    job = annotated()
    first = signed_in_client.get(reverse("job_export", args=[job.id, "tsv"]))
    assert first.status_code == 200 and first.streaming
    chunks = iter(first.streaming_content)
    assert next(chunks).startswith(b"CHROM\tPOS\t")  # (the first one is streaming)
    busy = signed_in_client.get(reverse("job_export", args=[job.id, "vcf"]))
    assert busy.status_code == 503 and busy["Retry-After"] == "30"
    assert "exports are being downloaded" in busy.content.decode()
    _, raw = tokens.api_token_create(user=job.owner, name="t")
    api = signed_in_client.get(f"/api/v1/jobs/{job.id}/export/tsv", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.status_code == 503 and api["Retry-After"] == "30" and "try again in 30 s" in api.json()["detail"]
    assert b"".join(chunks).count(b"\n") > 1000  # (sent whole: the slot is free again)
    again = signed_in_client.get(reverse("job_export", args=[job.id, "vcf"]))
    assert again.status_code == 200 and b"".join(again.streaming_content)[:4] == b"\x1f\x8b\x08\x04"
    never_read = signed_in_client.get(reverse("job_export", args=[job.id, "tsv"]))
    request_finished.disconnect(close_old_connections)  # (as the test client does when it closes one)
    try:
        never_read.close()  # (a response closed before its body was read gives its slot back too)
    finally:
        request_finished.connect(close_old_connections)
    assert signed_in_client.get(reverse("job_export", args=[job.id, "tsv"])).status_code == 200
