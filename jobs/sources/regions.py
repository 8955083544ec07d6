"""Users' own region files (BED): checked within limits after decompression, against the installed
references' contigs and lengths, stored beside their uploads; reported in a job's CSQ as REGIONS."""

from __future__ import annotations

import hashlib
import logging
import os
from typing import IO

from django.conf import settings
from django.core.files import File
from django.core.files.uploadedfile import UploadedFile
from django.utils.text import get_valid_filename

from accounts.models import User
from jobs.annotation.errors import AnnotationError
from jobs.annotation.reference import contig_aliases
from jobs.annotation.source_files import BedLimits, read_bed
from jobs.models import NAME_LENGTH, RegionSet, name_problem
from jobs.references.bundles import installed_references
from jobs.sources.registry import SourceError
from jobs.storage import inputs_storage

logger = logging.getLogger(__name__)


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
    key = inputs_storage().save(f"{owner.pk}/regions/{digest[:16]}.bed", File(handle, name="regions.bed"))
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
        inputs_storage().delete(region_set.file_key)
    return True
