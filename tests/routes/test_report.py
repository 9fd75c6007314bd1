"""The report over real HTTP: GET /api/jobs/{jobId}/report for scripts (the poller's stored copy as JSON or Markdown;
HTML is a 303 to the page) and GET /api/status/jobs/{jobId}/report, the page for people, under /api/status where
sign-in covers it; 404 for a job without a report; hostile ids refused; markup in device ids and failure reasons
inert."""

from __future__ import annotations

import urllib.parse

import pytest
import requests

from tests.support import served
from tests.support.routes import (
    HOSTILE_REASON,
    HTML_DEVICE_ID,
    SCRIPT_DEVICE_ID,
    Site,
    assert_inert,
    page_headers_ok,
)


def test_json_by_default_is_the_stored_copy(site: Site) -> None:
    response = site.get(f"jobs/{site.import_job}/report")
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.headers["Vary"] == "Accept"
    report = response.json()
    assert report == site.env.report_copy(site.import_job)
    assert (report["kind"], report["jobId"], report["hub"]) == ("import", site.import_job, "devhub")
    devices = {entry.get("deviceId") for entry in report["importErrors"]["firstEntries"]}
    assert {HTML_DEVICE_ID, SCRIPT_DEVICE_ID} <= devices  # the JSON keeps the raw (redacted) values
    site.secrets().assert_absent(response.text, "the report")


def test_markdown_for_text_markdown(site: Site) -> None:
    response = site.get(f"jobs/{site.failed_job}/report", headers={"Accept": "text/markdown"})
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/markdown")
    assert response.text.startswith("# IoT Hub import failed")
    assert "<script>" not in response.text
    assert "&lt;script&gt;" in response.text


def test_the_html_page_explains_the_codes_and_keeps_markup_inert(site: Site) -> None:
    response = site.get(f"status/jobs/{site.import_job}/report", headers={"Accept": "application/json"})
    assert response.status_code == 200
    page_headers_ok(response)
    parsed = assert_inert(response.text)
    text = parsed.all_text
    assert "IoT Hub import completed" in text
    assert HTML_DEVICE_ID in text and SCRIPT_DEVICE_ID in text  # shown as text, whole
    assert "404001" in text and "DeviceNotFound" in text  # the code, named and explained
    assert {attrs.get("scope") for attrs in parsed.named("th")} >= {"row", "col"}
    assert any(attrs.get("role") == "img" for attrs in parsed.named("svg"))  # the timeline chart
    assert list(parsed.named("polyline")) or list(parsed.named("circle"))
    site.secrets().assert_absent(response.text, "the report page")


def test_a_failure_report_page_shows_the_reason_as_text(site: Site) -> None:
    response = site.get(f"status/jobs/{site.failed_job}/report")
    assert response.status_code == 200
    parsed = assert_inert(response.text)
    assert HOSTILE_REASON in parsed.all_text


@pytest.mark.parametrize("accept", ["text/html", "text/html,application/xhtml+xml,*/*;q=0.8"])
def test_a_browser_on_the_scripts_route_is_sent_to_the_page_under_sign_in(site: Site, accept: str) -> None:
    # /api/jobs/* is left out of sign-in for scripts: a page for people there would be outside it (issue 22).
    for key_in_url in (False, True):
        params = {"hub": "devhub", **({"code": site.key} if key_in_url else {})}
        response = requests.get(f"{site.host.url}/api/jobs/{site.failed_job}/report", params=params, timeout=60,
                                allow_redirects=False, headers={"Accept": accept, "x-functions-key": site.key})
        assert response.status_code == 303, response.text
        assert response.content == b"" and response.headers["Cache-Control"] == "no-store"
        target = urllib.parse.urlsplit(urllib.parse.urljoin(response.url, response.headers["Location"]))
        assert target.path == f"/api/status/jobs/{site.failed_job}/report"
        # The key goes on only where it came in the URL (as the status page's links carry it); a header stays put.
        expected = {"hub": ["devhub"], **({"code": [site.key]} if key_in_url else {})}
        assert urllib.parse.parse_qs(target.query) == expected
    followed = requests.get(response.url, timeout=60, headers={"Accept": "text/html"})
    assert followed.history[0].status_code == 303 and followed.status_code == 200
    assert HOSTILE_REASON in assert_inert(followed.text).all_text
    # Scripts keep their forms on the same route.
    assert site.get(f"jobs/{site.failed_job}/report").json()["jobId"] == site.failed_job
    markdown = site.get(f"jobs/{site.failed_job}/report", headers={"Accept": "text/markdown"})
    assert markdown.status_code == 200 and markdown.headers["Content-Type"].startswith("text/markdown")


