"""Issues 30 and 31 in Chromium: the demo file with the demo's sources (what ``make run`` registers:
dbSNP common and the SYNTHETIC ClinVar- and gnomAD-format slices) shows their values, a frequency
filter with ``|missing`` and a ClinVar facet narrow the table (and the API agrees); and at a laptop's
width and a phone's, nothing on the job list, the job page, the variant table or the gene view
overflows its container (every element's box measured). Screenshots are kept in ``test-artifacts/``."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client
from selenium.webdriver.common.by import By

from jobs.models import AnnotationSource, JobStatus
from tests.browser.conftest import ARTIFACTS
from tests.browser.test_results_in_browser import annotated_in_browser, click, find_testid, sign_up, wait, worker
from tests.helpers import SYNTHETIC, api_client

pytestmark = [
    pytest.mark.usefixtures("job_settings"), pytest.mark.browser, pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]
DEMO = Path(__file__).resolve().parents[2] / "reference" / "demo"

# Every shown element's box inside its nearest clipping container (or the window): the elements that
# stick out, and the boxes that scroll sideways, each named by tag, test id or class and its text.
OVERFLOWS = """
const name = (el) => el.tagName.toLowerCase() + (el.dataset.testid ? `[${el.dataset.testid}]` : '')
  + (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\\s+/).join('.') : '')
  + ' "' + (el.innerText || '').trim().slice(0, 40) + '"';
