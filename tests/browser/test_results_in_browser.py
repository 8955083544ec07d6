"""Issue 11 in a real browser: sign up, upload, watch progress, filter the variant table, open the gene
view, export a TSV, and the archived -> upgrade -> restored story."""

from __future__ import annotations

import gzip
import hashlib
import time
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from archive.models import ResultArchive, ResultState
from archive.services import archive_now
from jobs.models import Job, JobStatus
from jobs.results.filters import parse_filter
from jobs.results.tables import table_for
from tests.conftest import local_cold_store
from tests.helpers import SYNTHETIC

pytestmark = [
    pytest.mark.usefixtures("job_settings"), pytest.mark.browser, pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]
PASSWORD = "a-Long-enough-passphrase-42"


@pytest.fixture(autouse=True)
def quick_thaw(settings, tmp_path):
    local_cold_store(settings, tmp_path / "cold", thaw_seconds=0)
    settings.GAS_THAW_POLL_SECONDS = 1


def wait(driver, seconds: float = 15) -> WebDriverWait:
    # (an element of the page being left goes stale, or its node leaves the document, while the next
    # loads: asked again, not an error; a condition that never holds still ends in a TimeoutException)
    return WebDriverWait(driver, seconds, ignored_exceptions=(StaleElementReferenceException, WebDriverException))


def find_testid(driver, name: str):
    return wait(driver).until(ec.presence_of_element_located((By.CSS_SELECTOR, f'[data-testid="{name}"]')))


def click(element) -> None:
    """Scroll the element to the middle of the window, then click it (as a user would)."""
    element.parent.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'})", element)
    element.click()


def worker(command: str) -> None:
    call_command(command, "--once", "--wait", "0", "--retry-delay", "5")


def sign_up(driver, base: str, email: str) -> None:
    driver.get(f"{base}/accounts/signup/")
    driver.find_element(By.NAME, "email").send_keys(email)
    driver.find_element(By.NAME, "password1").send_keys(PASSWORD)
    driver.find_element(By.NAME, "password2").send_keys(PASSWORD)
    click(driver.find_element(By.CSS_SELECTOR, "main form [type=submit]"))
    wait(driver).until(lambda d: email in d.page_source and "/signup" not in d.current_url)


def annotated_in_browser(driver, base: str, path: Path, **files: Path) -> Job:
    """Upload ``path`` (and any other file fields, e.g. pedigree) on the page, run the worker once,
    return the job."""
    driver.get(f"{base}/annotate")
    driver.find_element(By.NAME, "file").send_keys(str(path))
    for name, other in files.items():
        driver.find_element(By.NAME, name).send_keys(str(other))
    click(driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]"))
    wait(driver).until(lambda d: "Pending" in d.page_source)
    worker("run_annotator")
    return Job.objects.get()


def downloaded(folder: Path, suffix: str, seconds: float = 15) -> Path:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        done = [p for p in folder.iterdir() if p.name.endswith(suffix)]
        if done:
            return done[0]
        time.sleep(0.2)
    raise AssertionError(f"no {suffix} download in {folder}: {[p.name for p in folder.iterdir()]}")


