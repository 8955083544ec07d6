"""Your own region files (BED), reported in a job's CSQ field REGIONS."""

from __future__ import annotations

from datetime import datetime

from ninja import File, Form, Router, Schema, Status
from ninja.files import UploadedFile

from gas_site.errors import NotFound
from jobs.api.common import PAGE_DOC, ApiRequest, Page, errors, page
from jobs.models import RegionSet
from jobs.sources import regions

router = Router()


class RegionSetOut(Schema):
    id: int
    name: str
    file_name: str
    regions: int
    contigs: list[str]
    uploaded_at: datetime


def _region_out(region_set: RegionSet) -> dict:
    return {
        "id": region_set.id, "name": region_set.name, "file_name": region_set.file_name,
        "regions": region_set.regions, "contigs": region_set.contigs, "uploaded_at": region_set.uploaded_at,
    }  # fmt: skip


@router.get(
    "/regions", response={200: Page[RegionSetOut], **errors(401, 429)}, summary="Your region files",
    description="All of them in one page (`next_cursor` is null)." + PAGE_DOC,
)  # fmt: skip
def list_regions(request: ApiRequest) -> dict:
    items = [_region_out(region_set) for region_set in RegionSet.objects.filter(owner=request.auth)]
    return page(items, count=len(items))


@router.post(
    "/regions", response={201: RegionSetOut, **errors(400, 401, 413, 422, 429)}, summary="Upload a BED region file"
)
def create_regions(request: ApiRequest, file: File[UploadedFile], name: Form[str] = "") -> Status:
    region_set = regions.region_set_create(
        owner=request.auth, upload=file, name=name, file_name=file.name or "regions.bed"
    )
    return Status(201, _region_out(region_set))


@router.delete("/regions/{region_set_id}", response={204: None, **errors(401, 404)}, summary="Delete a region file")
def delete_regions(request: ApiRequest, region_set_id: int) -> Status:
    if not regions.region_set_delete(owner=request.auth, region_set_id=region_set_id):
        raise NotFound(f"You have no region file {region_set_id}.")
    return Status(204, None)
