"""Issue 29: samples in the results: genotypes, zygosity and quality per sample, inheritance filters
from a pedigree, somatic pairs, the job page's sample QC; a genotype table beside the variant table
that follows the result's life."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from jobs.models import Job, JobStatus
from jobs.results import tables
from jobs.results.filters import parse_filter
from jobs.results.genotypes import HET, HOM_ALT, HOM_REF, MISSING, _gt_tables, parse_gt
from jobs.services import housekeeping, lifecycle
from jobs.storage import results_storage
from tests.helpers import api_client

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("job_settings")]

DATA = Path(__file__).resolve().parents[2] / "data"
TRIO = DATA / "trio_synthetic.vcf"
TRIO_PED = DATA / "trio_synthetic.ped"
SCOUT = DATA / "scout_demo_trio_GRCh37.vcf.gz"
SCOUT_PED = DATA / "scout_demo_trio_GRCh37.ped"
KG = DATA / "1000G_chr22_5samples_GRCh37.vcf.gz"
SOMATIC = DATA / "somatic_synthetic.vcf"


@pytest.fixture
def submit(signed_in_client, django_capture_on_commit_callbacks, settings):
    """Upload a VCF (with a pedigree, a normal sample) through the page, run the worker once."""
    settings.GAS_FREE_MAX_UPLOAD_BYTES = 10 * 1024**2

    def make(path: Path, *, pedigree: Path | None = None, **fields: str) -> Job:
        data = {"file": SimpleUploadedFile(path.name, path.read_bytes()), **fields}
        if pedigree is not None:
            data["pedigree"] = SimpleUploadedFile(pedigree.name, pedigree.read_bytes())
        with django_capture_on_commit_callbacks(execute=True):
            response = signed_in_client.post(reverse("annotate"), data)
        assert response.status_code == 302, response.content.decode()[:2000]
        with django_capture_on_commit_callbacks(execute=True):
            call_command("run_annotator", "--once", "--wait", "0", "--retry-delay", "5")
        job = Job.objects.order_by("-submitted_at").first()
        assert job.status == JobStatus.COMPLETED, job.error_message
        return job

    return make


def positions(client, job, **params) -> list[tuple[str, int, str]]:
    response = client.get(f"/api/v1/jobs/{job.id}/variants", {"limit": 1000, **params})
    assert response.status_code == 200, response.content
    return [(row["chrom"], row["pos"], row["alt"]) for row in response.json()["items"]]


# -- reading genotypes --------------------------------------------------------------------------
def test_genotypes_are_read_as_written_with_zygosity_for_each_alt():
    assert parse_gt("1|0") == ([1, 0], True)
    assert parse_gt("0/1") == ([0, 1], False)
    assert parse_gt("./.") == ([None, None], False)
    assert parse_gt("1") == ([1], False)
    assert parse_gt("|0|1") == ([0, 1], True)  # (VCF 4.4's explicit phase of the first allele)
    texts = ["0/0", "0/1", "1/1", "1/2", "2/2", "./.", "./1", "0/.", "1", "0"]
    copies, zyg, any_alt, _, hom_ref = _gt_tables(texts, 2)
    at = {text: i for i, text in enumerate(texts)}
    # relative to ALT 1, ALT 2, and (index 0) any ALT
    assert list(zyg[at["1/2"]]) == [HOM_ALT, HET, HET]
    assert list(zyg[at["2/2"]]) == [HOM_ALT, HOM_REF, HOM_ALT] and any_alt[at["2/2"]] == 2
    assert list(zyg[at["./."]]) == [MISSING] * 3
    assert zyg[at["./1"], 1] == HET and zyg[at["0/."], 1] == MISSING  # (a missing allele may be the ALT)
    assert zyg[at["1"], 1] == HOM_ALT and zyg[at["0"], 1] == HOM_REF  # (haploid: hemizygous)
    assert list(hom_ref) == [True, False, False, False, False, False, False, False, False, True]
    assert copies[at["1/1"], 1] == 2


# -- a synthetic trio with known answers -----------------------------------------------------------
def test_each_inheritance_mode_finds_exactly_its_variants(signed_in_client, submit):
    job = submit(TRIO, pedigree=TRIO_PED)
    assert job.samples == ["CHILD", "FATHER", "MOTHER", "SIB"]
    assert {person["individual"]: person["phenotype"] for person in job.pedigree}["CHILD"] == "affected"
    api = api_client(signed_in_client)
    assert positions(api, job, inheritance="de_novo") == [("20", 123395, "C")]  # (127490: the mother is missing)
    assert positions(api, job, inheritance="recessive") == [("20", 137286, "C")]  # (143246: the sibling is hom_alt)
    # a pair in DEFB125 (one ALT from each parent) and the multi-allelic record's two ALTs, one from each
    assert positions(api, job, inheritance="compound_het") == [
        ("20", 71381, "T"), ("20", 81723, "A"), ("20", 207824, "A"), ("20", 207824, "C"),
    ]  # fmt: skip
    assert positions(api, job, inheritance="x_linked") == [("X", 3000000, "G")]  # (3100000: the father carries it)
    # without the sibling (no pair to rule out: the pairs are not listed one by one), the same answer
    lifecycle.job_set_pedigree(job=job, text="\n".join(TRIO_PED.read_text().splitlines()[:4]))
    assert positions(api, job, inheritance="compound_het") == [
        ("20", 71381, "T"), ("20", 81723, "A"), ("20", 207824, "A"), ("20", 207824, "C"),
    ]  # fmt: skip
    assert ("20", 143246, "A") in positions(api, job, inheritance="recessive")  # (no sibling to rule it out)
    # genes with a compound-het pair
    genes = api.get(f"/api/v1/jobs/{job.id}/genes", {"inheritance": "compound_het"}).json()["items"]
    assert "DEFB125" in {gene["symbol"] for gene in genes}


def test_rows_carry_each_samples_genotype_and_sample_filters_combine(signed_in_client, submit):
    job = submit(TRIO, pedigree=TRIO_PED)
    api = api_client(signed_in_client)
    rows = api.get(f"/api/v1/jobs/{job.id}/variants", {"region": "20:81723"}).json()["items"]
    child = rows[0]["samples"]["CHILD"]
    assert child == {"gt": "0|1", "zygosity": "het", "phased": True, "dp": 18, "gq": 60, "ad": "9,9", "vaf": 0.5,
                     "format": {}}  # fmt: skip
    assert rows[0]["carriers"] == 2  # (the child and the mother)
    multi = api.get(f"/api/v1/jobs/{job.id}/variants", {"region": "20:207824"}).json()["items"]
    by_alt = {row["alt"]: row["samples"] for row in multi}
    assert by_alt["A"]["MOTHER"]["zygosity"] == "hom_ref" and by_alt["C"]["MOTHER"]["zygosity"] == "het"
    assert by_alt["A"]["CHILD"]["vaf"] == round(10 / 21, 4) and by_alt["C"]["CHILD"]["vaf"] == round(9 / 21, 4)
    # each named sample: both parents called hom_ref
    assert positions(api, job, sample=["FATHER", "MOTHER"], zygosity="hom_ref") == [("20", 123395, "C")]
    assert positions(api, job, sample="MOTHER", zygosity="missing") == [("20", 127490, "C")]
    het_deep = positions(api, job, sample="CHILD", zygosity="het", min_dp="20", min_vaf="0.45")
    assert het_deep == [("20", 123395, "C"), ("20", 127490, "C"), ("20", 207824, "A")]
    assert positions(api, job, genotype="SIB:hom_alt") == [("20", 143246, "A")]
    assert positions(api, job, carrier_all=["FATHER", "SIB"], carrier_none="MOTHER") == [
        ("20", 71381, "T"), ("20", 167192, "C"),
    ]  # fmt: skip
    assert len(positions(api, job, max_carriers="1")) == 2
    # a name the job lacks, a zygosity it does not know: 400s that say so
    bad = api.get(f"/api/v1/jobs/{job.id}/variants", {"sample": "NOBODY"})
    assert bad.status_code == 400 and "NOBODY" in bad.json()["detail"] and "CHILD" in bad.json()["detail"]
    bad = api.get(f"/api/v1/jobs/{job.id}/variants", {"sample": "CHILD", "zygosity": "hetero"})
    assert bad.status_code == 400 and "hom_alt" in bad.json()["detail"]


def test_a_pedigree_naming_a_sample_the_vcf_lacks_is_refused_naming_the_line(signed_in_client, settings):
    settings.GAS_FREE_MAX_UPLOAD_BYTES = 10 * 1024**2
    ped = TRIO_PED.read_text().replace("FAM1\tSIB", "FAM1\tSIBLING")
    response = signed_in_client.post(reverse("annotate"), {
        "file": SimpleUploadedFile(TRIO.name, TRIO.read_bytes()),
        "pedigree": SimpleUploadedFile("family.ped", ped.encode()),
    })  # fmt: skip
    assert response.status_code == 400
    text = response.content.decode()
    assert "line 5" in text and "SIBLING" in text and "is not a sample of the VCF" in text
    assert not Job.objects.exists()  # (nothing queued)
    api = api_client(signed_in_client)
    bad_sex = SimpleUploadedFile("family.ped", b"FAM1 CHILD 0 0 3 2\n")
    response = api.post("/api/v1/jobs", {"file": SimpleUploadedFile(TRIO.name, TRIO.read_bytes()), "pedigree": bad_sex})
    assert response.status_code == 400 and "sex '3'" in response.json()["detail"]


def test_a_pedigree_given_later_on_the_job_page_and_through_the_api(signed_in_client, submit, client, other_user):
    job = submit(TRIO)
    api = api_client(signed_in_client)
    refused = api.get(f"/api/v1/jobs/{job.id}/variants", {"inheritance": "de_novo"})
    assert refused.status_code == 400 and "pedigree" in refused.json()["detail"]
    page = signed_in_client.get(reverse("job_detail", args=[job.id]))
    assert b'data-testid="pedigree-form"' in page.content
    signed_in_client.post(reverse("job_pedigree", args=[job.id]), {"text": TRIO_PED.read_text()})
    job.refresh_from_db()
    assert len(job.pedigree) == 4
    assert positions(api, job, inheritance="de_novo") == [("20", 123395, "C")]
    # the API replaces it; a wrong one is refused and the old one kept
    response = api.post(f"/api/v1/jobs/{job.id}/pedigree",
                        {"pedigree": SimpleUploadedFile("p.ped", b"F CHILD DAD MOTHER 1 2\n")})  # fmt: skip
    assert response.status_code == 400 and "DAD" in response.json()["detail"]
    job.refresh_from_db()
    assert len(job.pedigree) == 4
    assert api.delete(f"/api/v1/jobs/{job.id}/pedigree").json()["pedigree"] == []
    # another user's job: a 404
    client.force_login(other_user)
    assert client.post(reverse("job_pedigree", args=[job.id]), {"text": "x"}).status_code == 404


def test_the_job_page_shows_samples_pedigree_counts_and_mendelian_checks(signed_in_client, submit):
    job = submit(TRIO, pedigree=TRIO_PED)
    page = signed_in_client.get(reverse("job_detail", args=[job.id])).content.decode()
    assert 'data-testid="sample-table"' in page and "CHILD" in page and "affected" in page
    assert 'data-testid="inheritance-de_novo"' in page
    diagram = page.split('data-testid="family-diagram"')[1].split("male, ")[0]
    assert "FATHER" in diagram and "\u25a0</span> CHILD" in diagram  # (an affected male: a filled square)
    assert "\u25a1</span> SIB" in diagram
    stats = {row["sample"]: row for row in job.charts["samples"]}
    assert stats["CHILD"]["het"] == 7 and stats["CHILD"]["hom_alt"] == 4 and stats["MOTHER"]["missing"] == 1
    assert 'data-testid="mendelian"' in page and 'data-testid="sample-flags"' not in page  # (a consistent trio)
    variants = signed_in_client.get(reverse("job_variants", args=[job.id]), {"inheritance": "de_novo", "sample": "SIB"})
    text = variants.content.decode()
    assert "inheritance: de_novo" in text and "samples: SIB" in text  # (the filters as chips)
    assert 'data-testid="genotypes"' in text and 'data-testid="sample-filters"' in text


def test_mendelian_errors_and_a_sex_contradicting_x_are_flagged(signed_in_client, submit, tmp_path):
    # a "father" who is not: hom_alt where the child is hom_ref at 25 autosomal sites; a child the
    # pedigree calls female with 12 haploid (male) X calls
    header = [line for line in TRIO.read_text().splitlines() if line.startswith("#")]
    body = [f"20\t{1000000 + i * 10}\t.\tA\tG\t50\tPASS\t.\tGT:DP\t0/0:20\t1/1:20\t0/0:20\t0/0:20" for i in range(25)]
    body += [f"X\t{5000000 + i * 10}\t.\tA\tG\t50\tPASS\t.\tGT:DP\t1:20\t1:20\t0/0:20\t1:20" for i in range(12)]
    flagged = tmp_path / "trio_flagged.vcf"
    flagged.write_text("\n".join(header + body) + "\n")
    ped_path = tmp_path / "flagged.ped"
    ped_path.write_text(
        TRIO_PED.read_text().replace("FAM1\tCHILD\tFATHER\tMOTHER\t1\t2", "FAM1\tCHILD\tFATHER\tMOTHER\t2\t2")
    )
    job = submit(flagged, pedigree=ped_path)
    page = signed_in_client.get(reverse("job_detail", args=[job.id])).content.decode()
    assert 'data-testid="sample-flags"' in page
    assert "CHILD: the pedigree says female, X heterozygosity suggests male" in page
    assert re.search(r"FATHER and CHILD: 25 Mendelian errors in 25 informative", page)
    assert "MOTHER and CHILD" not in page.split('data-testid="sample-flags"')[1].split("</div>")[0]


# -- real files ------------------------------------------------------------------------------------
def _vcf_genotypes(path: Path) -> tuple[list[str], list[tuple[str, int, list[str], list[str]]]]:
    """Samples and (chrom, pos, alts, GTs) of a VCF, read directly (an independent reading)."""
    records = []
    samples: list[str] = []
    with gzip.open(path, "rt") as handle:
        for line in handle:
            if line.startswith("#CHROM"):
                samples = line.rstrip("\n").split("\t")[9:]
            elif not line.startswith("#"):
                fields = line.rstrip("\n").split("\t")
                keys = fields[8].split(":")
                gts = [cell.split(":")[keys.index("GT")] if "GT" in keys else "." for cell in fields[9:]]
                records.append((fields[0], int(fields[1]), fields[4].split(","), gts))
    return samples, records


def test_the_real_scout_trio_de_novo_matches_an_independent_count(signed_in_client, submit):
    job = submit(SCOUT, pedigree=SCOUT_PED)
    _, records = _vcf_genotypes(SCOUT)

    def alleles(gt: str) -> list[str]:
        return re.split(r"[/|]", gt)

    expected = set()
    for chrom, pos, alts, (father, child, mother) in records:  # (A1 father, A2 affected son, A3 mother)
        for index, alt in enumerate(alts, start=1):
            a = str(index)
            parents_called_ref = all("." not in alleles(gt) and set(alleles(gt)) == {"0"} for gt in (father, mother))
            if a in alleles(child) and parents_called_ref:
                expected.add((chrom, pos, alt))
    api = api_client(signed_in_client)
    found = set(positions(api, job, inheritance="de_novo"))
    assert found == expected and len(found) > 0
    page = signed_in_client.get(reverse("job_detail", args=[job.id])).content.decode()
    assert "ADM1059A2" in page and 'data-testid="mendelian"' in page


def test_a_cohort_stores_its_carriers_and_implies_bare_hom_refs(tmp_path):
    """The real 1000 Genomes slice (GT:DS:GL, 5 samples; chr22, which the demo reference lacks, so
    read by the table writer itself): nothing is kept but GT, so bare hom-refs are not stored; every
    sample's genotype still reads back as written, and carriers and filters match the VCF."""
    import duckdb

    from jobs.results.filters import parse_filter
    from jobs.results.queries import VariantTable
    from jobs.results.samples import resolve
    from jobs.results.writer import write_table

    table_path, genotypes = tmp_path / "kg.variants.parquet", tmp_path / "kg.genotypes.parquet"
    write_table(KG, table_path, genotypes_path=genotypes)
    table = VariantTable(table_path, genotypes)
    samples, records = _vcf_genotypes(KG)
    assert table.samples == samples == ["HG00096", "HG00097", "HG00099", "HG00100", "HG00101"]
    stored = duckdb.sql(f"SELECT count(*) FROM read_parquet('{genotypes}')").fetchall()[0][0]
    assert stored < 0.5 * len(records) * len(samples)  # (the carriers, not every genotype)
    biallelic = [(v, gts) for v, (_, _, alts, gts) in enumerate(records) if len(alts) == 1]
    assert len(biallelic) == len(records)  # (one variant per record: v is the record's number)
    found = table.sample_genotypes([v for v, _ in biallelic], samples)
    for v, gts in biallelic:
        assert [found[v][name]["gt"] for name in samples] == gts
    carried = [sum("1" in re.split(r"[/|]", gt) for gt in gts) for _, gts in biallelic]
    values = duckdb.sql(f"SELECT carriers FROM read_parquet('{table_path}') ORDER BY v").fetchall()
    assert [row[0] for row in values] == carried

    def count(**params: str) -> int:
        return table.count(resolve(parse_filter(params), samples=samples, pedigree=[]))

    assert count(max_carriers="1") == sum(1 for n in carried if n <= 1)
    assert count(carrier_all="HG00096,HG00099") == sum(
        1 for _, gts in biallelic if "1" in re.split(r"[/|]", gts[0]) and "1" in re.split(r"[/|]", gts[2])
    )
    assert count(sample="HG00100", zygosity="hom_ref") == sum(
        1 for _, gts in biallelic if set(re.split(r"[/|]", gts[3])) == {"0"}
    )


