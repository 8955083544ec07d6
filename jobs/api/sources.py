"""The registered annotation sources a job can apply."""

from __future__ import annotations

from ninja import Router, Schema

from jobs.api.common import PAGE_DOC, ApiRequest, Page, errors, page
from jobs.models import AnnotationSource

router = Router()


class SourceOut(Schema):
    name: str
    reference: str
    short_name: str
    format: str
    match_type: str
    fields: list[str]
    default: bool
    description: str
    version: str


@router.get(
    "/sources", response={200: Page[SourceOut], **errors(401, 429)}, summary="Annotation sources you can apply",
    description="All of them in one page (`next_cursor` is null)." + PAGE_DOC,
)  # fmt: skip
def list_sources(request: ApiRequest, reference: str = "") -> dict:
    found = AnnotationSource.objects.all()
    if reference:
        found = found.filter(reference_name=reference)
    items = [
        {
            "name": source.name,
            "reference": source.reference_name,
            "short_name": source.short_name,
            "format": source.format,
            "match_type": source.match_type,
            "fields": source.fields,
            "default": source.default,
            "description": source.description,
            "version": source.version,
        }
        for source in found
    ]
    return page(items, count=len(items))
