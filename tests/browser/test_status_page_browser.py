"""The status page and a report page in headless Chromium, against the local Functions host with the devstack's
demo jobs (devstack/demo.py, through the official IoT Hub SDK) and the poller's reports.

The page loads with no console error, no Content-Security-Policy violation and no failed or foreign request; it
shows the demo jobs; its report link opens the report page; a phone-sized viewport needs no sideways scroll of the
page itself. A screenshot of each page is saved (UPDATE_SCREENSHOTS=1 writes them into docs/images/, which the
README and docs/jobs-api.md show).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from devstack.azurite import AzuriteInfo
from devstack.demo import DemoJobs, create_demo_jobs
from devstack.hubsim import HubSimulator
from tests.fixtures.funchost import FuncHostFactory, RunningFuncHost
from tests.support import served
from tests.support.poller import PollerEnv, new_container

DOC_IMAGES = served.REPO / "docs" / "images"


class Demo:
    def __init__(self, host: RunningFuncHost, jobs: DemoJobs, env: PollerEnv) -> None:
        self.host, self.jobs, self.env = host, jobs, env

    @property
    def status_url(self) -> str:
        return f"{self.host.url}/api/status?code={self.host.function_key}"


def demo_site(funchost_factory: FuncHostFactory, hubsim: HubSimulator, azurite: AzuriteInfo,
              *, more_jobs: Sequence[Mapping[str, Any]] = ()) -> Iterator[Demo]:
    """The demo jobs (and `more_jobs`, seeded on devhub) on a host of their own, after one poller tick."""
    import requests

    for hub in hubsim.hub_names:
        hubsim.control(hub).reset(jobs=True)
    jobs = create_demo_jobs(hub="devhub", hub_url=hubsim.hub_url("devhub"),
                            blob_connection_string=azurite.connection_string, timeout=60)
    if more_jobs:
        served.seed(hubsim, more_jobs)
    env = PollerEnv(hubsim=hubsim, azurite=azurite, state_container=new_container(azurite, create=False))
    host = funchost_factory(served.REPO, env=env.environ(("devhub",), POLL_SCHEDULE="0 0 0 1 1 *"), timers=True)
    tick = requests.post(f"{host.url}/admin/functions/poll_job_timer?wait=true", json={"input": ""},
                         headers={"x-functions-key": host.master_key}, timeout=120)
    assert tick.status_code in (200, 202), tick.text
    yield Demo(host, jobs, env)
    host.stop()
    for hub in hubsim.hub_names:
        hubsim.control(hub).reset(jobs=True)


@pytest.fixture(scope="module")
def demo(funchost_factory: FuncHostFactory, hubsim: HubSimulator, azurite: AzuriteInfo) -> Iterator[Demo]:
    yield from demo_site(funchost_factory, hubsim, azurite)


class Watched:
    """What a page did: console messages of type error, failed requests, requests to anywhere but the host."""

    def __init__(self, page: Any, origin: str) -> None:
        self.errors: list[str] = []
        self.failed: list[str] = []
        self.foreign: list[str] = []
        page.on("console", lambda message: self.errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("requestfailed", lambda request: self.failed.append(f"{request.url} {request.failure}"))
        page.on("request", lambda request: None if request.url.startswith(origin) else self.foreign.append(request.url))

    def assert_clean(self) -> None:
        assert self.errors == [], self.errors  # CSP violations are console errors in Chromium
        assert self.failed == [], self.failed
        assert self.foreign == [], self.foreign


def _save(page: Any, tmp_path: Path, name: str) -> Path:
    shot = tmp_path / name
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        DOC_IMAGES.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, DOC_IMAGES / name)
    return shot


def test_the_status_page_shows_the_demo_jobs_cleanly(demo: Demo, page: Any, tmp_path: Path) -> None:
    watched = Watched(page, demo.host.url)
    response = page.goto(demo.status_url, wait_until="load")
    assert response is not None and response.status == 200
    for job_id in (demo.jobs.export_job_id, demo.jobs.import_job_id, demo.jobs.failed_import_job_id):
        assert page.get_by_text(job_id, exact=True).count() == 1, job_id
    assert page.locator("table caption").first.inner_text().startswith("Jobs on devhub")
    assert page.get_by_role("progressbar").count() >= 3
    assert page.title() == "IoT Hub jobs: status"
    _save(page, tmp_path, "status-page.png")
    watched.assert_clean()


def test_the_report_link_opens_the_report_page(demo: Demo, page: Any, tmp_path: Path) -> None:
    watched = Watched(page, demo.host.url)
    page.goto(demo.status_url, wait_until="load")
    link = page.get_by_role("link", name=f"Report of job {demo.jobs.import_job_id}")
    assert link.count() == 1
    link.click()
    page.wait_for_load_state("load")
    assert f"/api/status/jobs/{demo.jobs.import_job_id}/report?" in page.url  # under sign-in, not /api/jobs
    assert page.locator("h1").inner_text().startswith("IoT Hub import completed")
    assert page.get_by_role("img", name="Progress over time").count() == 1  # the SVG timeline
    assert page.get_by_text("400012").count() >= 1  # an error code, with its explanation beside it
    _save(page, tmp_path, "report-page.png")
    page.get_by_role("link", name="← All jobs").click()
    page.wait_for_load_state("load")
    assert page.url.startswith(f"{demo.host.url}/api/status")
    watched.assert_clean()


def test_on_a_phone_the_page_does_not_scroll_sideways(demo: Demo, browser: Any, tmp_path: Path) -> None:
    context = browser.new_context(viewport={"width": 375, "height": 740}, device_scale_factor=2, is_mobile=True,
                                  has_touch=True)
    try:
        phone = context.new_page()
        watched = Watched(phone, demo.host.url)
        phone.goto(demo.status_url, wait_until="load")
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, width  # wide tables scroll inside their own box, not the page
        _save(phone, tmp_path, "status-page-phone.png")
        watched.assert_clean()
    finally:
        context.close()
