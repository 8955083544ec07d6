"""Issue 11: the variant table behind the browser, the gene view, the summary, the exports and the
API, checked against counts read straight from the annotated VCF."""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from pathlib import Path

import pysam
import pytest
from django.core.files.storage import storages
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from freezegun import freeze_time

from accounts.services import plan_upgrade
from archive import services as archive_services
from archive.models import ResultArchive, ResultState
from jobs.models import Job
from jobs.results.filters import parse_filter, parse_region
from jobs.results.queries import VariantTable
from jobs.results.schema import TableError, variant_class
from jobs.results.writer import write_table
from jobs.services import tokens

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("job_settings")]
TRIO = Path(__file__).resolve().parents[2] / "data" / "scout_demo_trio_GRCh37.vcf.gz"


def vcf_variants(job: Job) -> list[dict]:
    """The oracle: each record's alleles and CSQ entries, read from the stored result VCF."""
    with storages["results"].open(job.result_key, "rb") as handle:
        text = gzip.decompress(handle.read()).decode()
    fields: list[str] = []
    records = []
    for line in text.splitlines():
        if line.startswith("##INFO=<ID=CSQ"):
            fields = line.split("Format: ")[1].split('"')[0].split("|")
        if line.startswith("#"):
            continue
        columns = line.split("\t")
        csq = next((item[4:] for item in columns[7].split(";") if item.startswith("CSQ=")), "")
        entries = [dict(zip(fields, entry.split("|"), strict=True)) for entry in csq.split(",")] if csq else []
        records.append({"chrom": columns[0], "pos": int(columns[1]), "entries": entries})
    return records


def get(client, name, job, **params):
    return client.get(reverse(name, args=[job.id]), params)


