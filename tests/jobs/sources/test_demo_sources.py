"""Issue 30: the demo's sources (``manage.py source demo``, what ``make run`` registers): the demo file
gets ClinVar- and gnomAD-format values (SYNTHETIC, and said so), typed and filterable; every count
checked against the committed source files read independently."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from jobs.models import AnnotationSource, Job, JobStatus
from tests.helpers import api_client

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("job_settings")]

ROOT = Path(__file__).resolve().parents[3]
DEMO = ROOT / "reference" / "demo"
DEMO_VCF = ROOT / "tests" / "data" / "synthetic_chr20_10k.vcf.gz"


def _info(path: Path) -> dict[tuple[int, str, str], dict[str, str]]:
    with gzip.open(path, "rt") as lines:
        rows = [line.rstrip("\n").split("\t") for line in lines if not line.startswith("#")]
    return {(int(row[1]), row[3], row[4]): dict(item.split("=", 1) for item in row[7].split(";")) for row in rows}


def test_the_demo_file_gets_synthetic_values_that_filter(signed_in_client, drain, django_capture_on_commit_callbacks):
    call_command("source", "demo", stdout=io.StringIO())
    call_command("source", "demo", stdout=io.StringIO())  # (again: nothing new)
    sources = {source.name: source for source in AnnotationSource.objects.all()}
    assert sorted(sources) == ["clinvar_demo", "dbsnp_common", "gnomad_demo"]
    assert all(source.default for source in sources.values())
    assert "SYNTHETIC" in sources["clinvar_demo"].description and "SYNTHETIC" in sources["gnomad_demo"].licence
    assert sources["gnomad_demo"].field_types["AF"]["type"] == "Float"
    form = signed_in_client.get(reverse("annotate")).content.decode()
    assert "SYNTHETIC demo values, not clinical data" in form
    with django_capture_on_commit_callbacks(execute=True):
        upload = SimpleUploadedFile(DEMO_VCF.name, DEMO_VCF.read_bytes())
        signed_in_client.post(reverse("annotate"), {"file": upload, "sources": sorted(sources)})
    drain("run_annotator")
    job = Job.objects.get()
    assert job.status == JobStatus.COMPLETED, job.error_message
    assert {entry["name"] for entry in job.sources} == set(sources)
    matched = {entry["name"]: entry["alleles_matched"] for entry in job.sources}
    assert matched["clinvar_demo"] == 600 and matched["gnomad_demo"] == 6000  # (every line is a demo allele;
    # gnomAD's lines have no ID: a match is its values, not an ID)
    clinvar, gnomad = _info(DEMO / sources["clinvar_demo"].file_name), _info(DEMO / sources["gnomad_demo"].file_name)
    with gzip.open(DEMO_VCF, "rt") as lines:
        demo = [(int(r[1]), r[3], r[4]) for r in (line.split("\t") for line in lines if not line.startswith("#"))]
    api = api_client(signed_in_client)

    def count(*where: str) -> int:
        answer = api.get(f"/api/v1/jobs/{job.id}/variants", {"where": list(where), "limit": 1})
        assert answer.status_code == 200, answer.content
        return answer.json()["count"]

    pathogenic = sum(clinvar.get(key, {}).get("CLNSIG") == "Pathogenic" for key in demo)
    rare = sum(key not in gnomad or float(gnomad[key]["AF"]) < 0.001 for key in demo)
    both = sum(clinvar.get(key, {}).get("CLNSIG") == "Pathogenic" and (key not in gnomad or float(gnomad[key]["AF"])
               < 0.001) for key in demo)  # fmt: skip
    assert len(demo) == 10_000 and pathogenic > 20 and 0 < both < pathogenic < rare < len(demo)
    assert count("ClinVar_CLNSIG=Pathogenic") == pathogenic
    assert count("gnomADe_AF<0.001|missing") == rare
    assert count("gnomADe_AF<0.001|missing", "ClinVar_CLNSIG=Pathogenic") == both
    assert count("gnomADe_AF<0.001") == rare - sum(key not in gnomad for key in demo)  # (without |missing)
    first = next(key for key in demo if key in clinvar and key in gnomad)
    row = api.get(f"/api/v1/jobs/{job.id}/variants", {"region": f"20:{first[0]}-{first[0]}"}).json()["items"][0]
    assert row["entries"][0]["ClinVar_CLNSIG"] == clinvar[first]["CLNSIG"]
    assert float(row["entries"][0]["gnomADe_AF"]) == float(gnomad[first]["AF"])
    page = signed_in_client.get(reverse("job_detail", args=[job.id])).content.decode()
    assert "SYNTHETIC" in page  # (the job's provenance names the stand-ins as such)
