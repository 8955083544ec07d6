"""Your own region files (BED), reported in a job's CSQ field REGIONS."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from ninja import File, Form, Router, Schema, Status
from ninja.errors import HttpError
from ninja.files import UploadedFile

from jobs.api.common import ErrorOut
from jobs.models import RegionSet
from jobs.sources import regions, registry

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


@router.get("/regions", response=list[RegionSetOut], summary="Your region files")
def list_regions(request: HttpRequest):
    return [_region_out(region_set) for region_set in RegionSet.objects.filter(owner=request.auth)]


@router.post("/regions", response={201: RegionSetOut, 400: ErrorOut, 429: ErrorOut}, summary="Upload a BED region file")
def create_regions(request: HttpRequest, file: File[UploadedFile], name: Form[str] = ""):
    try:
        region_set = regions.region_set_create(
            owner=request.auth, upload=file, name=name, file_name=file.name or "regions.bed"
        )
    except registry.SourceError as exc:
        return Status(400, {"detail": str(exc)})
    return Status(201, _region_out(region_set))


@router.delete("/regions/{region_set_id}", response={204: None, 404: ErrorOut}, summary="Delete a region file")
def delete_regions(request: HttpRequest, region_set_id: int):
    if not regions.region_set_delete(owner=request.auth, region_set_id=region_set_id):
        raise HttpError(404, "Not found.")
    return Status(204, None)
