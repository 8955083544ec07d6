"""Scratch folders of running jobs, and the sweep that removes those of dead workers.

A job's folder is ``<tmp>/gas-job-<pid>-<random>``; while the job runs, its process holds an
exclusive lock on ``.lock`` inside it. The kernel drops the lock when the process dies, however
it dies (``kill -9`` included), so the sweep can tell a live folder from a leftover one.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

logger = logging.getLogger(__name__)

SCRATCH_PREFIX = "gas-job-"
LOCK_NAME = ".lock"
UNLOCKED_GRACE_SECONDS = 300  # a folder whose owner died in the instant before it took the lock


@contextmanager
def scratch_folder() -> Iterator[Path]:
    """A fresh folder for one job, held (locked) by this process and removed afterwards."""
    with tempfile.TemporaryDirectory(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-") as name:
        folder = Path(name)
        fd = os.open(folder / LOCK_NAME, os.O_CREAT | os.O_WRONLY, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield folder
        finally:
            os.close(fd)


def scratch_sweep(*, root: Path | None = None) -> int:
    """Remove scratch folders no live process holds; returns how many."""
    base = root or Path(tempfile.gettempdir())
    removed = 0
    for folder in base.glob(f"{SCRATCH_PREFIX}*"):
        if not folder.is_dir() or _in_use(folder):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed += 1
    if removed:
        logger.info("swept %d scratch folder(s) of stopped workers from %s", removed, base)
    return removed


def _in_use(folder: Path) -> bool:
    try:
        fd = os.open(folder / LOCK_NAME, os.O_RDONLY)
    except FileNotFoundError:
        try:
            return time.time() - folder.stat().st_mtime < UNLOCKED_GRACE_SECONDS
        except FileNotFoundError:
            return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False
