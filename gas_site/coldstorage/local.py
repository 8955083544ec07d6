"""Cold storage in a local directory, for the embedded default.

Each archive is a file plus a JSON sidecar holding its size, SHA-256 and restore state.
A restore becomes ready ``thaw_seconds`` after it was asked for (``standard_thaw_seconds``
for the Standard tier), so the restore and thaw workers really wait, as on S3 Glacier.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from django.utils import timezone

from gas_site.coldstorage.base import (
    COPY_CHUNK_BYTES,
    EXPEDITED,
    STANDARD,
    TIERS,
    ArchiveNotFound,
    ColdObject,
    ColdStorage,
    HashingReader,
    RestoreNotReady,
    RestoreState,
    RestoreStatus,
    RestoreTicket,
)


class LocalColdStorage(ColdStorage):
    def __init__(
        self,
        *,
        location: str,
        thaw_seconds: int = 60,
        standard_thaw_seconds: int | None = None,
        expedited_available: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.location = Path(location)
        self.thaw_seconds = thaw_seconds
        self.standard_thaw_seconds = thaw_seconds if standard_thaw_seconds is None else standard_thaw_seconds
        self.expedited_available = expedited_available

    def _paths(self, archive_id: str) -> tuple[Path, Path]:
        if not archive_id or not all(c in "0123456789abcdef" for c in archive_id):
            raise ArchiveNotFound(f"not a local archive id: {archive_id!r}")
        return self.location / archive_id, self.location / f"{archive_id}.json"

    def _read_meta(self, archive_id: str) -> dict[str, Any]:
        _, meta_path = self._paths(archive_id)
        try:
            return json.loads(meta_path.read_text())
        except FileNotFoundError:
            raise ArchiveNotFound(f"no archive {archive_id} in {self.location}") from None

    def _write_meta(self, archive_id: str, meta: dict[str, Any]) -> None:
        _, meta_path = self._paths(archive_id)
        tmp = meta_path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(meta))
        os.replace(tmp, meta_path)

    def new_archive_id(self, *, key: str) -> str:
        return uuid.uuid4().hex

    def archive_ids(self) -> Iterator[str]:
        if not self.location.is_dir():
            return
        for path in self.location.iterdir():
            name = path.name
            if not name.startswith(".") and "." not in name:
                yield name

    def archive(self, stream: BinaryIO, *, key: str, archive_id: str | None = None) -> ColdObject:
        self.location.mkdir(parents=True, exist_ok=True)
        archive_id = archive_id or self.new_archive_id(key=key)
        data_path, _ = self._paths(archive_id)
        reader = HashingReader(stream)
        with tempfile.NamedTemporaryFile(dir=self.location, prefix=".incoming-", delete=False) as tmp:
            shutil.copyfileobj(reader, tmp, COPY_CHUNK_BYTES)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp.name, data_path)
        self._write_meta(
            archive_id,
            {"key": key, "size": reader.size, "sha256": reader.sha256, "archived_at": timezone.now().isoformat()},
        )
        return ColdObject(archive_id=archive_id, size=reader.size, sha256=reader.sha256)

    def stat(self, archive_id: str) -> ColdObject:
        meta = self._read_meta(archive_id)
        return ColdObject(archive_id=archive_id, size=meta["size"], sha256=meta["sha256"])

    def start_restore(self, archive_id: str, *, tier: str = EXPEDITED) -> RestoreTicket:
        if tier not in TIERS:
            raise ValueError(f"unknown restore tier {tier!r}; expected one of {', '.join(TIERS)}")
        meta = self._read_meta(archive_id)
        existing = meta.get("restore")
        if existing:  # like S3: a second request while one is pending changes nothing
            return RestoreTicket(tier=existing["tier"], expected_ready_at=datetime.fromisoformat(existing["ready_at"]))
        if tier == EXPEDITED and not self.expedited_available:
            tier = STANDARD
        seconds = self.thaw_seconds if tier == EXPEDITED else self.standard_thaw_seconds
        now = timezone.now()
        ready_at = now + timedelta(seconds=seconds)
        meta["restore"] = {"tier": tier, "requested_at": now.isoformat(), "ready_at": ready_at.isoformat()}
        self._write_meta(archive_id, meta)
        return RestoreTicket(tier=tier, expected_ready_at=ready_at)

    def restore_status(self, archive_id: str) -> RestoreStatus:
        restore = self._read_meta(archive_id).get("restore")
        if not restore:
            return RestoreStatus(state=RestoreState.NOT_REQUESTED)
        ready_at = datetime.fromisoformat(restore["ready_at"])
        state = RestoreState.READY if timezone.now() >= ready_at else RestoreState.IN_PROGRESS
        return RestoreStatus(state=state, ready_at=ready_at)

    @contextmanager
    def open_restored(self, archive_id: str) -> Iterator[BinaryIO]:
        status = self.restore_status(archive_id)
        if status.state is not RestoreState.READY:
            raise RestoreNotReady(f"archive {archive_id} is {status.state.value.replace('_', ' ')}")
        data_path, _ = self._paths(archive_id)
        with open(data_path, "rb") as handle:
            yield handle

    def delete(self, archive_id: str) -> None:
        for path in self._paths(archive_id):
            path.unlink(missing_ok=True)