def test_somatic_pairs_use_the_header_normal(signed_in_client, submit):
    job = submit(SOMATIC)
    assert job.normal_sample == "NORMAL"
    api = api_client(signed_in_client)
    assert positions(api, job, somatic="yes") == [("20", 71381, "T")]
    looser = positions(api, job, somatic="yes", max_normal_vaf="0.1", min_tumour_vaf="0.01", min_normal_dp="5")
    assert looser == [("20", 71381, "T"), ("20", 81723, "A"), ("20", 123395, "C"), ("20", 127490, "C")]


def test_exports_carry_a_column_group_per_sample(signed_in_client, submit):
    job = submit(TRIO, pedigree=TRIO_PED)
    response = signed_in_client.get(reverse("job_export", args=[job.id, "tsv"]), {"inheritance": "de_novo"})
    lines = b"".join(response.streaming_content).decode().splitlines()
    header = lines[0].split("\t")
    for name in ("CHILD", "FATHER", "MOTHER", "SIB"):
        assert f"{name}.GT" in header and f"{name}.VAF" in header
    first = dict(zip(header, lines[1].split("\t"), strict=True))
    assert first["POS"] == "123395" and first["CHILD.GT"] == "0/1" and first["FATHER.zygosity"] == "hom_ref"
    vcf = signed_in_client.get(reverse("job_export", args=[job.id, "vcf"]), {"inheritance": "de_novo"})
    text = gzip.decompress(b"".join(vcf.streaming_content)).decode()
    assert "\tCHILD\tFATHER\tMOTHER\tSIB" in text and "0/1:15,14:29:99" in text