def test_the_worker_writes_a_table_and_the_browser_filters_it(signed_in_client, annotated):
    job = annotated()
    assert job.table_key.endswith(".variants.parquet") and storages["results"].exists(job.table_key)
    records = vcf_variants(job)

    page = get(signed_in_client, "job_variants", job)
    assert page.status_code == 200
    assert page.context["page"].count == 10000 and len(page.context["page"].rows) == 50
    assert '<span data-testid="shown-range">1\u201350</span>' in page.content.decode()  # (it said "1 to 0")
    # HGVSp as a reader wants it (p. only, "=" unescaped); the CSQ value itself on hover
    synonymous = get(signed_in_client, "job_variants", job, consequence="synonymous_variant").content.decode()
    shown = re.findall(r'<span title="([^"]*)" data-testid="hgvsp">([^<]*)</span>', synonymous)
    assert shown and all(full.endswith(":" + text.replace("=", "%3D")) for full, text in shown)
    assert all(text.startswith("p.") for _, text in shown)
    assert any(text.endswith("=") for _, text in shown)
    # HGVSc without its transcript (the row names it), never broken mid-token, cut with an ellipsis
    coding = re.findall(r'<td class="text-nowrap"><span title="([^"]*)" data-testid="hgvsc">([^<]*)</span>', synonymous)
    assert coding and all(
        text == full.split(":")[-1].replace("&gt;", ">")[:28] or (text.endswith("\u2026") and len(text) == 28)
        for full, text in ((f, t.replace("&gt;", ">")) for f, t in coding)
    ), coding[:3]

    # consequence: variants with any entry of the term; all transcripts: every such entry
    missense_variants = sum(
        any("missense_variant" in e["Consequence"].split("&") for e in r["entries"]) for r in records
    )
    missense_entries = sum("missense_variant" in e["Consequence"].split("&") for r in records for e in r["entries"])
    assert 0 < missense_variants < missense_entries
    page = get(signed_in_client, "job_variants", job, consequence="missense_variant")
    assert page.context["page"].count == missense_variants
    # the consequence picker: a checkbox a term, grouped by impact, the chosen ones checked
    picker = page.content.decode()
    assert 'id="f-consequence-missense_variant" checked' in picker
    groups = [picker.index(f'data-impact-group="{impact}"') for impact in ("HIGH", "MODERATE", "LOW", "MODIFIER")]
    assert groups == sorted(groups) and groups[1] < picker.index('id="f-consequence-missense_variant"') < groups[2]
    # a row's transcripts show protein position, amino acids and codons (as the TSV has them)
    codons = re.findall(r'data-testid="codons">([^<]*)<', page.content.decode())
    assert any(re.fullmatch(r"[acgtACGT]+/[acgtACGT]+", text) for text in codons), codons[:5]
    assert all(row["Consequence"].split("&").count("missense_variant") for row in page.context["page"].rows)
    page = get(signed_in_client, "job_variants", job, consequence="missense_variant", show="all")
    assert page.context["page"].count == missense_entries

    # active filters as chips above the table, each removable on its own (the others kept)
    both = get(signed_in_client, "job_variants", job, consequence="missense_variant", impact="MODERATE", sort="gene")
    chips = re.findall(r'<a class="badge[^"]*" href="([^"]*)" title="Remove this filter" data-testid="chip">([^<]*) <',
                       both.content.decode())  # fmt: skip
    assert [label for _, label in chips] == ["consequence: missense_variant", "impact: MODERATE"]
    assert [url.replace("&amp;", "&") for url, _ in chips] == [
        "?impact=MODERATE&sort=gene", "?consequence=missense_variant&sort=gene"
    ]  # fmt: skip

    # region and impact combine
    in_region = [r for r in records if 1_000_000 <= r["pos"] <= 5_000_000]
    expected = sum(any(e["IMPACT"] in ("HIGH", "MODERATE") for e in r["entries"]) for r in in_region)
    page = get(signed_in_client, "job_variants", job, region="chr20:1,000,000-5,000,000", impact=["HIGH", "MODERATE"])
    assert page.context["page"].count == expected > 0
    assert all(1_000_000 <= row["pos"] <= 5_000_000 and row["IMPACT"] in ("HIGH", "MODERATE")
               for row in page.context["page"].rows)  # fmt: skip

    # a gene's variants, each row expandable to all its transcripts
    symbol = Counter(e["SYMBOL"] for r in records for e in r["entries"] if e["SYMBOL"]).most_common(1)[0][0]
    expected = sum(any(e["SYMBOL"] == symbol for e in r["entries"]) for r in records)
    page = get(signed_in_client, "job_variants", job, gene=symbol.lower())
    assert page.context["page"].count == expected
    first = page.context["page"].rows[0]
    oracle = next(r for r in records if r["pos"] == first["pos"])
    assert [e["Feature"] for e in first["entries"]] == [e["Feature"] for e in oracle["entries"]]
    html = page.content.decode()
    assert 'data-testid="variant-row"' in html and first["entries"][0]["Feature"] in html
    assert "grch37.ensembl.org/Homo_sapiens/Location/View?r=20:" in html

    # column headers sort: a click ascending, again descending, again back to position order
    def header_link(html: str, key: str) -> str:
        return re.search(rf'<a href="([^"]*)" data-testid="sort-{key}">', html).group(1).replace("&amp;", "&")

    html = get(signed_in_client, "job_variants", job, impact="HIGH").content.decode()
    assert header_link(html, "severity") == "?impact=HIGH&sort=severity"
    html = get(signed_in_client, "job_variants", job, impact="HIGH", sort="severity").content.decode()
    assert header_link(html, "severity") == "?impact=HIGH&sort=-severity" and 'aria-sort="ascending"' in html
    html = get(signed_in_client, "job_variants", job, impact="HIGH", sort="-severity").content.decode()
    assert header_link(html, "severity") == "?impact=HIGH"
    # rows per page
    hundred = get(signed_in_client, "job_variants", job, limit=100)
    assert len(hundred.context["page"].rows) == 100
    assert '<strong class="ms-1" aria-current="true">100</strong>' in hundred.content.decode()

    # by gene, either way: variants without a gene last
    for sort in ("gene", "-gene"):
        rows = get(signed_in_client, "job_variants", job, sort=sort, limit=5).context["page"].rows
        symbols = [row["SYMBOL"] for row in rows]
        assert all(symbols) and symbols == sorted(symbols, reverse=sort == "-gene"), (sort, symbols)
    intergenic = get(signed_in_client, "job_variants", job, consequence="intergenic_variant").context["page"]
    assert intergenic.count > 0 and intergenic.rows[0]["SYMBOL"] == ""  # (there are gene-less ones to sort last)

    # the most severe first, and paging
    page = get(signed_in_client, "job_variants", job, sort="severity", limit=5)
    ranks = [row["rank"] for row in page.context["page"].rows]
    assert ranks == sorted(ranks) and page.context["page"].rows[0]["IMPACT"] == "HIGH"
    assert (
        '<span data-testid="shown-range">51\u2013100</span>'
        in get(signed_in_client, "job_variants", job, cursor=50).content.decode()
    )
    second = get(signed_in_client, "job_variants", job, cursor=50).context["page"]
    assert second.rows[0]["v"] == 50 and second.previous_cursor == "0" and second.next_cursor == "a99.100"
    third = get(signed_in_client, "job_variants", job, cursor=second.next_cursor).context["page"]
    assert [row["v"] for row in third.rows] == list(range(100, 150)) and third.offset == 100
    back = get(signed_in_client, "job_variants", job, cursor=third.previous_cursor).context["page"]
    assert [row["v"] for row in back.rows] == list(range(50, 100))
    # keyset pages of a filter: each page the next matches, none twice, in order
    seen, cursor = [], "0"
    while cursor:
        page = get(signed_in_client, "job_variants", job, impact="HIGH", limit=4, cursor=cursor).context["page"]
        seen += [row["v"] for row in page.rows]
        cursor = page.next_cursor
    assert seen == sorted(set(seen)) and len(seen) == page.count
    bad = get(signed_in_client, "job_variants", job, cursor="x1")
    assert bad.status_code == 400 and "not a cursor this service gave" in bad.context["error"]

    assert get(signed_in_client, "job_variant_count", job, consequence="missense_variant").json() == {
        "count": missense_variants
    }


