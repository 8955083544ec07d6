"""A bundle's genome file, written in one pass over a FASTA (plain, gzip or bgzip).

The bundle keeps the genome upper case, one line per contig (a fetch is then a single read, with
no line breaks to drop and no case to fold), beside a faidx index written from what the pass
saw. The same pass takes the SHA-256 of the source file and of the genome written, so a
whole genome (3 GB) is read once and written once. It imports neither pysam nor Django: an
import runs it in a process of its own (genome_process), which tells the importing process of
each contig as soon as it is written, so that transcripts are built while the genome is still
being written (GenomeReader reads what is written, by offset).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import mmap
import os
import queue
import string
import sys
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from jobs.annotation.errors import ReferenceError_

CHUNK = 1 << 24
_UPPER = bytes.maketrans(string.ascii_lowercase.encode(), string.ascii_uppercase.encode())

ContigWritten = Callable[[str, int, int], None]  # (name, length, offset of its first base)


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

    def __init__(self, target: Path, source: str, on_contig: ContigWritten | None) -> None:
        self.source = source
        self.on_contig = on_contig
        self.out = open(target, "wb")  # (closed by close())
        # the disk writes run in a thread of their own (they wait on the disk, without the GIL)
        # while this one reads, folds case and hashes the next chunk
        self.queue: queue.Queue[bytes | None] = queue.Queue(maxsize=3)
        self.failure: BaseException | None = None
        self.thread = threading.Thread(target=self._drain, name="genome-writes", daemon=True)
        self.thread.start()
        self.digest = hashlib.sha256()
        self.written = 0
        self.index: list[tuple[str, int, int]] = []  # (name, length, offset)
        self.names: set[str] = set()
        self.name = ""
        self.length = 0
        self.offset = 0

    def _drain(self) -> None:
        while (data := self.queue.get()) is not None:
            try:
                if self.failure is None:
                    self.out.write(data)
            except BaseException as exc:  # (a full disk: raised by the next _write or _sync)
                self.failure = exc
            finally:
                self.queue.task_done()
        self.queue.task_done()

    def _write(self, data: bytes) -> None:
        if self.failure is not None:
            raise self.failure
        self.queue.put(data)
        self.digest.update(data)
        self.written += len(data)

    def _sync(self) -> None:
        """Everything handed to the writes thread is in the file."""
        self.queue.join()
        if self.failure is not None:
            raise self.failure
        self.out.flush()

    def stop(self) -> None:
        if self.thread.is_alive():
            self.queue.put(None)
            self.thread.join()
        self.out.close()

    def begin(self, header: bytes) -> None:
        self.end()
        words = header.split()
        if not words:
            raise ReferenceError_(f"{self._where(len(self.names) + 1)}: a '>' header line without a sequence name")
        name = words[0].decode("ascii", errors="replace")
        if name in self.names:
            raise ReferenceError_(f"{self._where(len(self.names) + 1)}: sequence {name} appears twice")
        self._write(b">" + words[0] + b"\n")
        self.names.add(name)
        self.name, self.length = name, 0
        self.offset = self.written

    def _where(self, header: int) -> str:
        """ "file, line N" of the ``header``-th header line (counted only for a message)."""
        with open(self.source, "rb") as probe:
            gzipped = probe.read(2) == b"\x1f\x8b"
        opener: Any = gzip.open if gzipped else open
        seen = 0
        with opener(self.source, "rb") as lines:
            for number, line in enumerate(lines, 1):
                seen += line.startswith(b">")
                if seen == header:
                    return f"{self.source}, line {number}"
        return self.source

    def sequence(self, data: bytes) -> None:
        if not self.name:
            if data.strip():
                line = data[: len(data) - len(data.lstrip())].count(b"\n") + 1
                raise ReferenceError_(
                    f"{self.source}, line {line}: not a FASTA file (expected a '>' header line first)"
                )
            return
        if b"\n" in data:
            data = data.replace(b"\n", b"")
        if b"\r" in data:
            data = data.replace(b"\r", b"")
        if b" " in data or b"\t" in data:
            data = data.replace(b" ", b"").replace(b"\t", b"")
        bases = data.translate(_UPPER)
        self._write(bases)
        self.length += len(bases)

    def end(self) -> None:
        if self.name:
            self._write(b"\n")
            self.index.append((self.name, self.length, self.offset))
            self.name = ""
            if self.on_contig is not None:
                self._sync()  # (the importing process reads it as soon as it is told)
                name, length, offset = self.index[-1]
                self.on_contig(name, length, offset)

    def close(self, index_path: Path) -> None:
        self.end()
        self._sync()
        self.stop()
        if not self.index:
            raise ReferenceError_(f"{self.source}: no sequence in the FASTA file")
        # faidx: name, length, offset, bases per line, bytes per line (one line per contig)
        index_path.write_text(
            "".join(
                f"{name}\t{length}\t{offset}\t{length or 1}\t{(length or 1) + 1}\n"
                for name, length, offset in self.index
            )
        )


def write_genome(source: Path, target: Path, on_contig: ContigWritten | None = None) -> GenomeFile:
    """Write ``source`` as the bundle's genome ``target`` (with ``target``.fai) in one pass,
    calling ``on_contig`` as each contig is complete on disk."""
    with open(source, "rb") as raw_handle:
        magic = raw_handle.read(2)
        raw_handle.seek(0)
        raw = _HashingReader(raw_handle)
        # (_HashingReader reads as a binary file does; typeshed asks for a declared protocol)
        stream: Any = gzip.GzipFile(fileobj=raw, mode="rb") if magic == b"\x1f\x8b" else raw  # type: ignore[call-overload]
        writer = _GenomeWriter(target, str(source), on_contig)
        try:
            _copy_sequences(stream, writer)
            writer.close(Path(f"{target}.fai"))
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            raise ReferenceError_(f"{source}: the gzip file is damaged or truncated ({exc})") from exc
        finally:
            writer.stop()
        source_sha256 = raw.drain()
    return GenomeFile(
        contigs={name: length for name, length, _ in writer.index},
        source_sha256=source_sha256,
        genome_sha256=writer.digest.hexdigest(),
    )


def _copy_sequences(stream: Any, writer: _GenomeWriter) -> None:
    """Split the stream into header lines and sequence, chunk by chunk (a header may straddle two).
    A header starts with '>' at the start of a line; '>' is found by memchr, so a chunk of
    sequence costs a few scans of its bytes."""
    pending = b""  # the start of a header line the last chunk cut
    in_header = False
    line_start = True
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
                writer.begin(buffer[pos + 1 : newline])
                pos, in_header, line_start = newline + 1, False, True
                continue
            if line_start and buffer[pos] == 0x3E:  # '>'
                in_header = True
                continue
            marker = buffer.find(b">", pos)
            while marker >= 0 and not (buffer[marker - 1] == 0x0A if marker else line_start):
                marker = buffer.find(b">", marker + 1)  # (a '>' inside a line is not a header)
            stop = size if marker < 0 else marker
            writer.sequence(buffer[pos:stop] if pos or stop < size else buffer)
            pos, line_start = stop, buffer[stop - 1] == 0x0A
            if marker >= 0:
                in_header = True
    if pending:  # (a last header line without a newline)
        writer.begin(pending[1:])


def main(argv: list[str]) -> int:
    """``python -m jobs.annotation.fasta SOURCE TARGET``: write the genome, printing a JSON line
    as each contig is written ({"contig", "length", "offset"}), then {"done": GenomeFile} or
    {"error": message}. An import runs it beside the gene model's parsing."""
    source, target = Path(argv[0]), Path(argv[1])

    def say(message: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()

    def written(name: str, length: int, offset: int) -> None:
        say({"contig": name, "length": length, "offset": offset})

    try:
        genome = write_genome(source, target, written)
    except ReferenceError_ as exc:
        say({"error": str(exc)})
        return 1
    except OSError as exc:
        say({"error": f"{target}: the genome could not be written ({exc})"})
        return 1
    say({"done": {"contigs": genome.contigs, "source_sha256": genome.source_sha256,
                  "genome_sha256": genome.genome_sha256}})  # fmt: skip
    return 0


class GenomeReader:
    """Sequence from a genome file of one line per contig, by offset, through a memory map of
    the contig being read (about 15x faster than pysam's fetch; one contig mapped at a time, so
    the pages read count in this process's memory for one contig only). Contigs may be added
    while the file is still being written."""

    def __init__(self, path: Path) -> None:
        self.fd = os.open(path, os.O_RDONLY)
        self.contigs: dict[str, tuple[int, int]] = {}  # name -> (length, offset)
        self.map: mmap.mmap | None = None
        self.mapped = ""  # (the contig self.map holds)
        self.base = 0  # (the file offset of self.map's first byte)

    def add(self, name: str, length: int, offset: int) -> None:
        self.contigs[name] = (length, offset)

    def fetch(self, contig: str, start: int, end: int) -> str:
        """Bases ``start`` to ``end`` (0-based, end excluded) of ``contig``, clipped to it."""
        length, offset = self.contigs[contig]
        start, end = max(start, 0), min(end, length)
        if end <= start:
            return ""
        if contig != self.mapped or self.map is None:
            if self.map is not None:
                self.map.close()
            self.base = offset - offset % mmap.ALLOCATIONGRANULARITY
            self.map = mmap.mmap(self.fd, offset - self.base + length, offset=self.base, access=mmap.ACCESS_READ)
            self.mapped = contig
        at = offset - self.base
        return self.map[at + start : at + end].decode("ascii")

    def close(self) -> None:
        if self.map is not None:
            self.map.close()
        os.close(self.fd)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
