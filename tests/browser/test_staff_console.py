"""The staff console in a real browser at 1280 px: the job list's columns all fit, none wraps
into a tall row, and a job's page shows its timeline without a Save button."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from selenium.webdriver.common.by import By

from accounts.models import User
from jobs.models import Job, JobStatus
from tests.browser.conftest import ARTIFACTS
from tests.browser.test_results_in_browser import PASSWORD, click, wait

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def test_the_admin_job_list_reads_at_1280_px(browser, live_server):
    User.objects.create_superuser("staff@example.org", PASSWORD)
    owner = User.objects.create_user("researcher.with.a.long.address@university.example.org", PASSWORD)
    now = timezone.now()
    for number, status in enumerate([JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.RUNNING, JobStatus.PENDING]):
        Job.objects.create(
            owner=owner, input_name=f"trio_{number}_GRCh37_whole_genome_calls.vcf.gz", input_key=f"inputs/{number}",
            status=status, started_at=now - timedelta(minutes=5), completed_at=now, records=1_234_567,
        )  # fmt: skip
    base = live_server.url
    browser.get(f"{base}/admin/login/?next=/admin/jobs/job/")
    browser.find_element(By.NAME, "username").send_keys("staff@example.org")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    click(browser.find_element(By.CSS_SELECTOR, "input[type=submit]"))
    wait(browser).until(lambda d: "/admin/jobs/job/" in d.current_url and "result_list" in d.page_source)

    results = browser.find_element(By.CSS_SELECTOR, "#changelist .results")
    overflow = browser.execute_script("return arguments[0].scrollWidth - arguments[0].clientWidth", results)
    assert overflow <= 0, f"the job list is {overflow} px wider than its box at 1280 px"
    width = browser.execute_script("return arguments[0].getBoundingClientRect().right", results)
    headers = browser.find_elements(By.CSS_SELECTOR, "#result_list thead th")
    names = [header.get_attribute("class").split("column-")[-1].split()[0] for header in headers[1:]]
    assert names == [
        "file", "owner_email", "status", "result_state", "owner_plan", "submitted_at", "duration", "records",
        "short_id",
    ]  # fmt: skip
    for header in headers:  # (every column within the list's box: nothing cut off on the right)
        right = browser.execute_script("return arguments[0].getBoundingClientRect().right", header)
        assert right <= width, (header.text, right, width)
    rows = browser.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")
    assert len(rows) == 4
    line = browser.execute_script(
        "return parseFloat(getComputedStyle(arguments[0]).lineHeight) || 16", rows[0].find_element(By.TAG_NAME, "td")
    )
    for row in rows:  # (no cell wraps onto more than two lines, as the full id did onto four)
        assert row.size["height"] <= 3 * line + 16, (row.text, row.size["height"])
    assert "Queues and dead letters" in browser.page_source
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "admin_job_list_1280.png"))  # (kept for a look)

    click(browser.find_elements(By.CSS_SELECTOR, "#result_list tbody tr th a")[0])
    wait(browser).until(lambda d: "timeline" in d.page_source)
    page = browser.page_source
    assert f"submitted by {owner.email}" in page
    assert not browser.find_elements(By.CSS_SELECTOR, "input[name=_save], input[name=_continue]")
