"""Annotation sources: the operator's registry (``manage.py source``, the admin) and the user's
own BED regions, and what a job applies of them.

A registered source is a bgzipped, tabix-indexed VCF or BED for one reference, kept under
GAS_SOURCE_DIR (one folder per version, named by its checksum) and applied as VEP's --custom.
Registration checks the file before anything is recorded: it is indexed (or is indexed now),
its contigs are the reference's (``chr20`` and ``20`` are the same contig), and the fields asked
for are in its header. Each job records the version of every source it applied.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import pysam
from django.conf import settings
from django.core.files import File
from django.core.files.storage import Storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.text import get_valid_filename

from accounts.models import User
from jobs.annotation.custom import CustomSpec, open_source
from jobs.annotation.errors import AnnotationError
from jobs.annotation.reference import Reference, contig_aliases, file_sha256
from jobs.annotation.source_files import BedLimits, file_format, indexed_copy, read_bed, write_indexed_bed
from jobs.models import NAME_LENGTH, AnnotationSource, Job, MatchType, RegionSet, name_problem
from jobs.references import installed_references, load_reference

logger = logging.getLogger(__name__)

REGIONS_SHORT_NAME = "REGIONS"  # the CSQ field of a job's own regions
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,49}$")
_SHORT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,49}$")


class SourceError(Exception):
    """A source that cannot be registered or applied, in words for the operator or the user."""


def source_dir() -> Path:
    return Path(settings.GAS_SOURCE_DIR)


def _inputs() -> Storage:
    """The inputs storage, where users' region files are kept beside their uploads."""
    from jobs.services import inputs_storage  # (here: jobs.services imports this module)

    return inputs_storage()


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
    if clash.exists():
        raise SourceError(
            f"short name {short_name!r} is already used by source {clash.first().name!r} on {reference_name}"
        )
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
    building: Path | None = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=root))
    try:
        try:
            kept = indexed_copy(path, building, kind)
            opened = open_source(CustomSpec(str(kept), short_name, tuple(fields), kind, match_type))
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
            shutil.rmtree(building)
            building = None
        else:
            shutil.rmtree(final, ignore_errors=True)
            final.parent.mkdir(parents=True, exist_ok=True)
            building.rename(final)
            building = final
        with transaction.atomic():
            values: dict[str, Any] = {
                "reference_name": reference.name, "format": kind, "match_type": match_type,
                "short_name": short_name, "fields": list(fields), "field_types": field_types,
                "default": default, "description": description, "file_name": path.name,
                "path": str((final / kept.name).relative_to(root)), "sha256": sha256,
                "size": (final / kept.name).stat().st_size, "contigs": contigs, "registered_at": timezone.now(),
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
    return [_spec(by_name[name]) for name in chosen]


def _spec(source: AnnotationSource) -> CustomSpec:
    path = source_dir() / source.path
    if not path.is_file():
        raise RuntimeError(f"source {source.name}: {path} is missing here (copy GAS_SOURCE_DIR to every worker)")
    return CustomSpec(str(path), source.short_name, tuple(source.fields), source.format, source.match_type)


# -- the user's regions ---------------------------------------------------------------------
def region_set_create(*, owner: User, upload: UploadedFile | IO[bytes], name: str, file_name: str) -> RegionSet:
    """Check a BED upload line by line and keep it for ``owner``'s jobs."""
    if problem := name_problem(name, what="The region file's name"):
        raise SourceError(problem)
    file_name = get_valid_filename(os.path.basename(file_name.replace("\\", "/"))) or "regions.bed"
    size = getattr(upload, "size", None)
    if size is not None and size > settings.GAS_MAX_REGIONS_BYTES:
        raise SourceError(
            f"{file_name} is {size:,} bytes; a region file may be up to {settings.GAS_MAX_REGIONS_BYTES:,} bytes"
        )
    handle = getattr(upload, "file", upload)
    handle.seek(0)
    known = _known_contig_lengths()
    try:
        regions = read_bed(handle, name=file_name, limits=bed_limits(contig_lengths=known))
    except AnnotationError as exc:
        raise SourceError(str(exc)) from exc
    contigs = sorted({region.contig for region in regions})
    if not any(contig in known for contig in contigs):
        raise SourceError(
            f"{file_name}: none of its contigs ({', '.join(contigs[:8])}) is in an installed reference "
            f"(they have {', '.join(sorted(known)[:8])}…)"
        )
    handle.seek(0)
    digest = hashlib.sha256(handle.read()).hexdigest()
    handle.seek(0)
    key = _inputs().save(f"{owner.pk}/regions/{digest[:16]}.bed", File(handle, name="regions.bed"))
    return RegionSet.objects.create(
        owner=owner, name=(name.strip() or file_name)[:NAME_LENGTH], file_key=key, file_name=file_name[:255],
        size=size if size is not None else 0, regions=len(regions), contigs=contigs, sha256=digest,
    )  # fmt: skip


def bed_limits(*, contig_lengths: dict[str, int] | None = None) -> BedLimits:
    """What a user's region file may hold (GAS_MAX_REGIONS*), its ends checked against
    ``contig_lengths`` (any name of a contig -> its length) where given."""
    return BedLimits(
        regions=settings.GAS_MAX_REGIONS, lines=settings.GAS_MAX_REGIONS_LINES,
        decompressed_bytes=settings.GAS_MAX_REGIONS_DECOMPRESSED_BYTES,
        line_bytes=settings.GAS_MAX_REGIONS_LINE_BYTES, name_chars=settings.GAS_MAX_REGION_NAME,
        per_position=settings.GAS_MAX_REGIONS_PER_POSITION, contig_lengths=contig_lengths or {},
    )  # fmt: skip


def _known_contig_lengths() -> dict[str, int]:
    """Every name of every installed reference's contigs -> the longest of its lengths (a region
    set serves jobs on any of them)."""
    lengths: dict[str, int] = {}
    for bundle in installed_references():
        for contig, length in bundle.get("contigs", {}).items():
            for alias in contig_aliases(contig):
                lengths[alias] = max(lengths.get(alias, 0), int(length))
    return lengths


def region_set_delete(*, owner: User, region_set_id: int) -> bool:
    region_set = RegionSet.objects.filter(owner=owner, id=region_set_id).first()
    if region_set is None:
        return False
    region_set.delete()
    if not RegionSet.objects.filter(file_key=region_set.file_key).exists():
        _inputs().delete(region_set.file_key)
    return True


# -- applying them to a job -----------------------------------------------------------------
def job_source_specs(
    *, job: Job, scratch: Path, reference: Reference
) -> tuple[list[CustomSpec], list[dict[str, Any]], list[str]]:
    """The specs a job runs with, their provenance, and warnings for any source gone since the
    job was submitted. A registered source whose file is missing on this worker is an error of
    the installation, not of the job: it raises, and the job is retried (on another worker)."""
    specs: list[CustomSpec] = []
    provenance: list[dict[str, Any]] = []
    warnings: list[str] = []
    registered = {source.name: source for source in AnnotationSource.objects.filter(name__in=job.source_names)}
    for name in job.source_names:
        source = registered.get(name)
        if source is None:
            warnings.append(f"the annotation source {name} was removed after the job was submitted and was not applied")
            continue
        specs.append(_spec(source))
        provenance.append({
            "name": source.name, "short_name": source.short_name, "type": source.match_type,
            "format": source.format, "fields": list(source.fields), "file": source.file_name,
            "sha256": source.sha256, "registered_at": source.registered_at.isoformat(),
        })  # fmt: skip
    if job.region_set_id is not None:
        region_set = RegionSet.objects.filter(id=job.region_set_id).first()
        if region_set is None:
            warnings.append("your region file was deleted after the job was submitted and was not applied")
        else:
            specs.append(_regions_spec(region_set, scratch, reference))
            provenance.append({
                "name": region_set.name, "short_name": REGIONS_SHORT_NAME, "type": "overlap", "format": "bed",
                "fields": [], "file": region_set.file_name, "sha256": region_set.sha256,
                "registered_at": region_set.uploaded_at.isoformat(), "user_regions": True,
            })  # fmt: skip
    return specs, provenance, warnings


def _regions_spec(region_set: RegionSet, scratch: Path, reference: Reference) -> CustomSpec:
    """The user's regions as an indexed BED in ``scratch``, on the reference's contig names (a file
    may mix ``chr20`` and ``20``); regions on contigs the reference lacks cannot meet a variant."""
    with _inputs().open(region_set.file_key, "rb") as handle:
        regions = read_bed(handle, name=region_set.file_name, limits=bed_limits())
    named = []
    for region in regions:
        contig = reference.resolve_contig(region.contig)
        length = reference.contig_lengths.get(contig or "", 0)
        if contig is not None and region.start < length:  # (a set checked against a longer build's contig)
            named.append(region._replace(contig=contig, end=min(region.end, length)))
    path = write_indexed_bed(named, scratch / "regions.bed")
    return CustomSpec(str(path), REGIONS_SHORT_NAME, (), "bed", "overlap")
