"""The registered annotation sources a job can apply."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Schema

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


@router.get("/sources", response=list[SourceOut], summary="Annotation sources you can apply")
def list_sources(request: HttpRequest, reference: str = ""):
    found = AnnotationSource.objects.all()
    if reference:
        found = found.filter(reference_name=reference)
    return [
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