def test_upload_watch_filter_genes_export_archive_and_restore(browser, live_server):
    base = live_server.url
    sign_up(browser, base, "rosalind@example.org")

    # upload, then watch the page move from Pending to Completed as the worker runs
    browser.get(f"{base}/annotate")
    browser.find_element(By.NAME, "file").send_keys(str(SYNTHETIC))
    click(browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]"))
    wait(browser).until(lambda d: "Pending" in d.page_source)
    job = Job.objects.get()
    browser.execute_script("window.gasStillHere = true")  # (gone if the page reloads)
    time.sleep(4)  # longer than a poll: the page polls, it does not reload while nothing changes
    assert browser.execute_script("return window.gasStillHere === true")
    worker("run_annotator")
    assert Job.objects.get().status == JobStatus.COMPLETED
    wait(browser, 30).until(lambda d: "Completed" in d.page_source)  # (the poll sees the new state)
    assert find_testid(browser, "chart-most_severe_consequence").is_displayed()
    assert "10000" in find_testid(browser, "qc").text

    # the variant table, a filter with its live count, the URL and the back button
    click(find_testid(browser, "browse-variants"))
    assert find_testid(browser, "match-count").text == "10000"
    in_sight = "const r = arguments[0].getBoundingClientRect(); return r.top >= 0 && r.bottom <= window.innerHeight"
    assert browser.execute_script(in_sight, find_testid(browser, "apply-filters"))  # (Apply in sight, not below)
    browser.set_window_size(1366, 900)  # (a laptop: the default columns fit, no sideways scrolling)
    overflow = "const t = arguments[0].parentElement; return [t.scrollWidth, t.clientWidth]"
    wide, room = browser.execute_script(overflow, find_testid(browser, "variant-table"))
    assert wide <= room, f"the variant table needs {wide} px at 1366 px and has {room}"
    # a phone: the first screen shows the variants; the filters open as a drawer
    browser.set_window_size(390, 844)
    browser.refresh()
    assert browser.execute_script(in_sight, find_testid(browser, "match-count"))
    assert not find_testid(browser, "apply-filters").is_displayed()
    cards = browser.find_elements(By.CSS_SELECTOR, '[data-testid="variant-card"]')  # (a card a variant, no table)
    assert len(cards) == 50 and cards[0].is_displayed() and not find_testid(browser, "variant-table").is_displayed()
    click(find_testid(browser, "open-filters"))
    wait(browser).until(lambda d: find_testid(d, "apply-filters").is_displayed())
    browser.set_window_size(1280, 1000)
    browser.refresh()
    job = Job.objects.get()
    missense = table_for(job).count(parse_filter({"consequence": "missense_variant"}))
    # the consequence picker: grouped by impact, searchable, a checkbox a term (no Ctrl-click)
    browser.find_element(By.ID, "f-consequence-search").send_keys("missense")
    rows = browser.find_elements(By.CSS_SELECTOR, "#f-consequence [data-term]")
    visible = [row.get_attribute("data-term") for row in rows if row.is_displayed()]
    assert visible == ["missense_variant"]
    click(browser.find_element(By.ID, "f-consequence-missense_variant"))
    wait(browser).until(lambda d: d.find_element(By.ID, "live-count").text == f"{missense:,} match")
    click(find_testid(browser, "apply-filters"))
    wait(browser).until(lambda d: "consequence=missense_variant" in d.current_url)
    assert find_testid(browser, "match-count").text == str(missense)
    rows = browser.find_elements(By.CSS_SELECTOR, '[data-testid="variant-row"]')
    assert rows and all("missense" in row.text for row in rows)
    click(rows[0].find_element(By.CSS_SELECTOR, '[data-testid="expand"]'))
    wait(browser).until(ec.visibility_of_element_located((By.CSS_SELECTOR, '[data-testid="entries"]')))
    browser.back()
    wait(browser).until(lambda d: find_testid(d, "match-count").text == "10000")
    browser.forward()
    wait(browser).until(lambda d: find_testid(d, "match-count").text == str(missense))

    # the gene view, and a click on a gene filters the variant table
    click(find_testid(browser, "tab-genes"))
    first = wait(browser).until(ec.presence_of_element_located((By.CSS_SELECTOR, '[data-testid="gene-row"]')))
    variants = int(first.find_elements(By.TAG_NAME, "td")[1].text)
    click(first.find_element(By.CSS_SELECTOR, '[data-testid="gene-link"]'))
    wait(browser).until(lambda d: "gene=" in d.current_url and "consequence=missense_variant" in d.current_url)
    assert find_testid(browser, "match-count").text == str(variants)

    # export what the filters show
    click(find_testid(browser, "export-tsv"))
    tsv = downloaded(browser.downloads, ".variants.tsv")
    lines = tsv.read_text().splitlines()
    assert lines[0].startswith("CHROM\tPOS\tID\tREF\tALT") and len(lines) > variants  # (a row per transcript)

    # archived: the browser says so; the upgrade brings it back
    assert archive_now(job=job)
    worker("archive_worker")
    assert ResultArchive.objects.get(job=job).state == ResultState.ARCHIVED
    browser.get(f"{base}/annotations/{job.id}/variants")
    wait(browser).until(lambda d: "archived in cold storage" in d.page_source)
    assert find_testid(browser, "archive-state").is_displayed()
    browser.get(f"{base}/subscribe")
    click(browser.find_element(By.NAME, "confirm"))
    click(browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]"))
    wait(browser).until(lambda d: "Welcome to premium" in d.page_source)
    worker("restore_worker")
    deadline = time.monotonic() + 20
    while ResultArchive.objects.get(job=job).state != ResultState.AVAILABLE and time.monotonic() < deadline:
        worker("thaw_worker")
        time.sleep(0.5)
    assert ResultArchive.objects.get(job=job).state == ResultState.AVAILABLE
    browser.get(f"{base}/annotations/{job.id}")
    click(find_testid(browser, "browse-variants"))
    assert find_testid(browser, "match-count").text == "10000"