const found = [];
for (const el of document.body.querySelectorAll('*')) {
  if (el.getClientRects().length === 0 || getComputedStyle(el).visibility === 'hidden') continue;
  const r = el.getBoundingClientRect();
  if (r.width <= 1 || r.height <= 1) continue;  // (visually hidden labels)
  let box = el.parentElement;  // (the nearest that clips, draws a border, or is a cell or a card)
  const isBox = (b) => { const s = getComputedStyle(b);
    return s.overflowX !== 'visible' || parseFloat(s.borderLeftWidth) > 0 || parseFloat(s.borderRightWidth) > 0
      || ['TD', 'TH'].includes(b.tagName) || b.classList.contains('card'); };
  while (box && box !== document.body && !isBox(box)) box = box.parentElement;
  const edge = box && box !== document.body ? box.getBoundingClientRect() : {left: 0, right: window.innerWidth};
  const out = Math.round(Math.max(r.right - edge.right, edge.left - r.left));
  if (out > 1) found.push(`${name(el)} sticks out by ${out} px`);
  const scrolls = ['auto', 'scroll'].includes(getComputedStyle(el).overflowX);
  const [wide, room] = [el.scrollWidth, el.clientWidth];
  if (scrolls && wide > room + 1) found.push(`${name(el)} scrolls sideways (${wide} in ${room} px)`);
}
return found.slice(0, 20);
"""


def _rows(path: Path) -> dict[tuple[int, str, str], dict[str, str]]:
    with gzip.open(path, "rt") as lines:
        rows = [line.rstrip("\n").split("\t") for line in lines if not line.startswith("#")]
    return {(int(row[1]), row[3], row[4]): dict(item.split("=", 1) for item in row[7].split(";")) for row in rows}


def test_the_demo_file_shows_clinvar_and_gnomad_values_and_filters_on_them(browser, live_server):
    call_command("source", "demo", stdout=io.StringIO())
    sources = {source.name: source for source in AnnotationSource.objects.all()}
    clinvar, gnomad = (_rows(DEMO / sources[name].file_name) for name in ("clinvar_demo", "gnomad_demo"))
    with gzip.open(SYNTHETIC, "rt") as lines:
        demo = [(int(r[1]), r[3], r[4]) for r in (line.split("\t") for line in lines if not line.startswith("#"))]
    rare = sum(key not in gnomad or float(gnomad[key]["AF"]) < 0.001 for key in demo)
    rare_pathogenic = sum(clinvar.get(key, {}).get("CLNSIG") == "Pathogenic" and (
        key not in gnomad or float(gnomad[key]["AF"]) < 0.001) for key in demo)  # fmt: skip
    base = live_server.url
    sign_up(browser, base, "clara@example.org")
    browser.get(f"{base}/annotate")
    assert "SYNTHETIC demo values" in browser.find_element(By.ID, "div_id_sources").text
    job = annotated_in_browser(browser, base, SYNTHETIC)
    assert job.status == JobStatus.COMPLETED, job.error_message
    browser.set_window_size(1366, 900)
    browser.get(f"{base}/annotations/{job.id}/variants")
    headers = [h.text for h in browser.find_elements(By.CSS_SELECTOR, '[data-testid="extra-column"]')]
    assert headers == ["ClinVar_CLNSIG", "gnomADe_AF"]  # (a new user sees each source's first field)
    table = find_testid(browser, "variant-table").text
    on_page = demo[:50]  # (sorted by position, as the file is)
    assert all(gnomad[key]["AF"] in table for key in on_page if key in gnomad)
    assert all(clinvar[key]["CLNSIG"] in table for key in on_page if key in clinvar)
    where = find_testid(browser, "where-input")
    where.send_keys("gnomADe_AF<0.001|missing")
    click(find_testid(browser, "apply-filters"))
    wait(browser).until(lambda d: find_testid(d, "match-count").text == str(rare))
    click(find_testid(browser, "facet-ClinVar_CLNSIG").find_element(By.PARTIAL_LINK_TEXT, "Pathogenic"))
    wait(browser).until(lambda d: find_testid(d, "match-count").text == str(rare_pathogenic))
    assert {row.text.split()[0] for row in browser.find_elements(By.CSS_SELECTOR, '[data-testid="variant-row"]')} \
        <= {f"20:{key[0]}" for key, value in clinvar.items() if value["CLNSIG"] == "Pathogenic"}
    browser.save_screenshot(str(ARTIFACTS / "demo_sources_filtered_1366.png"))
    client = Client()
    client.force_login(job.owner)
    answer = api_client(client).get(f"/api/v1/jobs/{job.id}/variants",
                                    {"where": ["gnomADe_AF<0.001|missing", "ClinVar_CLNSIG=Pathogenic"]})  # fmt: skip
    assert answer.json()["count"] == rare_pathogenic


@pytest.mark.parametrize("width,height", [(1366, 900), (390, 844)])
def test_nothing_overflows_its_container(browser, live_server, width, height):
    """Issue 31: the job list, the job page, the variant table (with the demo's two source columns,
    then one expanded row) and the gene view: no element outside its box, no box scrolling sideways."""
    call_command("source", "demo", stdout=io.StringIO())
    base = live_server.url
    sign_up(browser, base, f"ada{width}@example.org")
    job = annotated_in_browser(browser, base, SYNTHETIC)
    assert job.status == JobStatus.COMPLETED, job.error_message
    browser.set_window_size(width, height)
    ARTIFACTS.mkdir(exist_ok=True)
    pages = {"job-list": "/annotations", "job-page": f"/annotations/{job.id}",
             "variants": f"/annotations/{job.id}/variants", "genes": f"/annotations/{job.id}/genes",
             "gene-panel": f"/annotations/{job.id}/genes?gene=PLCB1",
             "variant": f"/annotations/{job.id}/variants/1"}  # fmt: skip
    found = {}
    for name, path in pages.items():
        browser.get(base + path)
        find_testid(browser, "nav-user")
        found[name] = browser.execute_script(OVERFLOWS)
        browser.save_screenshot(str(ARTIFACTS / f"fit_{name}_{width}.png"))
    if width >= 576:  # (the expanded row: every transcript's entry, inside the table's box)
        browser.get(f"{base}/annotations/{job.id}/variants?consequence=missense_variant")
        click(browser.find_element(By.CSS_SELECTOR, '[data-testid="expand"]'))
        wait(browser).until(lambda d: d.find_element(By.CSS_SELECTOR, '[data-testid="entries"]').is_displayed())
        found["expanded row"] = browser.execute_script(OVERFLOWS)
        browser.save_screenshot(str(ARTIFACTS / f"fit_expanded_{width}.png"))
    problems = "\n".join(f"{name}: {box}" for name, boxes in found.items() for box in boxes)
    assert not problems, problems


def test_many_columns_scroll_inside_their_box_with_the_header_in_sight(browser, live_server):
    """Issue 31, item 1: with every column chosen the table scrolls inside its box, a scrollbar above
    it moves it too, and its header stays in sight as the rows scroll; the page itself does not."""
    call_command("source", "demo", stdout=io.StringIO())
    base = live_server.url
    sign_up(browser, base, "hedy@example.org")
    job = annotated_in_browser(browser, base, SYNTHETIC)
    browser.set_window_size(1366, 900)
    browser.get(f"{base}/annotations/{job.id}/variants")
    assert not find_testid(browser, "top-scroll").is_displayed()  # (the default columns fit: no second bar)
    browser.get(f"{base}/annotations/{job.id}/variants?columns=everything")
    top, box = find_testid(browser, "top-scroll"), find_testid(browser, "table-box")
    assert top.is_displayed()
    wide, room = browser.execute_script("return [arguments[0].scrollWidth, arguments[0].clientWidth]", box)
    assert wide > room + 500, (wide, room)
    browser.execute_script("arguments[0].scrollLeft = 400", top)
    wait(browser).until(lambda d: d.execute_script("return arguments[0].scrollLeft", box) == 400)
    browser.execute_script("arguments[0].scrollTop = 600", box)
    header_top, box_top = browser.execute_script(
        "return [arguments[0].querySelector('thead th').getBoundingClientRect().top,"
        " arguments[0].getBoundingClientRect().top]", box)  # fmt: skip
    assert abs(header_top - box_top) <= 2, (header_top, box_top)  # (the header stuck to the box's top)
    page_width, window_width = browser.execute_script("return [document.documentElement.scrollWidth, innerWidth]")
    assert page_width <= window_width
    browser.save_screenshot(str(ARTIFACTS / "many_columns_1366.png"))


def test_charts_genes_pages_and_a_shared_filter_set_keep_the_filters(browser, live_server):
    """Issue 31: on the variant table a chart's bar and a gene link add to the filters in force; the
    counts are right on pages 1 and 2; the filters saved as a set are applied to a second job and
    opened again from the set's shared link."""
    from jobs.models import Job
    from jobs.results.filters import parse_filter
    from jobs.results.tables import table_for

    base = live_server.url
    sign_up(browser, base, "barbara@example.org")
    first = annotated_in_browser(browser, base, SYNTHETIC)
    browser.get(f"{base}/annotate")
    browser.find_element(By.NAME, "file").send_keys(str(SYNTHETIC))
    click(browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]"))
    wait(browser).until(lambda d: "Pending" in d.page_source)
    worker("run_annotator")
    second = Job.objects.exclude(id=first.id).get()
    assert second.status == JobStatus.COMPLETED, second.error_message
    browser.set_window_size(1366, 900)
    browser.get(f"{base}/annotations/{first.id}/variants?impact=MODIFIER")
    click(find_testid(browser, "table-charts").find_element(By.TAG_NAME, "summary"))
    bar = next(link for link in browser.find_elements(By.CSS_SELECTOR, '[data-testid="table-chart-link"]')
               if link.text.replace("\n", " ").startswith("intron_variant "))  # fmt: skip
    click(bar)
    wait(browser).until(lambda d: "most_severe=intron_variant" in d.current_url and "impact=MODIFIER" in d.current_url)
    expected = table_for(first).count(parse_filter({"impact": "MODIFIER", "most_severe": "intron_variant"}))
    assert expected > 100 and find_testid(browser, "match-count").text == str(expected)
    assert find_testid(browser, "shown-range").text == "1\u201350"
    click(find_testid(browser, "next-page"))
    wait(browser).until(lambda d: find_testid(d, "shown-range").text == "51\u2013100")
    assert find_testid(browser, "match-count").text == str(expected)
    # a gene link keeps the filters in force
    row = browser.find_element(By.CSS_SELECTOR, '[data-testid="variant-row"]')
    gene = row.find_elements(By.TAG_NAME, "td")[4].find_element(By.TAG_NAME, "a")
    symbol = gene.text
    click(gene)
    wait(browser).until(lambda d: f"gene={symbol}" in d.current_url)
    assert "most_severe=intron_variant" in browser.current_url and "impact=MODIFIER" in browser.current_url
    in_gene = table_for(first).count(parse_filter({"impact": "MODIFIER", "most_severe": "intron_variant",
                                                   "gene": symbol}))  # fmt: skip
    assert find_testid(browser, "match-count").text == str(in_gene)
    # kept as a set, applied to the second job, then opened from its shared link
    form = find_testid(browser, "save-filter-set")
    form.find_element(By.NAME, "name").send_keys("intronic in one gene")
    click(form.find_element(By.CSS_SELECTOR, "button[type=submit]"))
    wait(browser).until(lambda d: "Saved the filter set" in d.page_source)
    browser.get(f"{base}/annotations/{second.id}/variants")
    click(find_testid(browser, "filter-set").find_element(By.PARTIAL_LINK_TEXT, "intronic in one gene"))
    wait(browser).until(lambda d: str(second.id) in d.current_url and f"gene={symbol}" in d.current_url)
    assert find_testid(browser, "match-count").text == str(in_gene)
    click(find_testid(browser, "share-filter-set"))
    assert find_testid(browser, "shared-name").text == "intronic in one gene"
    links = browser.find_elements(By.CSS_SELECTOR, '[data-testid="apply-shared"]')
    assert len(links) == 2
    click(links[-1])  # (the older job: the first)
    wait(browser).until(lambda d: str(first.id) in d.current_url)
    assert find_testid(browser, "match-count").text == str(in_gene)
    browser.save_screenshot(str(ARTIFACTS / "shared_filter_set_applied_1366.png"))
