"""The operator's registry of annotation sources (``manage.py source``, the admin).

A registered source is a bgzipped, tabix-indexed VCF or BED for one reference, kept under
GAS_SOURCE_DIR (one folder per version, named by its checksum) and applied as VEP's --custom.
Registration checks the file before anything is recorded: it is indexed (or is indexed now),
its contigs are the reference's (``chr20`` and ``20`` are the same contig), and the fields asked
for are in its header. Each job records the version of every source it applied.
"""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pysam
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from gas_site.errors import ServiceError
from jobs.annotation.custom import CustomSpec, open_source, prepare_source, prepared_path
from jobs.annotation.errors import AnnotationError
from jobs.annotation.reference import Reference, file_sha256
from jobs.annotation.source_files import file_format, indexed_copy
from jobs.models import AnnotationSource, MatchType
from jobs.references.bundles import load_reference

logger = logging.getLogger(__name__)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,49}$")
_SHORT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,49}$")
REGIONS_SHORT_NAME = "REGIONS"  # the CSQ field of a job's own regions (reserved)


class SourceError(ServiceError):
    """A source that cannot be registered or applied, in words for the operator or the user."""

    code = "invalid_source"


def source_dir() -> Path:
    return Path(settings.GAS_SOURCE_DIR)


# -- the registry ---------------------------------------------------------------------------
def source_register(
    *,
    name: str,
    reference_name: str,
    path: Path,
    match_type: str,
    fields: Sequence[str] = (),
    short_name: str = "",
    default: bool = False,
    description: str = "",
    replace: bool = False,
    licence: str = "",
    release: str = "",
) -> AnnotationSource:
    """Check ``path`` and register it as source ``name`` of ``reference_name`` (a new version when
    ``replace``). Nothing is recorded or kept unless every check passes."""
    if not _NAME.match(name):
        raise SourceError(
            f"source name {name!r}: use letters, digits, - and _ (up to 50, starting with a letter or digit)"
        )
    short_name = short_name or name
    if not _SHORT_NAME.match(short_name):
        raise SourceError(
            f"short name {short_name!r}: it names CSQ fields, so use letters, digits, _ . - (starting with a letter)"
        )
    if short_name.upper() == REGIONS_SHORT_NAME:
        raise SourceError(f"short name {short_name!r} is reserved for the users' own regions")
    existing = AnnotationSource.objects.filter(name=name).first()
    if existing is not None and not replace:
        raise SourceError(
            f"source {name!r} is already registered ({existing.version}); use --replace for a new version"
        )
    clash = AnnotationSource.objects.filter(reference_name=reference_name, short_name=short_name).exclude(name=name)
    taken = clash.first()
    if taken is not None:
        raise SourceError(f"short name {short_name!r} is already used by source {taken.name!r} on {reference_name}")
    if match_type not in MatchType.values:
        raise SourceError(f"match type {match_type!r}: expected exact or overlap")
    path = Path(path)
    if not path.is_file():
        raise SourceError(f"{path}: no such file")
    try:
        reference = load_reference(reference_name)
        kind = file_format(path.name)
        CustomSpec(str(path), short_name, tuple(fields), kind, match_type)  # (format, type and fields agree)
    except AnnotationError as exc:
        raise SourceError(str(exc)) from exc
    root = source_dir()
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=root))
    building: Path | None = staging
    try:
        try:
            kept = indexed_copy(path, staging, kind)
            spec = CustomSpec(str(kept), short_name, tuple(fields), kind, match_type)
            opened = open_source(spec)
            if kind == "vcf" and match_type == "exact":  # (what jobs read: each allele's values ready)
                prepare_source(spec)
        except AnnotationError as exc:  # (the index does not open, or a field is not in the header)
            raise SourceError(str(exc)) from exc
        contigs = _matched_contigs(kept, reference, path.name)
        declared = opened.declared
        field_types = {
            field: {"number": declared[field][0], "type": declared[field][1], "description": declared[field][2]}
            for field in fields
        }
        sha256 = file_sha256(kept)
        final = root / name / sha256[:16]
        if (final / kept.name).is_file():  # (the same file again: its kept copy stays as it is)
            shutil.rmtree(staging)
            building = None
        else:
            shutil.rmtree(final, ignore_errors=True)
            final.parent.mkdir(parents=True, exist_ok=True)
            staging.rename(final)
            building = final
        with transaction.atomic():
            values: dict[str, Any] = {
                "reference_name": reference.name, "format": kind, "match_type": match_type,
                "short_name": short_name, "fields": list(fields), "field_types": field_types,
                "default": default, "description": description, "file_name": path.name,
                "path": str((final / kept.name).relative_to(root)), "sha256": sha256,
                "size": (final / kept.name).stat().st_size, "contigs": contigs, "registered_at": timezone.now(),
                "licence": licence, "release": release,
            }  # fmt: skip
            source, _created = AnnotationSource.objects.update_or_create(name=name, defaults=values)
    except BaseException:
        if building is not None:  # (what this call made, never a version already kept)
            shutil.rmtree(building, ignore_errors=True)
        raise
    if existing is not None and existing.path != source.path:
        shutil.rmtree(root / Path(existing.path).parent, ignore_errors=True)
    logger.info("source %s registered for %s: %s (%s)", name, reference.name, path.name, sha256[:12])
    return source


