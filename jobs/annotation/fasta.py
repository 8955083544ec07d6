"""A bundle's genome file, written in one pass over a FASTA (plain, gzip or bgzip).

The bundle keeps the genome upper case, one line per contig (a fetch is then a single read, with
no line breaks to drop and no case to fold), beside a faidx index written from what the pass
saw. The same pass takes the SHA-256 of the source file and of the genome written, so a
whole genome (3 GB) is read once and written once. It imports neither pysam nor Django: an
import runs it in a process of its own, beside the gene model's parsing.
"""

from __future__ import annotations

import gzip
import hashlib
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from jobs.annotation.errors import ReferenceError_

CHUNK = 1 << 24
_UPPER = bytes.maketrans(string.ascii_lowercase.encode(), string.ascii_uppercase.encode())
_SPACE = b" \t\r\n"


@dataclass(frozen=True)
class GenomeFile:
    contigs: dict[str, int]  # name -> length, in the file's order
    source_sha256: str
    genome_sha256: str


class _HashingReader:
    """Reads a file forward, hashing every byte read (the source's checksum, at no extra pass)."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.handle.read(size)
        self.digest.update(data)
        return data

    def drain(self) -> str:
        while self.read(CHUNK):
            pass
        return self.digest.hexdigest()


class _GenomeWriter:
    """The genome file and its index, contig by contig."""

    def __init__(self, target: Path, source: str) -> None:
        self.source = source
        self.out = open(target, "wb")  # (closed by close())
        self.digest = hashlib.sha256()
        self.written = 0
        self.index: list[tuple[str, int, int]] = []  # (name, length, offset)
        self.names: set[str] = set()
        self.name = ""
        self.length = 0
        self.offset = 0

    def _write(self, data: bytes) -> None:
        self.out.write(data)
        self.digest.update(data)
        self.written += len(data)

    def begin(self, header: bytes, line_number: int) -> None:
        self.end()
        words = header.split()
        if not words:
            raise ReferenceError_(f"{self.source}, line {line_number}: a '>' header line without a sequence name")
        name = words[0].decode("ascii", errors="replace")
        if name in self.names:
            raise ReferenceError_(f"{self.source}, line {line_number}: sequence {name} appears twice")
        self._write(b">" + words[0] + b"\n")
        self.names.add(name)
        self.name, self.length = name, 0
        self.offset = self.written

    def sequence(self, data: bytes, line_number: int) -> None:
        if not self.name:
            if data.strip():
                raise ReferenceError_(
                    f"{self.source}, line {line_number}: not a FASTA file (expected a '>' header line first)"
                )
            return
        bases = data.translate(_UPPER, _SPACE)
        self._write(bases)
        self.length += len(bases)

    def end(self) -> None:
        if self.name:
            self._write(b"\n")
            self.index.append((self.name, self.length, self.offset))
            self.name = ""

    def close(self, index_path: Path) -> None:
        self.end()
        self.out.close()
        if not self.index:
            raise ReferenceError_(f"{self.source}: no sequence in the FASTA file")
        # faidx: name, length, offset, bases per line, bytes per line (one line per contig)
        index_path.write_text(
            "".join(
                f"{name}\t{length}\t{offset}\t{length or 1}\t{(length or 1) + 1}\n"
                for name, length, offset in self.index
            )
        )


def write_genome(source: Path, target: Path) -> GenomeFile:
    """Write ``source`` as the bundle's genome ``target`` (with ``target``.fai) in one pass."""
    with open(source, "rb") as raw_handle:
        magic = raw_handle.read(2)
        raw_handle.seek(0)
        raw = _HashingReader(raw_handle)
        stream: Any = gzip.GzipFile(fileobj=raw, mode="rb") if magic == b"\x1f\x8b" else raw
        writer = _GenomeWriter(target, str(source))
        try:
            _copy_sequences(stream, writer, str(source))
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            writer.out.close()
            raise ReferenceError_(f"{source}: the gzip file is damaged or truncated ({exc})") from exc
        except BaseException:
            writer.out.close()
            raise
        writer.close(Path(f"{target}.fai"))
        source_sha256 = raw.drain()
    return GenomeFile(
        contigs={name: length for name, length, _ in writer.index},
        source_sha256=source_sha256,
        genome_sha256=writer.digest.hexdigest(),
    )


def _copy_sequences(stream: Any, writer: _GenomeWriter, source: str) -> None:
    """Split the stream into header lines and sequence, chunk by chunk (a header may straddle two)."""
    pending = b""  # the start of a header line the last chunk cut
    in_header = False
    line_start = True
    line_number = 1  # (for messages: the line a header or stray text is on)
    while chunk := stream.read(CHUNK):
        buffer = pending + chunk if pending else chunk
        pending = b""
        pos = 0
        size = len(buffer)
        while pos < size:
            if in_header:
                newline = buffer.find(b"\n", pos)
                if newline < 0:
                    pending = buffer[pos:]
                    break
                writer.begin(buffer[pos + 1 : newline], line_number)
                line_number += 1
                pos, in_header, line_start = newline + 1, False, True
                continue
            if line_start and buffer[pos] == 0x3E:  # '>'
                in_header = True
                continue
            marker = buffer.find(b"\n>", pos)
            stop = size if marker < 0 else marker + 1
            piece = buffer[pos:stop]
            writer.sequence(piece, line_number)
            line_number += piece.count(b"\n")
            pos, line_start = stop, piece.endswith(b"\n")
            if marker >= 0:
                in_header = True
    if pending:  # (a last header line without a newline)
        writer.begin(pending[1:], line_number)
