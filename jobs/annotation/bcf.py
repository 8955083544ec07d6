"""BCF read as VCF text: htslib (through pysam) decodes each record and writes it as the VCF line
it stands for, so the reader, the checks and the engine see one format. Not compiled by mypyc (it
subclasses io.RawIOBase). No Django here."""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pysam


def is_bcf(path: str | Path) -> bool:
    """Whether ``path`` is BCF (its text starts ``BCF``, after BGZF decompression when compressed)."""
    with open(path, "rb") as handle:
        return holds_bcf(handle)


def holds_bcf(handle: IO[bytes]) -> bool:
    """Whether a seekable file holds BCF; it is left at its start."""
    handle.seek(0)
    head = handle.read(3)
    handle.seek(0)
    if head[:2] == b"\x1f\x8b":
        try:
            head = gzip.GzipFile(fileobj=handle).read(3)
        except (OSError, EOFError):
            head = b""
        handle.seek(0)
    return head[:3] == b"BCF"


class BcfError(ValueError):
    """htslib could not read the BCF file or one of its records (the message says which)."""


class BcfText(io.RawIOBase):
    """A BCF file's records as VCF text, produced as it is read: the header, then one line each."""

    def __init__(self, path: str | Path) -> None:
        super().__init__()
        try:
            self._file: Any = pysam.VariantFile(str(path), "r")
        except (OSError, ValueError) as exc:
            raise BcfError(f"the BCF file cannot be read ({exc})") from None
        self._lines = self._produce()
        self._pending = b""
        self._size = Path(path).stat().st_size

    def _produce(self) -> Iterator[bytes]:
        yield str(self._file.header).encode()
        try:
            for record in self._file:
                yield str(record).encode()
        except (OSError, ValueError) as exc:
            raise BcfError(f"a BCF record cannot be decoded ({exc})") from None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            chunk = next(self._lines, None)
            if chunk is None:
                return 0
            self._pending = chunk
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size

    def fraction_read(self) -> float:
        """How much of the compressed file htslib has read, 0..1 (BGZF: its virtual offset's block)."""
        if self.closed or not self._size:
            return 0.0
        return min(1.0, (self._file.tell() >> 16) / self._size)

    def close(self) -> None:
        if not self.closed:
            self._file.close()
        super().close()


def open_bcf_text(path: str | Path) -> io.BufferedReader:
    return io.BufferedReader(BcfText(path), buffer_size=1 << 20)


class BcfTextFile:
    """A BCF file as a rewindable VCF-text handle (read, readline, seek(0)) for the checks made
    before a job is queued; each rewind reads the file again from its start."""

    def __init__(self, path: str | Path) -> None:
        self.path = path
        self._handle = open_bcf_text(path)

    def read(self, size: int = -1) -> bytes:
        return self._handle.read(size)

    def readline(self, size: int = -1) -> bytes:
        return self._handle.readline(size)

    def seek(self, offset: int, whence: int = 0) -> int:
        if (offset, whence) != (0, 0):
            raise io.UnsupportedOperation("a BCF file's text can only be read again from its start")
        self._handle.close()
        self._handle = open_bcf_text(self.path)
        return 0

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._handle.close()
