"""What a job hands the engine of its sources: the registered sources it chose, as found at run time,
and its own region file prepared in its scratch folder (each recorded with its version)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from jobs.annotation.custom import CustomSpec
from jobs.annotation.reference import Reference
from jobs.annotation.source_files import read_bed, write_indexed_bed
from jobs.models import AnnotationSource, Job, RegionSet
from jobs.sources.regions import bed_limits
from jobs.sources.registry import REGIONS_SHORT_NAME, source_spec
from jobs.storage import inputs_storage

logger = logging.getLogger(__name__)



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
        specs.append(source_spec(source))
        provenance.append({
            "name": source.name, "short_name": source.short_name, "type": source.match_type,
            "format": source.format, "fields": list(source.fields), "field_types": source.field_types,
            "file": source.file_name,
            "sha256": source.sha256, "registered_at": source.registered_at.isoformat(),
            "release": source.release, "licence": source.licence,
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
    with inputs_storage().open(region_set.file_key, "rb") as handle:
        regions = read_bed(handle, name=region_set.file_name, limits=bed_limits())
    named = []
    for region in regions:
        contig = reference.resolve_contig(region.contig)
        length = reference.contig_lengths.get(contig or "", 0)
        if contig is not None and region.start < length:  # (a set checked against a longer build's contig)
            named.append(region._replace(contig=contig, end=min(region.end, length)))
    path = write_indexed_bed(named, scratch / "regions.bed")
    return CustomSpec(str(path), REGIONS_SHORT_NAME, (), "bed", "overlap", f"your regions: {region_set.file_name}")