def test_the_genotype_table_lives_and_dies_with_the_variant_table(signed_in_client, submit, settings):
    job = submit(TRIO, pedigree=TRIO_PED)
    storage = results_storage()
    key = tables.genotypes_key(job.table_key)
    assert key.endswith(".genotypes.parquet") and storage.exists(key)
    housekeeping.files_sweep(grace_seconds=0)
    assert storage.exists(key)  # (referenced: never swept)
    tables.table_drop(job=job)
    assert not storage.exists(key)
    job.refresh_from_db()
    assert positions(api_client(signed_in_client), job, inheritance="de_novo") == [("20", 123395, "C")]  # (rebuilt)
    job.refresh_from_db()
    assert storage.exists(tables.genotypes_key(job.table_key))
    lifecycle.job_delete(job=job)
    assert not storage.exists(key)


def test_each_genotype_of_the_real_trio_reads_back_with_its_zygosity(signed_in_client, submit):
    """Every biallelic record of the real Scout trio: each sample's GT as written and its zygosity
    as an independent reading of the VCF classifies it."""
    job = submit(SCOUT)
    samples, records = _vcf_genotypes(SCOUT)
    api = api_client(signed_in_client)
    rows = api.get(f"/api/v1/jobs/{job.id}/variants", {"limit": 1000}).json()["items"]
    sites = [(chrom, pos, alts[0]) for chrom, pos, alts, _ in records]
    by_site = {
        (chrom, pos, alts[0]): gts
        for chrom, pos, alts, gts in records
        if len(alts) == 1 and sites.count((chrom, pos, alts[0])) == 1  # (a site written twice: left out)
    }

    def zygosity(gt: str) -> str:
        parts = re.split(r"[/|]", gt)
        if all(part == "." for part in parts) or ("." in parts and "1" not in parts):
            return "missing"
        copies = parts.count("1")
        return "hom_ref" if not copies else "hom_alt" if copies == len(parts) else "het"

    checked = 0
    for row in rows:
        gts = by_site.get((row["chrom"], row["pos"], row["alt"]))
        if gts is not None:
            assert [row["samples"][name]["gt"] for name in samples] == gts
            assert [row["samples"][name]["zygosity"] for name in samples] == [zygosity(gt) for gt in gts]
            checked += 1
    assert checked > 600


