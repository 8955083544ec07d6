"""Exports streamed as they are produced: the TSV's lines and the filtered VCF's BGZF blocks come
batch by batch from the table and the result, so a download starts within a second and holds
bounded memory (a batch of lines, one BGZF block) whatever the job's size. No Django here."""

from __future__ import annotations

import gzip
import struct
import zlib
from collections.abc import Iterable, Iterator
from typing import IO

from jobs.annotation.engine import BGZF_EOF

# input bytes per BGZF block: what bgzip puts in one, so its compressed form always fits in 64 KiB
BGZF_BLOCK_INPUT = 0xFF00
# bytes gathered before blocks are compressed and sent (a few blocks per write to the client)
SEND_BYTES = 1 << 18


def bgzf_block(data: bytes, level: int = 6) -> bytes:
    """One BGZF block (a gzip member with the BC extra field giving its size) holding ``data``."""
    if len(data) > BGZF_BLOCK_INPUT:
        raise ValueError(f"a BGZF block holds at most {BGZF_BLOCK_INPUT} bytes of input, not {len(data)}")
    deflate = zlib.compressobj(level, zlib.DEFLATED, -15)
    body = deflate.compress(data) + deflate.flush()
    header = b"\x1f\x8b\x08\x04\x00\x00\x00\x00\x00\xff" + struct.pack("<H2sHH", 6, b"BC", 2, len(body) + 25)
    return header + body + struct.pack("<II", zlib.crc32(data), len(data))


def bgzf_stream(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """``chunks`` compressed as BGZF (readable by bgzip, tabix, pysam and any gzip reader), sent
    some blocks at a time and closed by the EOF block."""
    pending = bytearray()
    for chunk in chunks:
        pending += chunk
        if len(pending) >= SEND_BYTES:
            whole = len(pending) - len(pending) % BGZF_BLOCK_INPUT
            yield _blocks(bytes(pending[:whole]))
            del pending[:whole]
    yield _blocks(bytes(pending)) + BGZF_EOF


def _blocks(data: bytes) -> bytes:
    return b"".join(bgzf_block(data[at : at + BGZF_BLOCK_INPUT]) for at in range(0, len(data), BGZF_BLOCK_INPUT))


def filtered_records(result: IO[bytes], records: Iterable[int], *, block: int = 1 << 20) -> Iterator[bytes]:
    """The header of a (gzipped) VCF and its records numbered in ``records`` (0-based data lines,
    ascending), as text a block at a time; it stops reading after the last one wanted. Lines are
    split by bytes operations, a block at a time: Python touches a line only to count it."""
    wanted = iter(records)
    next_wanted = next(wanted, None)
    number = -1  # (the last data line seen)
    pending = b""
    in_header = True
    with gzip.GzipFile(fileobj=result) as text:
        while True:
            chunk = text.read(block)
            if not chunk:
                break
            lines = (pending + chunk).split(b"\n")
            pending = lines.pop()
            out: list[bytes] = []
            for line in lines:
                if in_header and line.startswith(b"#"):
                    out.append(line)
                    continue
                in_header = False
                if next_wanted is None:
                    break
                number += 1
                if number == next_wanted:
                    out.append(line)
                    next_wanted = next(wanted, None)
            if out:
                yield b"\n".join(out) + b"\n"
            if next_wanted is None and not in_header:
                return
    if pending and next_wanted is not None:  # (a last line without its newline)
        if in_header and pending.startswith(b"#"):
            yield pending + b"\n"
        elif number + 1 == next_wanted:
            yield pending + b"\n"
