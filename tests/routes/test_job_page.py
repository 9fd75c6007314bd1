"""GET /api/status/jobs/{jobId} over real HTTP: every job has a page (a running job, a completed export, a failed
import), with its timeline from the snapshots the real poller wrote beside it, links to them and to latest.json
without any signature, the report when there is one, and the job's JSON as get_job answers it; errors are
get_job's JSON errors."""

from __future__ import annotations

import json
import urllib.parse

import requests

from tests.support import served
from tests.support.routes import Elements, Site, assert_inert, page_headers_ok


def _page(site: Site, job_id: str, **params: str) -> tuple[int, str, Elements | None]:
    response = site.get(f"status/jobs/{urllib.parse.quote(job_id, safe='')}", params={"hub": "devhub", **params})
    if response.status_code != 200:
        return response.status_code, response.text, None
    page_headers_ok(response)
    site.secrets().assert_absent(response.text, f"the page of {job_id}")
    return 200, response.text, assert_inert(response.text)


def test_a_running_job_s_page_draws_its_snapshots_and_links_them_without_a_signature(site: Site) -> None:
    status, text, parsed = _page(site, site.stalled_job)
    assert status == 200 and parsed is not None, text
    assert parsed.all_text.count(site.stalled_job) >= 2  # the heading and the job's JSON
    assert "Progress over time" in text  # the chart
    hrefs = [attrs.get("href") or "" for attrs in parsed.named("a")]
    snapshots = [href for href in hrefs if f"/jobmonitor/{site.stalled_job}/snapshots/" in href]
    assert snapshots, hrefs
    assert any(href.endswith(f"/jobmonitor/{site.stalled_job}/latest.json") for href in hrefs)
    assert not any("sig=" in href for href in hrefs)
    # The JSON shown is get_job's answer: the same document, SAS signature redacted.
    answer = site.get(f"jobs/{site.stalled_job}", params={"hub": "devhub"}).json()
    shown = text.split('<pre class="json">', 1)[1].split("</pre>", 1)[0]
    import html

    assert json.loads(html.unescape(shown)) == answer
    assert "sig=REDACTED" in shown


def test_an_export_has_a_page_and_a_report_is_linked_from_its_job_s_page(site: Site) -> None:
    status, text, parsed = _page(site, site.export_job)
    assert status == 200 and parsed is not None, text
    assert "Job job-export-1" in parsed.all_text
    # Its container is on a storage host no stand-in serves: the page says so, with the reason, and goes on.
    assert "No snapshot to draw: the job's folder could not be listed (ServiceRequestError)" in parsed.all_text
    status, text, parsed = _page(site, site.import_job, code=site.key)
    assert status == 200 and parsed is not None, text
    reports = [attrs.get("href") or "" for attrs in parsed.named("a") if "/report?" in (attrs.get("href") or "")]
    assert reports == [f"{site.import_job}/report?hub=devhub&code={urllib.parse.quote(site.key)}"]
    # Relative to the job's page, the link is the report page under /api/status, which opens.
    url = urllib.parse.urljoin(f"{site.host.url}/api/status/jobs/{site.import_job}", reports[0])
    assert url.startswith(f"{site.host.url}/api/status/jobs/{site.import_job}/report?")
    opened = requests.get(url, timeout=60)
    assert opened.status_code == 200 and "IoT Hub import completed" in opened.text
    assert "The report beside the job: written." in parsed.all_text


def test_the_status_page_links_every_valid_job_id_to_its_page(site: Site) -> None:
    parsed = assert_inert(site.get("status").text)
    pages = {attrs.get("href") for attrs in parsed.named("a") if "status/jobs/" in (attrs.get("href") or "")}
    for job_id in (site.import_job, site.failed_job, site.export_job, site.stalled_job):
        assert f"status/jobs/{job_id}?hub=devhub" in pages, job_id


def test_a_job_the_hub_does_not_know_is_get_job_s_404_and_a_bad_id_a_400(site: Site) -> None:
    status, text, _ = _page(site, "no-such-job")
    assert status == 404 and json.loads(text)["error"]["code"] == "JobNotFound"
    before = served.hub_counters(site.env.hubsim)
    status, text, _ = _page(site, "bad..id")
    assert status == 400 and json.loads(text)["error"]["code"] == "InvalidJobId"
    assert served.hub_counters(site.env.hubsim) == before
