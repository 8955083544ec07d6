"""Where reference bundles live for this installation, and loading them (cached per process)."""

from __future__ import annotations

import functools
from pathlib import Path

from django.conf import settings

from jobs.annotation.errors import ReferenceError_
from jobs.annotation.reference import Reference, list_references


def reference_dir() -> Path:
    return Path(settings.GAS_REFERENCE_DIR)


def installed_references() -> list[dict]:
    return list_references(reference_dir())


@functools.lru_cache(maxsize=8)
def _load(path: str, manifest_mtime: str) -> Reference:
    """(The manifest's mtime is part of the cache key: a bundle imported again is loaded again.)"""
    return Reference(path)


def load_reference(name: str | None = None) -> Reference:
    name = name or settings.GAS_DEFAULT_REFERENCE
    path = reference_dir() / name
    manifest = path / "manifest.json"
    if not manifest.is_file():
        known = ", ".join(bundle["name"] for bundle in installed_references()) or "none"
        raise ReferenceError_(f"reference {name!r} is not installed in {reference_dir()} (installed: {known})")
    return _load(str(path), str(manifest.stat().st_mtime_ns))