@pytest.mark.parametrize("path", [TRIO, SCOUT])
def test_a_familys_letters_and_the_genotype_table_give_the_same_answers(signed_in_client, submit, path):
    """A family's filters read the variant table's zygosity letters; a cohort's the genotype table.
    Both ways give the same variants for every mode and filter (here on the same job)."""
    from dataclasses import replace

    from jobs.results.filters import parse_filter
    from jobs.results.samples import resolve

    job = submit(path, pedigree=TRIO_PED if path == TRIO else SCOUT_PED)
    table = tables.table_for(job)
    child, father, mother = ("CHILD", "FATHER", "MOTHER") if path == TRIO else ("ADM1059A2", "ADM1059A1", "ADM1059A3")
    cases = [
        {"inheritance": mode} for mode in ("de_novo", "recessive", "compound_het", "x_linked")
    ] + [
        {"sample": [father, mother], "zygosity": "hom_ref"}, {"sample": child, "zygosity": "alt,missing"},
        {"genotype": f"{mother}:het"}, {"carrier_any": f"{father},{mother}"}, {"carrier_none": child},
        {"carrier_all": f"{child},{mother}", "impact": "MODIFIER"},
    ]  # fmt: skip
    answered = 0
    for params in cases:
        filt = resolve(parse_filter(params), samples=table.samples, pedigree=job.pedigree)
        assert filt.sample_filter.positions  # (a family: letters)
        on_g = replace(filt, sample_filter=replace(filt.sample_filter, positions=()))
        letters = [(row["v"], row["eno"]) for row in table.page(filt, limit=1000)]
        rows = [(row["v"], row["eno"]) for row in table.page(on_g, limit=1000)]
        assert letters == rows, params
        assert table.count(filt) == table.count(on_g) == len(letters)
        answered += bool(letters)
    assert answered >= 6


def test_a_variants_own_page_shows_entries_genotypes_links_and_notations(signed_in_client, submit, client,
                                                                         other_user):  # fmt: skip
    job = submit(TRIO, pedigree=TRIO_PED)
    table = tables.table_for(job)
    (v,) = [row["v"] for row in table.page(parse_filter({"region": "20:123395"}))]
    listing = signed_in_client.get(reverse("job_variants", args=[job.id])).content.decode()
    assert reverse("job_variant", args=[job.id, v]) in listing  # (each row links to its page)
    page = signed_in_client.get(reverse("job_variant", args=[job.id, v]))
    text = page.content.decode()
    assert page.status_code == 200 and 'data-testid="sample-genotypes"' in text
    assert 'data-testid="genotype-CHILD"' in text and "15,14" in text
    assert 'data-copy="20-123395-T-C"' in text and "grch37.ensembl.org" in text and "gnomad_r2_1" in text
    assert text.count('data-testid="entry"') == len(table.entries(v))
    assert signed_in_client.get(reverse("job_variant", args=[job.id, 10**6])).status_code == 404
    client.force_login(other_user)
    assert client.get(reverse("job_variant", args=[job.id, v])).status_code == 404
