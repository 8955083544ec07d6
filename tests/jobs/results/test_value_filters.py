"""Issue 30, item 2: filters on the values of a job's sources (``where=FIELD OP VALUE``), typed by
each source's header; ``|missing``; the computed max_af and ClinVar stars; clear 400s."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from jobs.models import Job, JobStatus
from jobs.results.filters import parse_filter
from jobs.results.schema import TableError
from jobs.results.value_filters import parse_where, resolve_where
from tests.helpers import add_source, api_client

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("job_settings")]

SOURCE = (
    "##fileformat=VCFv4.2\n"
    '##INFO=<ID=CLNSIG,Number=.,Type=String,Description="Clinical significance">\n'
    '##INFO=<ID=CLNREVSTAT,Number=.,Type=String,Description="Review status">\n'
    '##INFO=<ID=AF,Number=A,Type=Float,Description="Allele frequency">\n'
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    "20\t63426\tclinA\tG\tA\t.\t.\tCLNSIG=Pathogenic;CLNREVSTAT=reviewed_by_expert_panel;AF=0.0001\n"
    "20\t68749\tclinC\tT\tC\t.\t.\tCLNSIG=Likely_pathogenic;CLNREVSTAT=criteria_provided,_single_submitter;AF=0.02\n"
    "20\t123273\tclinB\tA\tC,T\t.\t.\tCLNSIG=Benign;CLNREVSTAT=criteria_provided,_multiple_submitters,_no_conflicts;"
    "AF=0.1,0.2\n"
)
INPUT = (
    "##fileformat=VCFv4.2\n##contig=<ID=20,length=63025520>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    "20\t63426\t.\tG\tA\t50\tPASS\t.\n"
    "20\t68749\t.\tT\tC\t50\tPASS\t.\n"
    "20\t123273\t.\tA\tT\t50\tPASS\t.\n"
    "20\t126310\t.\tA\tG\t50\tPASS\t.\n"  # (in no source: no value)
)


@pytest.fixture
def job(tmp_path, signed_in_client, drain, django_capture_on_commit_callbacks) -> Job:
    path = tmp_path / "clinvar.vcf"
    path.write_text(SOURCE)
    add_source(tmp_path, "--fields", "CLNSIG,CLNREVSTAT,AF", "--short-name", "ClinVar", "--default", path=path)
    with django_capture_on_commit_callbacks(execute=True):
        upload = SimpleUploadedFile("four.vcf", INPUT.encode())
        signed_in_client.post(reverse("annotate"), {"file": upload, "sources": "clinvar"})
    drain("run_annotator")
    found = Job.objects.get()
    assert found.status == JobStatus.COMPLETED, found.error_message
    assert [entry["name"] for entry in found.sources] == ["clinvar"], found.sources
    return found


def positions(api, job, *where: str) -> list[int]:
    response = api.get(f"/api/v1/jobs/{job.id}/variants", {"where": list(where), "limit": 100})
    assert response.status_code == 200, response.content
    return [row["pos"] for row in response.json()["items"]]


def test_numbers_compare_as_numbers_and_missing_keeps_the_unknown(signed_in_client, job):
    api = api_client(signed_in_client)
    assert positions(api, job, "ClinVar_AF<0.01") == [63426]
    assert positions(api, job, "ClinVar_AF<0.01|missing") == [63426, 126310]  # (absent: kept)
    assert positions(api, job, "ClinVar_AF>=0.02") == [68749, 123273]  # (123273 T: its own AF, 0.2)
    assert positions(api, job, "ClinVar_AF=0.2") == [123273]  # (not 0.1: that is the C allele's)
    assert positions(api, job, "max_af<0.05", "ClinVar_AF!=0.0001") == [68749]  # (AND-ed)


def test_text_facets_stars_and_chips(signed_in_client, job):
    api = api_client(signed_in_client)
    assert positions(api, job, "ClinVar_CLNSIG=Pathogenic,Likely_pathogenic") == [63426, 68749]
    assert positions(api, job, "ClinVar_CLNSIG~patho") == [63426, 68749]
    assert positions(api, job, "ClinVar_CLNSIG!=Benign") == [63426, 68749]  # (no value is not "not Benign")
    assert positions(api, job, "ClinVar_stars>=2") == [63426, 123273]  # (expert panel 3, multiple submitters 2)
    page = signed_in_client.get(reverse("job_variants", args=[job.id]), {"where": ["ClinVar_stars>=2", "max_af<0.5"]})
    assert page.status_code == 200
    text = page.content.decode()
    assert "where ClinVar_stars&gt;=2" in text and "where max_af&lt;0.5" in text
    facet = text.split('data-testid="facet-ClinVar_CLNSIG"')[1].split("</div></div>")[0]
    assert "Pathogenic" in facet and "Benign" in facet and "where=ClinVar_CLNSIG%3DBenign" in facet
    assert 'data-testid="where-input"' in text and "<code>max_af</code> (float)" in text
    from jobs.results import tables

    v = tables.table_for(job).page(parse_filter({"region": "20:63426"}))[0]["v"]
    detail = signed_in_client.get(reverse("job_variant", args=[job.id, v])).content.decode()
    values = detail.split('data-testid="source-values"')[1].split("</table>")[0]
    assert "ClinVar_CLNSIG" in values and "Pathogenic" in values and "0.0001" in values


def test_bad_conditions_are_400s_naming_the_field_and_what_it_expects(signed_in_client, job):
    api = api_client(signed_in_client)
    for where, said in [
        ("ClinVar_AF<rare", "ClinVar_AF holds numbers (Float); 'rare' is not a number"),
        ("ClinVar_CLNSIG>2", "ClinVar_CLNSIG holds text (String); use =, != or ~"),
        ("gnomAD_AF<0.1", "gnomAD_AF: not a field of this job's sources (its fields: ClinVar_CLNSIG"),
        ("ClinVar_AF", "expected FIELD OP VALUE"),
        ("ClinVar_AF<", "no value after <"),
    ]:
        response = api.get(f"/api/v1/jobs/{job.id}/variants", {"where": where})
        assert response.status_code == 400 and said in response.json()["detail"], (where, response.json())


def test_parsing_without_a_job():
    (condition,) = parse_where({"where": "gnomAD_AF <= 1e-3 |missing"})
    assert (condition.field, condition.op, condition.values, condition.missing) == ("gnomAD_AF", "<=", ("1e-3",), True)
    with pytest.raises(TableError, match="at most 20"):
        parse_where({"where": [f"a={i}" for i in range(21)]})
    with pytest.raises(TableError, match="holds numbers"):
        resolve_where(parse_where({"where": "x_AF~1"}), types={"x_AF": "Float"})


def test_the_column_chooser_adds_a_source_field_and_remembers_it(signed_in_client, job, user):
    """Issue 31, item 2: columns= adds fields (a source's, a set), kept as the user's choice."""
    url = reverse("job_variants", args=[job.id])
    first = signed_in_client.get(url).content.decode()  # (never chosen: each source's first field)
    assert re.findall(r'data-testid="extra-column" title="([^"]+)"', first) == [
        f"ClinVar_{job.sources[0]['fields'][0]}"]  # fmt: skip
    page = signed_in_client.get(url, {"columns": ["ClinVar_CLNSIG", "ClinVar_AF"]})
    text = page.content.decode()
    headers = re.findall(r'data-testid="extra-column" title="([^"]+)"', text)
    assert headers == ["ClinVar_CLNSIG", "ClinVar_AF"] and 'title="Pathogenic"' in text
    user.refresh_from_db()
    assert user.variant_columns == ["ClinVar_CLNSIG", "ClinVar_AF"]
    again = signed_in_client.get(url).content.decode()  # (no columns= : the user's last choice)
    assert re.findall(r'data-testid="extra-column" title="([^"]+)"', again) == ["ClinVar_CLNSIG", "ClinVar_AF"]
    clinical = signed_in_client.get(url, {"columns": "clinical"}).content.decode()
    assert {"ClinVar", "ClinVar_CLNSIG", "ClinVar_CLNREVSTAT", "ClinVar_AF"} <= set(
        re.findall(r'data-testid="extra-column" title="([^"]+)"', clinical))  # fmt: skip
    cleared = signed_in_client.get(url, {"columns": "none"}).content.decode()
    assert 'data-testid="extra-column"' not in cleared
    assert 'data-testid="extra-column"' not in signed_in_client.get(url).content.decode()  # (none is kept)
    bad = signed_in_client.get(url, {"columns": "NOPE"})
    assert bad.status_code == 400 and "column &#x27;NOPE&#x27;: not a field of this job" in bad.content.decode()


def test_a_filter_set_is_saved_applied_to_another_job_exported_and_imported(
    signed_in_client, job, other_user, drain, django_capture_on_commit_callbacks
):
    """Issue 31, item 4: name the filters of one job's page, apply them to another job, export them as
    the JSON the API takes, import that JSON back; another user's set is a 404."""
    import json as jsonlib

    from jobs.models import FilterSet

    url = reverse("job_variants", args=[job.id])
    filtered = {"where": "ClinVar_CLNSIG=Pathogenic,Likely_pathogenic", "impact": "MODIFIER,LOW", "cursor": "0"}
    page = signed_in_client.get(url, filtered).content.decode()
    assert 'data-testid="save-filter-set"' in page and 'data-testid="built-in-set"' in page
    params = jsonlib.loads(page.split('name="params" value="')[1].split('"')[0].replace("&quot;", '"'))
    saved = signed_in_client.post(reverse("filter_set_create"), {"name": "clinical", "params": jsonlib.dumps(params),
                                                                   "next": url})  # fmt: skip
    assert saved.status_code == 302 and saved["Location"] == url
    kept = FilterSet.objects.get()
    assert kept.params == {"where": "ClinVar_CLNSIG=Pathogenic,Likely_pathogenic", "impact": "MODIFIER,LOW"}
    # a second job: the set's link applies it there
    with django_capture_on_commit_callbacks(execute=True):
        signed_in_client.post(reverse("annotate"), {"file": SimpleUploadedFile("again.vcf", INPUT.encode()),
                                                    "sources": "clinvar"})  # fmt: skip
    drain("run_annotator")
    second = Job.objects.exclude(id=job.id).get()
    other_page = signed_in_client.get(reverse("job_variants", args=[second.id])).content.decode()
    link = other_page.split('data-testid="filter-set"><a href="')[1].split('"')[0].replace("&amp;", "&")
    applied = signed_in_client.get(reverse("job_variants", args=[second.id]) + link)
    assert applied.context["page"].count == 2  # (63426 Pathogenic, 68749 Likely_pathogenic)
    exported = signed_in_client.get(reverse("filter_set_export", args=[kept.id]))
    assert jsonlib.loads(exported.content) == {"name": "clinical", "params": kept.params}
    through_api = api_client(signed_in_client).get(f"/api/v1/jobs/{second.id}/variants", kept.params)
    assert through_api.json()["count"] == 2  # (the same parameters the API takes)
    renamed = jsonlib.dumps({"name": "clinical, imported", "params": kept.params}).encode()
    imported = SimpleUploadedFile("set.json", renamed)
    signed_in_client.post(reverse("filter_set_import"), {"file": imported, "next": url})
    assert FilterSet.objects.count() == 2
    wrong = SimpleUploadedFile("set.json", b'{"name": "x", "params": {"impact": "HUGE"}}')
    bad = signed_in_client.post(reverse("filter_set_import"), {"file": wrong, "next": url})
    assert FilterSet.objects.count() == 2 and "impact HUGE" in signed_in_client.get(bad["Location"]).content.decode()
    stranger = Client()
    stranger.force_login(other_user)
    # its shared link: another user sees the filters (not the owner's jobs), applies them, keeps them
    share = other_page.split('data-testid="share-filter-set"')[0].rsplit('href="', 1)[1].split('"')[0]
    opened = stranger.get(share)
    shown = opened.content.decode()
    assert opened.status_code == 200 and "clinical" in shown and "ClinVar_CLNSIG=Pathogenic" in shown
    assert str(job.id) not in shown and str(second.id) not in shown  # (none of the owner's jobs)
    assert opened.context["query"] == "where=ClinVar_CLNSIG%3DPathogenic%2CLikely_pathogenic&impact=MODIFIER%2CLOW"
    stranger.post(reverse("filter_set_create"), {"name": "from a colleague", "params": opened.context["params_json"]})
    assert FilterSet.objects.get(owner=other_user).params == kept.params
    tampered = stranger.get(share[:-3] + ("abc" if not share.endswith("abc") else "xyz"))
    assert tampered.status_code == 400 and "damaged or was not made by this site" in tampered.content.decode()
    assert stranger.get(reverse("filter_set_export", args=[kept.id])).status_code == 404
    assert stranger.post(reverse("filter_set_delete", args=[kept.id])).status_code == 404
    signed_in_client.post(reverse("filter_set_delete", args=[kept.id]), {"next": url})
    assert not FilterSet.objects.filter(id=kept.id).exists()
