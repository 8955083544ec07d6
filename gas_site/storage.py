"""S3 storage for GAS's files."""

from __future__ import annotations

from typing import Any

from storages.backends.s3 import S3Storage


class GasS3Storage(S3Storage):
    """``.gz`` files are stored as what they are (application/gzip), not as a gzip *encoding*.

    django-storages derives ``ContentEncoding: gzip`` from the name, which makes browsers and
    HTTP clients silently decompress an annotated ``.vcf.gz`` on download.
    """

    def get_object_parameters(self, name: str) -> dict[str, Any]:
        params = super().get_object_parameters(name)
        if name.endswith((".gz", ".bgz")):
            params.setdefault("ContentType", "application/gzip")
        return params
