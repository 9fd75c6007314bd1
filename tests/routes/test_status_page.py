"""GET /api/status over real HTTP: every hub's recent jobs, stall flags and report links from the poller's state,
strict headers, every hostile value inert, usable by a screen reader."""

from __future__ import annotations

import urllib.parse

import requests

from tests.support import served
from tests.support.routes import (
    HOSTILE_JOB_ID,
    HOSTILE_REASON,
    HOSTILE_TYPE,
    Site,
    assert_inert,
    page_headers_ok,
)


def test_the_page_lists_every_hub_s_recent_jobs(site: Site) -> None:
    response = site.get("status")
    assert response.status_code == 200, response.text
    page_headers_ok(response)
    parsed = assert_inert(response.text)
    text = parsed.all_text
    for job_id in (site.import_job, site.failed_job, site.export_job, site.stalled_job, "other-running"):
        assert job_id in text
    assert "other-old" not in text  # 20 days old: outside STATUS_PAGE_DAYS (7)
    assert HOSTILE_JOB_ID in text and HOSTILE_TYPE in text and HOSTILE_REASON in text  # as text
    site.secrets().assert_absent(response.text, "the status page")


def test_the_stalled_job_is_flagged_and_reports_are_linked(site: Site) -> None:
    response = site.get("status")
    parsed = assert_inert(response.text)
    assert "stalled since" in parsed.all_text
    links = [attrs["href"] or "" for attrs in parsed.named("a") if "report" in (attrs.get("href") or "")]
    targets = {urllib.parse.urlsplit(link).path for link in links}
    assert targets == {f"status/jobs/{site.import_job}/report", f"status/jobs/{site.failed_job}/report"}
    for link in links:  # each opens the report page, relative to /api/status
        url = urllib.parse.urljoin(f"{site.host.url}/api/status", link)
        page = served.raw_request(site.host.port, urllib.parse.urlsplit(url).path.encode() + b"?" +
                                  urllib.parse.urlsplit(url).query.encode(),
                                  headers={"x-functions-key": site.key, "Accept": "text/html"})
        assert page.status == 200, page.body[:300]


def test_a_key_in_the_url_is_carried_into_the_report_links_only(site: Site) -> None:
    response = requests.get(f"{site.host.url}/api/status", params={"code": site.key}, timeout=60)
    assert response.status_code == 200
    parsed = assert_inert(response.text)
    links = [attrs["href"] or "" for attrs in parsed.named("a") if "report" in (attrs.get("href") or "")]
    assert links
    assert all(urllib.parse.parse_qs(urllib.parse.urlsplit(link).query)["code"] == [site.key] for link in links)
    assert site.key not in parsed.all_text


def test_the_page_is_made_for_phones_and_screen_readers(site: Site) -> None:
    parsed = assert_inert(site.get("status").text)
    assert any(attrs.get("name") == "viewport" for attrs in parsed.named("meta"))
    assert any(attrs.get("http-equiv") == "refresh" for attrs in parsed.named("meta"))
    assert [name for name, _ in parsed.tags].count("caption") == 2  # one table per hub, each with its caption
    assert all(attrs.get("scope") == "col" for attrs in parsed.named("th"))
    # Each bar sits in the column headed "Progress" (what a screen reader announces with it), its value as text
    # beside it; every time is relative, with the exact UTC time in its text.
    bars = list(parsed.named("progress"))
    assert bars and all(0 <= float(attrs.get("value") or "-1") <= 1 for attrs in bars)
    assert "Progress" in parsed.all_text
    assert [name for name, _ in parsed.tags].count("time") >= 5
    assert " UTC)" in parsed.all_text and " ago" in parsed.all_text


def test_other_methods_are_405_json(site: Site) -> None:
    response = site.get("status", method="DELETE")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "MethodNotAllowed"
    head = site.get("status", method="HEAD")
    assert (head.status_code, head.content) == (200, b"")
