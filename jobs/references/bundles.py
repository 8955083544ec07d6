"""Where reference bundles live for this installation, loading them (a bounded, least recently
used set per process), and choosing the one a VCF is for."""

from __future__ import annotations

import json
import shutil
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from django.conf import settings

from jobs.annotation.errors import ReferenceError_
from jobs.annotation.reference import ImportReport, Reference, import_reference, list_references


def reference_dir() -> Path:
    return Path(settings.GAS_REFERENCE_DIR)


def installed_references() -> list[dict]:
    return list_references(reference_dir())


_loaded: OrderedDict[tuple[str, str], Reference] = OrderedDict()
_loaded_lock = threading.Lock()


def _load(path: str, manifest_mtime: str) -> Reference:
    """The bundle at ``path``, kept among the GAS_LOADED_REFERENCES most recently used (a worker
    annotating jobs on several references holds a few, not all). The manifest's mtime is part of
    the key: a bundle imported again is loaded again."""
    key = (path, manifest_mtime)
    with _loaded_lock:
        reference = _loaded.pop(key, None)
        if reference is None:
            reference = Reference(path, max_transcripts=settings.GAS_LOADED_TRANSCRIPTS)
        _loaded[key] = reference
        while len(_loaded) > settings.GAS_LOADED_REFERENCES:
            _loaded.popitem(last=False)
        return reference


def _bundle_folder(name: str) -> Path | None:
    """The folder of the installed bundle ``name``, or None (a name is a folder of the references
    directory, never a path)."""
    path = reference_dir() / name
    if "/" in name or "\\" in name or name.startswith(".") or "\0" in name or not (path / "manifest.json").is_file():
        return None
    return path


def _installed_names() -> str:
    return ", ".join(bundle["name"] for bundle in installed_references()) or "none"


def load_reference(name: str | None = None) -> Reference:
    name = name or settings.GAS_DEFAULT_REFERENCE
    path = _bundle_folder(name)
    if path is None:  # (no server path in the message)
        raise ReferenceError_(f"reference {name[:60]!r} is not installed (installed: {_installed_names()})")
    return _load(str(path), str((path / "manifest.json").stat().st_mtime_ns))


def source_label(manifest: dict[str, Any]) -> str:
    """Who made a bundle's gene model and its release ("Ensembl 115"), or "" when not recorded."""
    return " ".join(part for part in (manifest.get("provider", ""), manifest.get("release", "")) if part)


def reference_summary(name: str) -> dict[str, Any] | None:
    """The installed bundle ``name``'s build, provider and release, for a job's page."""
    manifest = reference_dir() / name / "manifest.json"
    try:
        return json.loads(manifest.read_text())
    except (OSError, ValueError):
        return None


def reference_choices() -> list[tuple[str, str]]:
    """The upload form's choices: detection first, then each installed bundle."""
    choices = [("", "detect from the file's header (##contig lengths, ##reference)")]
    for bundle in installed_references():
        source = source_label(bundle)
        choices.append((bundle["name"], f"{bundle['name']} ({bundle['build']}{', ' + source if source else ''})"))
    return choices


def reference_summaries() -> list[dict[str, str]]:
    """What each installed reference covers, in words for the upload page."""
    found = []
    for bundle in installed_references():
        contigs = bundle.get("annotated_contigs", [])
        shown = ", ".join(contigs[:25]) + (f" and {len(contigs) - 25} more" if len(contigs) > 25 else "")
        noun = "chromosome" if len(contigs) == 1 else "chromosomes and contigs"
        covered = f"{noun} {shown}" if shown else "none"
        found.append({"name": bundle["name"], "build": bundle["build"], "contigs": covered})
    return found


def reference_import(
    *, name: str, build: str, gene_model: Path, fasta: Path, dbsnp: Path | None = None,
    assembly_report: Path | None = None, source_name: str | None = None, release: str = "", provider: str = "",
) -> ImportReport:
    """Build the bundle ``name`` from files at hand into the references directory (replacing one of
    that name only when the new one is complete)."""
    return import_reference(
        name=name, build=build, gene_model=gene_model, fasta=fasta, dbsnp=dbsnp, destination=reference_dir() / name,
        source_name=source_name, assembly_report=assembly_report, release=release, provider=provider,
    )  # fmt: skip


def reference_remove(*, name: str) -> None:
    """Delete the installed bundle ``name`` (ReferenceError_ when there is none of that name)."""
    path = _bundle_folder(name)
    if path is None:
        raise ReferenceError_(f"no reference {name[:60]!r} is installed (installed: {_installed_names()})")
    shutil.rmtree(path)


def bundle_disk_size(name: str) -> int:
    """Bytes on disk of the installed bundle ``name``."""
    return sum(item.stat().st_size for item in (reference_dir() / name).rglob("*") if item.is_file())
