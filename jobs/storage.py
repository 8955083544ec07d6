"""The two file stores a job uses: its uploaded input, and its results (the annotated VCF, the log,
the summary, the variant table). Below every user of them; settings.STORAGES picks the backend."""

from __future__ import annotations

import logging

from django.core.files.storage import Storage, storages

logger = logging.getLogger(__name__)


def inputs_storage() -> Storage:
    return storages["inputs"]


def results_storage() -> Storage:
    return storages["results"]