def test_bad_filters_say_what_is_wrong(signed_in_client, annotated):
    job = annotated()
    for params, words in (
        ({"consequence": "missense"}, "not a consequence term"),
        ({"impact": "SEVERE"}, "expected one of HIGH, MODERATE, LOW, MODIFIER"),
        ({"region": "20:500-100"}, "is after the end"),
        ({"region": "20:abc"}, "expected chromosome:start-end"),
        ({"sort": "random"}, "sort 'random'"),
        ({"limit": "lots"}, "expected a whole number"),
    ):
        response = get(signed_in_client, "job_variants", job, **params)
        assert response.status_code == 400 and words in response.context["error"], params
        assert words in get(signed_in_client, "job_variant_count", job, **params).json().get("error", words)


def test_gene_view_counts_each_variant_once_at_its_worst_impact(signed_in_client, annotated):
    job = annotated()
    records = vcf_variants(job)
    page = get(signed_in_client, "job_genes", job)
    genes = page.context["result"]["genes"]
    assert page.context["result"]["count"] == len({e["Gene"] for r in records for e in r["entries"] if e["Gene"]})
    top = genes[0]
    assert top["variants"] == max(g["variants"] for g in genes)
    worst = Counter()
    for record in records:
        impacts = [e["IMPACT"] for e in record["entries"] if e["Gene"] == top["gene"]]
        if impacts:
            worst[min(impacts, key=["HIGH", "MODERATE", "LOW", "MODIFIER"].index)] += 1
    assert (top["high"], top["moderate"], top["low"], top["modifier"]) == (
        worst["HIGH"], worst["MODERATE"], worst["LOW"], worst["MODIFIER"]
    )  # fmt: skip
    assert sum(worst.values()) == top["variants"]
    link = reverse("job_variants", args=[job.id]) + f"?gene={top['gene']}"
    assert link in page.content.decode()
    by_symbol = get(signed_in_client, "job_genes", job, sort="symbol").context["result"]["genes"]
    assert [g["symbol"] for g in by_symbol] == sorted(g["symbol"] for g in by_symbol)