def test_honest_outcomes_in_the_browser(browser, live_server, tmp_path):
    """Item 7: a file refused at upload says why; a shifted file completes with its warning on
    the job page, in the QC table and over the variant table."""
    from tests.helpers import dbsnp_records, vcf

    base = live_server.url
    sign_up(browser, base, "barbara@example.org")
    truncated = tmp_path / "cut.vcf.gz"
    whole = SYNTHETIC.read_bytes()
    truncated.write_bytes(whole[: len(whole) // 2])
    browser.get(f"{base}/annotate")
    browser.find_element(By.NAME, "file").send_keys(str(truncated))
    click(browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]"))
    wait(browser).until(lambda d: "damaged or truncated" in d.page_source)
    assert not Job.objects.exists()

    shifted = tmp_path / "shifted.vcf"
    shifted.write_bytes(vcf([(pos + 1_230_000, ref, alt) for pos, ref, alt in dbsnp_records(400)]))
    browser.get(f"{base}/annotate")
    browser.find_element(By.NAME, "file").send_keys(str(shifted))
    click(browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]"))
    wait(browser).until(lambda d: "Pending" in d.page_source)
    worker("run_annotator")
    wait(browser, 20).until(lambda d: "Completed with warnings" in d.page_source)
    warnings = find_testid(browser, "warnings").text
    assert "disagrees with the reference genome" in warnings and "positions are shifted" in warnings
    mismatches = [row for row in find_testid(browser, "qc").find_elements(By.TAG_NAME, "tr")
                  if "REF disagreeing" in row.text]  # fmt: skip
    assert mismatches and "table-warning" in mismatches[0].get_attribute("class")
    click(find_testid(browser, "browse-variants"))
    assert "1 warning" in find_testid(browser, "warnings-banner").text


def test_pasted_notations_in_the_variant_browser(browser, live_server):
    """Issue 28: five notations pasted on the upload page (HGVS g. and c., SPDI, a region, an rs id)
    come back as rows of the variant browser, each under the notation as given."""
    base = live_server.url
    sign_up(browser, base, "barbara@example.org")
    browser.get(f"{base}/annotate")
    pasted = [
        "20:g.36030940G>A", "SRC-T2:c.1220A>G", "NC_000020.10:36030939:G:T", "20:10258360-10258360/T",
        "rs147063585",
    ]  # fmt: skip
    box = browser.find_element(By.NAME, "variants")
    box.send_keys("\n".join(pasted))
    click(browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]"))
    wait(browser).until(lambda d: "Pending" in d.page_source)
    worker("run_annotator")
    job = Job.objects.get()
    assert job.status == JobStatus.COMPLETED and job.records == 5, (job.error_message, job.warnings)
    wait(browser, 30).until(lambda d: "Completed" in d.page_source)
    click(find_testid(browser, "browse-variants"))
    assert find_testid(browser, "match-count").text == "5"
    rows = browser.find_elements(By.CSS_SELECTOR, '[data-testid="variant-row"]')
    shown = [row.find_element(By.CSS_SELECTOR, '[data-testid="variant-id"]').text for row in rows]
    assert sorted(shown) == sorted(pasted)
    by_id = dict(zip(shown, rows, strict=True))
    def hgvsc(row) -> str:
        return row.find_element(By.CSS_SELECTOR, '[data-testid="hgvsc"]').get_attribute("title")

    assert "missense" in by_id["20:g.36030940G>A"].text and hgvsc(by_id["20:g.36030940G>A"]) == "SRC-T2:c.1219G>A"
    assert hgvsc(by_id["SRC-T2:c.1220A>G"]) == "SRC-T2:c.1220A>G"  # (given as HGVS, back as the same HGVSc)


def test_pages_do_not_scroll_sideways_on_a_laptop_or_a_phone(browser, live_server):
    """Issue 31: the job list, the job page, the variant table and the gene view at 1366x900 and
    390x844: the page itself never scrolls sideways (a wide table scrolls inside its own box)."""
    base = live_server.url
    sign_up(browser, base, "grace@example.org")
    job = annotated_in_browser(browser, base, SYNTHETIC)
    pages = {"job list": "/annotations", "job page": f"/annotations/{job.id}",
             "variants": f"/annotations/{job.id}/variants", "genes": f"/annotations/{job.id}/genes"}  # fmt: skip
    measure = "return [document.documentElement.scrollWidth, window.innerWidth]"
    too_wide = []
    for width, height in ((1366, 900), (390, 844)):
        browser.set_window_size(width, height)
        for name, path in pages.items():
            browser.get(base + path)
            find_testid(browser, "nav-user")
            page_width, window_width = browser.execute_script(measure)
            if page_width > window_width:
                too_wide.append(f"{name} at {width} px: {page_width} px wide")
    assert not too_wide, too_wide


def test_a_trio_with_its_pedigree_filtered_de_novo(browser, live_server, settings):
    """Issue 29: upload a trio with its PED, filter de novo, open the variant and read the three
    genotypes; then the same through the API; at a laptop's width and a phone's."""
    data = Path(__file__).resolve().parents[1] / "data"
    base = live_server.url
    sign_up(browser, base, "mendel@example.org")
    job = annotated_in_browser(browser, base, data / "trio_synthetic.vcf", pedigree=data / "trio_synthetic.ped")
    assert job.status == JobStatus.COMPLETED, job.error_message
    for width, height in ((1366, 900), (390, 844)):
        browser.set_window_size(width, height)
        browser.get(f"{base}/annotations/{job.id}")
        samples = find_testid(browser, "sample-table")
        assert "CHILD" in samples.text and "affected" in samples.text
        click(find_testid(browser, "inheritance-de_novo"))
        wait(browser).until(lambda d: find_testid(d, "match-count").text == "1")
        if width < 576:  # (a phone: the variant is a card; tapped, its own page has the genotypes)
            card = find_testid(browser, "variant-card")
            assert "20:123395" in card.text and "CHILD" in card.text
            click(card)
            assert "0/1" in find_testid(browser, "genotype-CHILD").text
            assert "0/0" in find_testid(browser, "genotype-FATHER").text
            page_width, window_width = browser.execute_script(
                "return [document.documentElement.scrollWidth, window.innerWidth]"
            )
            assert page_width <= window_width, f"the variant page is {page_width} px wide at {width}"
            continue
        row = browser.find_element(By.CSS_SELECTOR, '[data-testid="variant-row"]')
        assert "20:123395" in row.text
        click(row.find_element(By.CSS_SELECTOR, '[data-testid="expand"]'))
        shown = ec.visibility_of_element_located((By.CSS_SELECTOR, '[data-testid="sample-genotypes"]'))
        table = wait(browser).until(shown)
        read = {name: table.find_element(By.CSS_SELECTOR, f'[data-testid="genotype-{name}"]').text.split()
                for name in ("CHILD", "FATHER", "MOTHER")}  # fmt: skip
        assert read["CHILD"][:3] == ["CHILD", "0/1", "het"] and "15,14" in read["CHILD"]
        assert read["FATHER"][:3] == ["FATHER", "0/0", "hom_ref"] and read["MOTHER"][:3] == ["MOTHER", "0/0", "hom_ref"]
        page_width, window_width = browser.execute_script(
            "return [document.documentElement.scrollWidth, window.innerWidth]"
        )
        assert page_width <= window_width, f"{page_width} px wide at {width}"
        # the variant's own page: the same genotypes, and nothing wider than the window
        click(browser.find_element(By.CSS_SELECTOR, '[data-testid="variant-link"]'))
        assert "20:123395" in find_testid(browser, "variant-title").text
        assert "0/1" in find_testid(browser, "genotype-CHILD").text
        page_width, window_width = browser.execute_script(
            "return [document.documentElement.scrollWidth, window.innerWidth]"
        )
        assert page_width <= window_width, f"the variant page is {page_width} px wide at {width}"
    # the same through the API
    from tests.helpers import api_client

    client = Client()
    client.force_login(job.owner)
    api = api_client(client)
    items = api.get(f"/api/v1/jobs/{job.id}/variants", {"inheritance": "de_novo"}).json()["items"]
    assert [(item["pos"], {name: g["gt"] for name, g in item["samples"].items()}) for item in items] == [
        (123395, {"CHILD": "0/1", "FATHER": "0/0", "MOTHER": "0/0", "SIB": "0/0"})
    ]


def test_source_values_filter_the_table_with_missing_and_a_facet(browser, live_server, tmp_path):
    """Issue 30: ClinVar and gnomAD installed from the catalogue (a local mirror in the providers'
    layout), a job with both: the table shows their values; a frequency filter with |missing and a
    ClinVar facet narrow it; the same through the API."""
    import io

    from django.test import Client

    from tests.helpers import GOOD_VCF, api_client
    from tests.jobs.sources.test_source_catalogue import CLINVAR, GNOMAD
    from tests.mirror import Mirror

    root = tmp_path / "mirror"
    clinvar = root / "pub/clinvar/vcf_GRCh37/clinvar.vcf.gz"
    clinvar.parent.mkdir(parents=True)
    clinvar.write_bytes(gzip.compress(CLINVAR.encode()))
    digest = hashlib.md5(clinvar.read_bytes(), usedforsecurity=False).hexdigest()
    (clinvar.parent / "clinvar.vcf.gz.md5").write_text(f"{digest}  clinvar_20251130.vcf.gz\n")
    gnomad = root / "gcp-public-data--gnomad/release/2.1.1/vcf/exomes/gnomad.exomes.r2.1.1.sites.20.vcf.bgz"
    gnomad.parent.mkdir(parents=True)
    gnomad.write_bytes(gzip.compress(GNOMAD.encode()))
    with Mirror(root) as mirror:
        for name, *more in (("clinvar-grch37",), ("gnomad-exomes-grch37", "--chromosomes", "20")):
            call_command("source", "install", name, "--reference", "demo", "--mirror", mirror.url, "--default", *more,
                         stdout=io.StringIO())  # fmt: skip
    base = live_server.url
    sign_up(browser, base, "vera@example.org")
    path = tmp_path / "two.vcf"
    path.write_text(GOOD_VCF + "20\t126310\t.\tA\tG\t50\tPASS\t.\n")  # (the third: in neither source)
    job = annotated_in_browser(browser, base, path)
    assert job.status == JobStatus.COMPLETED and len(job.sources) == 2, (job.error_message, job.sources)
    browser.get(f"{base}/annotations/{job.id}/variants")
    assert find_testid(browser, "match-count").text == "3"
    where = find_testid(browser, "where-input")
    where.send_keys("gnomADe_AF<0.01|missing")
    click(find_testid(browser, "apply-filters"))
    wait(browser).until(lambda d: find_testid(d, "match-count").text == "2")  # (0.0005 and the unknown one)
    facet = find_testid(browser, "facet-ClinVar_CLNSIG")
    click(facet.find_element(By.PARTIAL_LINK_TEXT, "Pathogenic"))
    wait(browser).until(lambda d: find_testid(d, "match-count").text == "1")
    row = browser.find_element(By.CSS_SELECTOR, '[data-testid="variant-row"]')
    assert "20:63426" in row.text
    # each source's first field is shown by default; the column chooser adds another (and keeps the filters)
    shown = [h.text for h in browser.find_elements(By.CSS_SELECTOR, '[data-testid="extra-column"]')]
    assert shown == ["ClinVar_CLNSIG", "gnomADe_AF"]
    click(find_testid(browser, "column-chooser").find_element(By.TAG_NAME, "summary"))
    click(browser.find_element(By.CSS_SELECTOR, 'input[name="columns"][value="gnomADe_AF"]'))
    click(browser.find_element(By.CSS_SELECTOR, 'input[name="columns"][value="ClinVar_CLNREVSTAT"]'))
    click(find_testid(browser, "apply-columns"))
    wait(browser).until(lambda d: [h.text for h in d.find_elements(By.CSS_SELECTOR, '[data-testid="extra-column"]')]
                        == ["ClinVar_CLNSIG", "ClinVar_CLNREVSTAT"])  # fmt: skip
    assert find_testid(browser, "match-count").text == "1"
    assert "Pathogenic" in find_testid(browser, "variant-table").text
    client = Client()
    client.force_login(job.owner)
    items = api_client(client).get(f"/api/v1/jobs/{job.id}/variants", {
        "where": ["gnomADe_AF<0.01|missing", "ClinVar_CLNSIG=Pathogenic"]}).json()["items"]  # fmt: skip
    found = [(item["pos"], item["entries"][0]["ClinVar_CLNSIG"], item["entries"][0]["gnomADe_AF"]) for item in items]
    assert found == [(63426, "Pathogenic", "0.0005")]
