"""The cold storage interface: archive a file, restore it later, fetch it back, delete it.

Restores are asynchronous: ``start_restore`` asks for one (Expedited first, Standard when
Expedited capacity is short), ``restore_status`` says when it is ready, and only then can
``open_restored`` read the bytes.
"""

from __future__ import annotations

import enum
import hashlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO

EXPEDITED = "Expedited"
STANDARD = "Standard"
TIERS = (EXPEDITED, STANDARD)
COPY_CHUNK_BYTES = 1024 * 1024


class ColdStorageError(RuntimeError):
    """A cold storage operation failed."""


class ArchiveNotFound(ColdStorageError):
    """No archived object has that id."""


class RestoreNotReady(ColdStorageError):
    """The object is still cold: start a restore and wait for it."""


class RestoreState(enum.StrEnum):
    NOT_REQUESTED = "not_requested"
    IN_PROGRESS = "in_progress"
    READY = "ready"


@dataclass(frozen=True)
class ColdObject:
    archive_id: str
    size: int
    sha256: str


@dataclass(frozen=True)
class RestoreTicket:
    """What ``start_restore`` obtained: the tier granted and when the data should be ready."""

    tier: str
    expected_ready_at: datetime


@dataclass(frozen=True)
class RestoreStatus:
    state: RestoreState
    ready_at: datetime | None = None


class HashingReader:
    """Wraps a binary stream, counting bytes and computing SHA-256 as they are read."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._digest = hashlib.sha256()
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        chunk = self._stream.read(size)
        self._digest.update(chunk)
        self.size += len(chunk)
        return chunk

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()


class ColdStorage(ABC):
    def __init__(self, *, alias: str) -> None:
        self.alias = alias

    @abstractmethod
    def new_archive_id(self, *, key: str) -> str:
        """A fresh id for a copy of ``key``, chosen before anything is written (so that it can be
        recorded first: an interrupted copy is then found and finished or deleted, never orphaned)."""

    @abstractmethod
    def archive(self, stream: BinaryIO, *, key: str, archive_id: str | None = None) -> ColdObject:
        """Copy ``stream`` into cold storage as ``archive_id`` (a new id when None; an existing
        object of that id is replaced); return what was stored."""

    @abstractmethod
    def archive_ids(self) -> Iterator[str]:
        """Every archived object's id (for the orphan sweep)."""

    @abstractmethod
    def stat(self, archive_id: str) -> ColdObject:
        """Size and SHA-256 of an archived object, as stored (raises ArchiveNotFound)."""

    @abstractmethod
    def start_restore(self, archive_id: str, *, tier: str = EXPEDITED) -> RestoreTicket:
        """Ask for a restore; Expedited falls back to Standard when its capacity is short."""

    @abstractmethod
    def restore_status(self, archive_id: str) -> RestoreStatus: ...

    @abstractmethod
    def open_restored(self, archive_id: str) -> AbstractContextManager[BinaryIO]:
        """A readable stream of a restored object (raises RestoreNotReady while cold)."""

    @abstractmethod
    def delete(self, archive_id: str) -> None:
        """Delete the cold copy (no error when it is already gone)."""