def _matched_contigs(path: Path, reference: Reference, label: str) -> list[str]:
    """The source's contigs the reference has; none at all is refused, naming both sides."""
    names = list(pysam.TabixFile(str(path)).contigs)
    matched = [name for name in names if reference.resolve_contig(name) is not None]
    if not matched:
        shown = ", ".join(names[:8]) + ("…" if len(names) > 8 else "") or "none"
        theirs = ", ".join(list(reference.contig_lengths)[:8])
        raise SourceError(
            f"{label}: none of its contigs ({shown}) is in reference {reference.name} ({reference.build}: {theirs}…); "
            "is it for another genome build?"
        )
    return matched


def source_remove(*, name: str) -> None:
    source = AnnotationSource.objects.filter(name=name).first()
    if source is None:
        raise SourceError(f"no source {name!r} is registered")
    source.delete()
    shutil.rmtree(source_dir() / name, ignore_errors=True)
    logger.info("source %s removed", name)


def sources_for(*, reference_name: str) -> list[AnnotationSource]:
    return list(AnnotationSource.objects.filter(reference_name=reference_name))


def chosen_source_names(*, reference_name: str, names: Sequence[str] | None) -> list[str]:
    """The sources a job applies: ``names`` (each registered for this reference), or the
    operator's defaults for the reference when the user did not say."""
    available = {source.name: source for source in sources_for(reference_name=reference_name)}
    if names is None:
        return [name for name, source in available.items() if source.default]
    unknown = [name for name in names if name not in available]
    if unknown:
        offered = ", ".join(available) or "none"
        raise SourceError(
            f"unknown annotation source {', '.join(unknown)} for reference {reference_name} (available: {offered})"
        )
    return list(dict.fromkeys(names))


def registered_specs(*, reference_name: str, names: Sequence[str]) -> list[CustomSpec]:
    """The specs of registered sources ``names`` (for ``manage.py annotate --source``)."""
    chosen = chosen_source_names(reference_name=reference_name, names=names)
    by_name = {source.name: source for source in AnnotationSource.objects.filter(name__in=chosen)}
    return [source_spec(by_name[name]) for name in chosen]


def source_prepare(*, name: str | None = None) -> list[AnnotationSource]:
    """Write the prepared form of exact VCF sources registered before registration made one (the
    same values, read faster by jobs); those that have one are left as they are."""
    done = []
    for source in AnnotationSource.objects.filter(format="vcf", match_type="exact"):
        if name and source.name != name:
            continue
        spec = source_spec(source)
        if not prepared_path(spec).is_file():
            try:
                prepare_source(spec)
            except (AnnotationError, OSError, ValueError) as exc:
                raise SourceError(f"source {source.name}: cannot be prepared ({exc})") from exc
            done.append(source)
    return done


def source_spec(source: AnnotationSource) -> CustomSpec:
    path = source_dir() / source.path
    if not path.is_file():
        raise RuntimeError(f"source {source.name}: {path} is missing here (copy GAS_SOURCE_DIR to every worker)")
    shown = f"{source.name}: {source.file_name}" + (f", {source.release}" if source.release else "")
    return CustomSpec(str(path), source.short_name, tuple(source.fields), source.format, source.match_type, shown)