def test_the_report_page_links_back_to_the_status_page(site: Site) -> None:
    page = site.get(f"status/jobs/{site.failed_job}/report", params={"code": site.key})
    base = f"{site.host.url}/api/status/jobs/{site.failed_job}/report"
    links = [urllib.parse.urljoin(base, attrs.get("href") or "") for attrs in assert_inert(page.text).named("a")]
    back = [url for url in links if urllib.parse.urlsplit(url).path == "/api/status"]
    assert len(back) == 1, links
    url = back[0]
    assert requests.get(url, timeout=60).status_code == 200  # the key came along


@pytest.mark.parametrize("accept", ["application/json", "text/markdown", "text/html"])
def test_a_job_without_a_report_is_404_json_in_every_format(site: Site, accept: str) -> None:
    for job_id in (site.export_job, "no-such-job", site.stalled_job):
        for path in (f"jobs/{job_id}/report", f"status/jobs/{job_id}/report"):
            response = site.get(path, headers={"Accept": accept})  # text/html on the first: after its 303
            assert response.status_code == 404, (path, response.text)
            assert response.headers["Content-Type"].startswith("application/json")
            assert response.json()["error"]["code"] == "ReportNotFound"


@pytest.mark.parametrize("target", [
    b"/api/jobs/..%2F..%2Fjobmonitor-state%2Fhubs%2Fdevhub/report",
    b"/api/jobs/%2E%2E/report",
    b"/api/jobs/a..b/report",
    b"/api/jobs/%3Cscript%3E/report",
    b"/api/jobs/https%3A%2F%2Fevil.example%2Fr.json/report",
    b"/api/jobs/" + b"a" * 129 + b"/report",
    b"/api/jobs/job%00x/report",
    b"/api/status/jobs/..%2F..%2Fjobmonitor-state%2Fhubs%2Fdevhub/report",
    b"/api/status/jobs/a..b/report",
    b"/api/status/jobs/%3Cscript%3E/report",
])
def test_hostile_ids_are_400_and_read_nothing(site: Site, target: bytes) -> None:
    before = served.hub_counters(site.env.hubsim)
    response = served.raw_request(site.host.port, target, headers={"x-functions-key": site.key})
    assert response.status in (400, 404), (response.status, response.body[:200])
    if response.status == 400:
        assert b'"InvalidJobId"' in response.body
    assert served.hub_counters(site.env.hubsim) == before


def test_the_hub_parameter_picks_the_copy_of_that_hub(site: Site) -> None:
    assert site.get(f"jobs/{site.import_job}/report", params={"hub": "otherhub"}).status_code == 404
    assert site.get(f"jobs/{site.import_job}/report", params={"hub": "nohub"}).json()["error"]["code"] == "UnknownHub"
    assert site.get(f"jobs/{site.import_job}/report", params={"hub": "x/y"}).status_code == 400


def test_an_etag_answers_304_per_format(site: Site) -> None:
    first = site.get(f"status/jobs/{site.failed_job}/report")
    again = site.get(f"status/jobs/{site.failed_job}/report", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    as_json = site.get(f"jobs/{site.failed_job}/report", headers={"If-None-Match": first.headers["ETag"]})
    assert as_json.status_code == 200
    markdown = site.get(f"jobs/{site.failed_job}/report", headers={"Accept": "text/markdown"})
    again = site.get(f"jobs/{site.failed_job}/report",
                     headers={"Accept": "text/markdown", "If-None-Match": markdown.headers["ETag"]})
    assert again.status_code == 304