def test_exports_hold_what_the_filters_show(signed_in_client, annotated):
    job = annotated()
    records = vcf_variants(job)
    chosen = [r for r in records if any(e["IMPACT"] == "HIGH" for e in r["entries"])]
    high_entries = [e for r in records for e in r["entries"] if e["IMPACT"] == "HIGH"]
    response = signed_in_client.get(reverse("job_export", args=[job.id, "tsv"]), {"impact": "HIGH"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/tab-separated-values")
    assert 'filename="synthetic_chr20_10k.variants.tsv"' in response["Content-Disposition"]
    lines = b"".join(response.streaming_content).decode().splitlines()
    header = lines[0].split("\t")
    assert header[:7] == ["CHROM", "POS", "ID", "REF", "ALT", "VARIANT_CLASS", "Allele"] and "HGVSc" in header
    rows = [dict(zip(header, line.split("\t"), strict=True)) for line in lines[1:]]
    assert len(rows) == len(high_entries) > 0 and {row["IMPACT"] for row in rows} == {"HIGH"}
    assert [row["Feature"] for row in rows] == [e["Feature"] for e in high_entries]

    response = signed_in_client.get(reverse("job_export", args=[job.id, "vcf"]), {"impact": "HIGH"})
    assert response.status_code == 200
    data = b"".join(response.streaming_content)
    path = Path(storages["results"].path(job.result_key)).with_name("exported.vcf.gz")
    path.write_bytes(data)
    exported = pysam.VariantFile(str(path))
    positions = [(record.chrom, record.pos) for record in exported]
    assert positions == [(r["chrom"], r["pos"]) for r in chosen]
    with gzip.open(path, "rt") as copied, storages["results"].open(job.result_key, "rb") as original:
        original_header = [
            line for line in gzip.decompress(original.read()).decode().splitlines() if line.startswith("#")
        ]
        assert [line.rstrip("\n") for line in copied if line.startswith("#")] == original_header
    assert data[:4] == b"\x1f\x8b\x08\x04"  # (BGZF: gzip with the extra field)

    assert signed_in_client.get(reverse("job_export", args=[job.id, "xlsx"]), follow=True).status_code == 200


def test_summary_charts_and_qc_on_the_page_and_in_the_api(signed_in_client, annotated, user):
    job = annotated()
    records = vcf_variants(job)
    page = signed_in_client.get(reverse("job_detail", args=[job.id])).content.decode()
    for chart in ("most_severe_consequence", "impact", "variant_class", "chromosome", "coding"):
        assert f'data-testid="chart-{chart}"' in page
    assert 'data-testid="qc"' in page and reverse("job_variants", args=[job.id]) in page
    # every bar of every chart opens exactly the variants it counts
    bars = re.findall(r'<a href="([^"]*)" data-testid="chart-link">[^<]*</a></span><span>(\d+)</span>', page)
    assert len(bars) > 20
    for link, count in bars:
        query = dict(part.split("=") for part in link.split("?", 1)[1].split("&"))
        assert get(signed_in_client, "job_variants", job, **query).context["page"].count == int(count), link
    assert "?class=SNV" in page and "?region=20" in page and "?most_severe=missense_variant" in page
    assert "?most_severe=HIGH" in page and "?most_severe=non_coding" in page
    # on the variant table the same bars add to the filters in force
    table = get(signed_in_client, "job_variants", job, gene="PLCB1").content.decode()
    links = re.findall(r'href="([^"]*)" data-testid="table-chart-link"', table)
    assert "?gene=PLCB1&amp;most_severe=intron_variant" in links
    narrowed = get(signed_in_client, "job_variants", job, gene="PLCB1", most_severe="intron_variant").context["page"]
    assert 0 < narrowed.count < get(signed_in_client, "job_variants", job, gene="PLCB1").context["page"].count
    assert get(signed_in_client, "job_variants", job, most_severe="nonsense").status_code == 400
    # "Browse variants" among the job's first actions, before the input's QC and the charts
    assert page.index('data-testid="browse-variants"') < page.index('data-testid="qc"')

    _, raw = tokens.api_token_create(user=user, name="t")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    summary = signed_in_client.get(f"/api/v1/jobs/{job.id}/summary", **auth).json()
    charts = summary["charts"]
    assert charts["variants"] == 10000 == sum(charts["variant_class"].values())
    assert charts["chromosome"] == {"20": 10000}
    with storages["results"].open(job.summary_key, "rb") as handle:  # (the count log's own figures)
        regions = json.load(handle)["regions"]
    assert charts["coding"]["coding"] == regions["coding"] > 0  # (most severe consequence coding: the same count)
    assert charts["coding"]["non-coding"] == sum(regions.values()) - regions["coding"]
    assert len(records) == 10000
    assert summary["qc"]["records"] == 10000 and summary["qc"]["warnings"] == []

    first = signed_in_client.get(f"/api/v1/jobs/{job.id}/variants", {"impact": "HIGH", "limit": 3}, **auth).json()
    assert first["count"] == charts["impact"]["HIGH"] and len(first["variants"]) == 3
    assert all(v["impact"] == "HIGH" and v["entries"] for v in first["variants"])
    seen = [v["pos"] for v in first["variants"]]
    cursor = first["next_cursor"]
    while cursor:
        following = signed_in_client.get(
            f"/api/v1/jobs/{job.id}/variants", {"impact": "HIGH", "limit": 3, "cursor": cursor}, **auth
        ).json()
        seen += [v["pos"] for v in following["variants"]]
        cursor = following["next_cursor"]
    assert len(seen) == first["count"] and seen == sorted(seen)
    bad = signed_in_client.get(f"/api/v1/jobs/{job.id}/variants", {"region": "x:9-1"}, **auth)
    assert bad.status_code == 400 and "is after the end" in bad.json()["detail"]
    genes = signed_in_client.get(f"/api/v1/jobs/{job.id}/genes", {"limit": 2}, **auth).json()
    assert len(genes["genes"]) == 2 and genes["next_cursor"] == "2"
    tsv = signed_in_client.get(f"/api/v1/jobs/{job.id}/export/tsv", {"gene": genes["genes"][0]["gene"]}, **auth)
    assert tsv.status_code == 200
    schema = signed_in_client.get("/api/v1/openapi.json").json()
    for path in ("variants", "genes", "summary", "export/{fmt}"):
        assert f"/api/v1/jobs/{{job_id}}/{path}" in schema["paths"]
    job_out = signed_in_client.get(f"/api/v1/jobs/{job.id}", **auth).json()
    assert job_out["variants_url"].endswith(f"/api/v1/jobs/{job.id}/variants")


def test_others_cannot_see_a_jobs_variants(client, annotated, other_user):
    job = annotated()
    client.force_login(other_user)
    for name, args in (("job_variants", [job.id]), ("job_genes", [job.id]), ("job_variant_count", [job.id]),
                       ("job_export", [job.id, "tsv"])):  # fmt: skip
        assert client.get(reverse(name, args=args)).status_code == 404


def test_records_the_reference_lacks_are_shown_not_annotated(signed_in_client, annotated, user):
    plan_upgrade(user=user)  # (the trio is larger than the free plan's upload limit)
    job = annotated(TRIO)
    assert job.warnings and "contigs the reference does not have" in " ".join(job.warnings)
    page = get(signed_in_client, "job_variants", job)
    assert page.context["page"].count >= 680
    not_annotated = get(signed_in_client, "job_variants", job, region="1").context["page"]
    assert not_annotated.count > 0 and not_annotated.rows[0]["Consequence"] == ""
    # and a filter hides them (or shows only them): annotated + not annotated = all
    shown = get(signed_in_client, "job_variants", job, annotated="yes").context["page"]
    hidden = get(signed_in_client, "job_variants", job, annotated="no").context["page"]
    assert shown.count + hidden.count == page.context["page"].count and 0 < shown.count < hidden.count
    assert all(row["Consequence"] for row in shown.rows) and not any(row["Consequence"] for row in hidden.rows)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {tokens.api_token_create(user=user, name='t')[1]}"}
    api = signed_in_client.get(f"/api/v1/jobs/{job.id}/variants", {"annotated": "yes"}, **auth).json()
    assert api["count"] == shown.count
    bad = signed_in_client.get(f"/api/v1/jobs/{job.id}/variants", {"annotated": "maybe"}, **auth)
    assert bad.status_code == 400 and bad.json()["detail"] == "annotated 'maybe': expected yes or no"
    html = signed_in_client.get(reverse("job_detail", args=[job.id])).content.decode()
    assert "Records on contigs the reference lacks" in html and 'data-testid="warnings"' in html
    # the counts say why so few alleles of so many records (it read "680 records, 19 alleles")
    counts = re.search(r'data-testid="variant-counts">([^<]*)<', html).group(1)
    assert re.fullmatch(
        rf"{job.records} records read; {job.alleles} ALT alleles? annotated \(\d+ records on contigs the reference "
        r"lacks\); \d+ in dbSNP",
        counts,
    ), counts
    assert 'data-testid="warnings-banner"' in page.content.decode()


def test_the_table_goes_with_the_archive_and_comes_back_with_the_restore(
    signed_in_client, annotated, user, django_capture_on_commit_callbacks, settings
):
    settings.GAS_FREE_RETENTION_SECONDS = 300
    with freeze_time(timezone.now()) as clock:
        job = annotated()
        key = job.table_key
        clock.tick(301)
        with django_capture_on_commit_callbacks(execute=True):
            call_command("archive_worker", "--once", "--wait", "0", "--retry-delay", "5")
        job.refresh_from_db()
        assert ResultArchive.objects.get(job=job).state == ResultState.ARCHIVED
        assert job.table_key == "" and not storages["results"].exists(key)
        response = signed_in_client.get(reverse("job_variants", args=[job.id]), follow=True)
        assert "archived in cold storage" in response.content.decode()
        # the charts stay with the job (they went with the table): the page and the API show them
        page = signed_in_client.get(reverse("job_detail", args=[job.id])).content.decode()
        assert 'data-testid="chart-most_severe_consequence"' in page and 'data-testid="charts-kept"' in page
        assert 'data-testid="browse-variants"' not in page
        auth = {"HTTP_AUTHORIZATION": f"Bearer {tokens.api_token_create(user=user, name='t')[1]}"}
        summary = signed_in_client.get(f"/api/v1/jobs/{job.id}/summary", **auth)
        assert summary.status_code == 200 and summary.json()["charts"]["variants"] == 10000
        with django_capture_on_commit_callbacks(execute=True):
            plan_upgrade(user=user)
        archive_services.restore_process(job_id=job.id)
        clock.tick(3600)
        with django_capture_on_commit_callbacks(execute=True):
            assert archive_services.thaw_process(job_id=job.id) == "restored"
        job.refresh_from_db()
        assert job.table_key and storages["results"].exists(job.table_key)
        assert get(signed_in_client, "job_variants", job).context["page"].count == 10000


def test_deleting_a_job_deletes_its_table(signed_in_client, annotated):
    job = annotated()
    key = job.table_key
    signed_in_client.post(reverse("job_delete", args=[job.id]))
    assert not storages["results"].exists(key)


def test_a_job_from_before_tables_gets_one_at_first_look(signed_in_client, annotated):
    job = annotated()
    storages["results"].delete(job.table_key)
    Job.objects.filter(id=job.id).update(table_key="")
    assert get(signed_in_client, "job_variants", job).context["page"].count == 10000
    job.refresh_from_db()
    assert storages["results"].exists(job.table_key)


# -- the table itself ----------------------------------------------------------------------------
def test_filter_parsing():
    assert parse_region("chr1:1,000-2,000") == parse_region("chr1:1000-2000")
    assert str(parse_region("X:5")) == "X:5-5" and str(parse_region("MT")) == "MT"
    with pytest.raises(TableError, match="dbsnp 'maybe'"):
        parse_filter({"dbsnp": "maybe"})
    with pytest.raises(TableError, match="show 'some'"):
        parse_filter({"show": "some"})
    assert parse_filter({"impact": "high,low", "show": "all"}).query() == {"impact": "HIGH,LOW", "show": "all"}
    assert [variant_class(r, a) for r, a in (("A", "G"), ("A", "AT"), ("AT", "A"), ("AC", "GT"), ("A", "<DEL>"))] == [
        "SNV", "insertion", "deletion", "MNV", "SV"
    ]  # fmt: skip


SMALL_CSQ_HEADER = (
    "##fileformat=VCFv4.2\n"
    '##INFO=<ID=CSQ,Number=.,Type=String,Description="Consequence annotations. Format: '
    'Allele|Consequence|IMPACT|SYMBOL|Gene|Existing_variation">\n'
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
)


def test_multi_allelic_records_are_one_variant_per_alt(tmp_path):
    header = SMALL_CSQ_HEADER
    body = (
        "1\t100\trs1\tAC\tA,ACC\t.\t.\tCSQ=-|frameshift_variant|HIGH|G1|ENSG1|rs1,CC|inframe_insertion&splice_region_variant|MODERATE|G1|ENSG1|,"
        "-|intron_variant|MODIFIER|G2|ENSG2|rs1\n"
        "2\t5\t.\tG\tT\t.\t.\t.\n"
    )
    vcf = tmp_path / "in.vcf"
    vcf.write_text(header + body)
    assert write_table(vcf, tmp_path / "t.parquet") == 3
    table = VariantTable(tmp_path / "t.parquet")
    rows = table.page(parse_filter({}))
    assert [(r["alt"], r["Consequence"], r["variant_class"], r["in_dbsnp"]) for r in rows] == [
        ("A", "frameshift_variant", "deletion", True),
        ("ACC", "inframe_insertion&splice_region_variant", "insertion", True),
        ("T", "", "SNV", False),
    ]
    assert [len(table.entries(v)) for v in range(3)] == [2, 1, 1]
    assert table.count(parse_filter({"consequence": "splice_region_variant"})) == 1
    assert table.count(parse_filter({"gene": "G2"})) == 1  # (the deletion, by its intron entry)
    assert table.page(parse_filter({"gene": "G2"}))[0]["Consequence"] == "intron_variant"
    assert table.count(parse_filter({"q": "rs1"})) == 2 and table.count(parse_filter({"dbsnp": "no"})) == 1
    assert list(table.records(parse_filter({"impact": "HIGH,MODERATE"}))) == [0]
    assert table.summary()["impact"] == {"HIGH": 1, "MODERATE": 1, "not annotated": 1}


def test_structural_entries_go_to_their_own_alt(tmp_path):
    """A record with a symbolic ALT and a breakend: each entry lands on its ALT by VEP's label
    (the class name; the junction as a single breakend, or the whole ALT for the mate's end)."""
    header = SMALL_CSQ_HEADER
    body = (
        "20\t100\t.\tG\t<DEL>,G[20:500[\t.\t.\tSVTYPE=DEL;END=300;CSQ=deletion|feature_truncation|HIGH|G1|ENSG1|,"
        "G.|feature_truncation&intron_variant|HIGH|G1|ENSG1|,G[20:500[|upstream_gene_variant|MODIFIER|G2|ENSG2|\n"
    )
    vcf = tmp_path / "in.vcf"
    vcf.write_text(header + body)
    assert write_table(vcf, tmp_path / "t.parquet") == 2
    table = VariantTable(tmp_path / "t.parquet")
    rows = table.page(parse_filter({}))
    assert [(r["alt"], r["Consequence"]) for r in rows] == [
        ("<DEL>", "feature_truncation"),
        ("G[20:500[", "feature_truncation&intron_variant"),
    ]
    assert [len(table.entries(v)) for v in range(2)] == [1, 2]


def test_how_the_table_shows_hgvs():
    from jobs.templatetags.variants import coding_change, protein_change

    assert protein_change(".1:p.Leu17%3D") == "p.Leu17=" and protein_change("ENSP1.2:p.Glu390Ter") == "p.Glu390Ter"
    assert coding_change("SRC-T2:c.1219G>A") == "c.1219G>A" and coding_change("") == ""
    long = "X-T1:c.100_160delinsACGTACGTACGTACGTACGTACGTACGTACGT"
    assert coding_change(long) == "c.100_160delinsACGTACGTACGT\u2026" and len(coding_change(long)) == 28


def test_page_numbers_and_a_jump_keep_the_filters(signed_in_client, annotated):
    """Issue 31, item 3: numbered pages (first, last, two either side) and a page number typed in."""
    job = annotated()
    url = reverse("job_variants", args=[job.id])
    page = signed_in_client.get(url, {"class": "SNV", "page": "3"}).content.decode()
    assert 'data-testid="shown-range">101\u2013150<' in page
    numbers = page.split('data-testid="page-numbers"')[1].split("</span>\n")[0]
    assert '<strong class="mx-1" aria-current="page">3</strong>' in numbers
    assert ">1</a>" in numbers and ">5</a>" in numbers and "…" in numbers and ">6</a>" not in numbers
    last = re.search(r'href="\?([^"]+)">(\d+)</a>$', numbers)
    assert last is not None and "class=SNV" in last[1] and int(last[2]) > 100  # (the last page; the filters kept)
    jump = page.split('data-testid="page-jump"')[1].split("</form>")[0]
    assert 'name="class" value="SNV"' in jump and 'name="page"' in jump
    too_far = signed_in_client.get(url, {"page": "0"})
    assert too_far.status_code == 400 and "page" in too_far.content.decode()


def test_the_gene_panel_draws_a_genes_variants_along_its_transcript(signed_in_client, annotated, settings):
    """Issue 31, item 5: the gene view with one gene: its transcript's exons from the reference, one
    tick a matching variant (linked to its page), the consequences counted, each a link that adds to
    the filters."""
    from jobs.references.bundles import load_reference

    job = annotated()
    records = vcf_variants(job)
    top = get(signed_in_client, "job_genes", job).context["result"]["genes"][0]
    page = get(signed_in_client, "job_genes", job, gene=top["gene"], impact="MODIFIER")
    panel = page.context["result"]["panel"]
    expected = [r for r in records if any(e["Gene"] == top["gene"] and e["IMPACT"] == "MODIFIER" for e in r["entries"])]
    assert panel.count == len(expected) == len(panel.ticks) > 10
    assert [tick.v for tick in panel.ticks] == sorted(tick.v for tick in panel.ticks)
    transcript = load_reference("demo").index("20").transcript(panel.transcript)
    assert transcript is not None and transcript.gene_id == top["gene"] and len(panel.exons) == len(transcript.exons)
    assert all(10 <= tick.x <= 990 for tick in panel.ticks) and all(x >= 10 for x, _ in panel.exons)
    assert sum(number for _, number, _ in panel.consequences) >= panel.count
    html = page.content.decode()
    assert html.count('data-testid="gene-tick"') == panel.count
    assert reverse("job_variant", args=[job.id, panel.ticks[0].v]) in html
    term = panel.consequences[0][0]
    assert f"?gene={top['gene']}&amp;impact=MODIFIER&amp;consequence={term}" in html  # (added, filters kept)
    assert get(signed_in_client, "job_genes", job).context["result"]["panel"] is None  # (no gene: no panel)
