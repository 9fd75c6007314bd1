"""Finding a job on the status page, in headless Chromium, against the local Functions host with the devstack's
demo jobs (through the official IoT Hub SDK), the poller's files, and one more failed job whose failure reason
is long: a filtered page opened from its filter link, the "older" link, an export's job page, the reason that
expands in place, the exact time on hover, and a phone width. Screenshots go to docs/images/ with
UPDATE_SCREENSHOTS=1 (issue 23's closing note names them)."""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devstack.azurite import AzuriteInfo
from devstack.hubsim import HubSimulator
from tests.browser.test_status_page_browser import Demo, Watched, _save, demo_site
from tests.fixtures.funchost import FuncHostFactory
from tests.support import served

LONG_REASON_JOB = "job-long-reason"
# Longer than the row shows (160 characters): the rest opens in place.
LONG_REASON = ("ErrorCode:ImportErrors;" + "device import rejected: the input line did not parse. " * 5
               + "END-OF-REASON")


@pytest.fixture(scope="module")
def found(funchost_factory: FuncHostFactory, hubsim: HubSimulator, azurite: AzuriteInfo) -> Iterator[Demo]:
    yield from demo_site(funchost_factory, hubsim, azurite, more_jobs=[
        served.job(LONG_REASON_JOB, "failed", type="import", failureReason=LONG_REASON)])


def _query(page: Any) -> dict[str, list[str]]:
    return urllib.parse.parse_qs(urllib.parse.urlsplit(page.url).query)


def test_a_filter_link_opens_a_shareable_page_of_the_matching_jobs(found: Demo, page: Any, tmp_path: Path) -> None:
    watched = Watched(page, found.host.url)
    page.goto(found.status_url, wait_until="load")
    page.get_by_role("navigation", name="Filters").get_by_role("link", name="failed or cancelled").click()
    page.wait_for_load_state("load")
    assert _query(page)["status"] == ["failed,cancelled"]
    assert page.get_by_text(found.jobs.failed_import_job_id, exact=True).count() == 1
    assert page.get_by_text(found.jobs.export_job_id, exact=True).count() == 0
    shared = page.url
    # The same address opened anew (as a colleague would) shows the same jobs.
    other = page.context.new_page()
    other.goto(shared, wait_until="load")
    assert other.get_by_text(found.jobs.export_job_id, exact=True).count() == 0
    assert other.get_by_text(found.jobs.failed_import_job_id, exact=True).count() == 1
    other.close()
    # A time reads relative; hovering it shows the exact UTC time.
    started = page.locator("table.jobs time").first
    exact = started.locator("i")
    assert exact.bounding_box() is None or exact.bounding_box()["width"] <= 1
    started.hover()
    box = exact.bounding_box()
    assert box is not None and box["width"] > 50, box
    assert exact.inner_text().endswith("UTC)")
    _save(page, tmp_path, "status-page-filtered.png")
    watched.assert_clean()


def test_the_older_link_continues_after_the_last_job_shown(found: Demo, page: Any) -> None:
    watched = Watched(page, found.host.url)
    page.goto(f"{found.status_url}&hub=devhub&top=1", wait_until="load")
    first = page.locator("table.jobs tbody tr td:first-child").all_inner_texts()
    assert len(first) == 1
    seen = list(first)
    for _ in range(5):
        older = page.get_by_role("link", name="Older jobs on devhub")
        if older.count() == 0:
            break
        older.click()
        page.wait_for_load_state("load")
        assert "before" in _query(page) and _query(page)["top"] == ["1"]
        assert page.get_by_role("link", name="newest jobs").count() == 1
        seen += page.locator("table.jobs tbody tr td:first-child").all_inner_texts()
    assert len(seen) == len(set(seen)) == 5, seen  # the four demo jobs and the long-reason one, each once
    watched.assert_clean()


def test_an_export_has_a_job_page_with_its_timeline(found: Demo, page: Any, tmp_path: Path) -> None:
    watched = Watched(page, found.host.url)
    page.goto(found.status_url, wait_until="load")
    page.get_by_role("link", name=found.jobs.export_job_id, exact=True).click()
    page.wait_for_load_state("load")
    assert f"/api/status/jobs/{found.jobs.export_job_id}?" in page.url  # under sign-in, not /api/jobs
    assert page.locator("h1").inner_text() == f"Job {found.jobs.export_job_id}"
    assert page.get_by_role("img", name="Progress over time").count() == 1
    assert page.get_by_role("link", name="latest.json (the newest snapshot and the stall flag)").count() == 1
    assert '"jobId"' in page.locator("pre.json").inner_text()
    _save(page, tmp_path, "job-page-export.png")
    page.get_by_role("link", name="← All jobs on devhub").click()
    page.wait_for_load_state("load")
    assert page.url.startswith(f"{found.host.url}/api/status")
    watched.assert_clean()


def test_a_long_failure_reason_expands_in_place(found: Demo, page: Any, tmp_path: Path) -> None:
    watched = Watched(page, found.host.url)
    page.goto(f"{found.status_url}&q={LONG_REASON_JOB}", wait_until="load")
    reason = page.locator("table.jobs details")
    assert reason.count() == 1
    assert not page.get_by_text("END-OF-REASON").is_visible()
    reason.locator("summary").click()
    assert reason.get_attribute("open") is not None
    assert page.get_by_text("END-OF-REASON").is_visible()
    _save(page, tmp_path, "status-page-reason-open.png")
    watched.assert_clean()


def test_a_filtered_page_and_a_job_page_fit_a_phone(found: Demo, browser: Any, tmp_path: Path) -> None:
    context = browser.new_context(viewport={"width": 375, "height": 740}, device_scale_factor=2, is_mobile=True,
                                  has_touch=True)
    try:
        phone = context.new_page()
        watched = Watched(phone, found.host.url)
        phone.goto(f"{found.status_url}&status=failed,cancelled", wait_until="load")
        assert phone.evaluate("document.documentElement.scrollWidth") <= 375
        _save(phone, tmp_path, "status-page-filtered-phone.png")
        phone.goto(f"{found.host.url}/api/status/jobs/{found.jobs.export_job_id}?hub=devhub"
                   f"&code={found.host.function_key}", wait_until="load")
        assert phone.evaluate("document.documentElement.scrollWidth") <= 375
        _save(phone, tmp_path, "job-page-phone.png")
        watched.assert_clean()
    finally:
        context.close()
