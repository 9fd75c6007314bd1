"""The list filters over real HTTP, on GET /api/jobs and the status page alike (shared/proxy/filters.py): free
text, `since`, the continuation of "older" links, a filtered page as a shareable link, bad input refused before
any hub call. The pure rules: tests/unit/test_list_filters.py."""

from __future__ import annotations

import urllib.parse

import pytest
import requests

from tests.support import served
from tests.support.routes import HOSTILE_JOB_ID, Site, ago, assert_inert, listed_ids, page_headers_ok


def _section_ids(page: str, hub: str) -> list[str]:
    """The job ids a hub's section of the status page shows, in order (from the links to their pages)."""
    parsed = assert_inert(page)
    ids = []
    for attrs in parsed.named("a"):
        link = urllib.parse.urlsplit(attrs.get("href") or "")
        parts = link.path.split("/")
        if len(parts) == 3 and parts[:2] == ["status", "jobs"] and f"hub={hub}" in link.query:
            ids.append(urllib.parse.unquote(parts[2]))
    return ids


def _older(page: str, hub: str) -> str | None:
    for attrs in assert_inert(page).named("a"):
        if attrs.get("rel") == "next" and attrs.get("aria-label") == f"Older jobs on {hub}":
            return attrs.get("href")
    return None


def test_the_list_route_finds_a_job_by_a_piece_of_its_id_or_reason_and_by_age(site: Site) -> None:
    assert listed_ids(site.get("jobs", params={"q": "EXPORT-1"})) == [site.export_job]
    assert listed_ids(site.get("jobs", params={"q": "alert(\"reason\")"})) == [site.failed_job, HOSTILE_JOB_ID]
    assert listed_ids(site.get("jobs", params={"since": "1d"})) == [site.import_job, site.stalled_job,
                                                                    site.export_job, site.failed_job]
    assert listed_ids(site.get("jobs", params={"since": ago(minutes=15), "status": "running"})) == [site.stalled_job]
    assert listed_ids(site.get("jobs", params={"since": ago(minutes=15), "type": "export"})) == []


def test_the_list_route_continues_after_the_last_job_it_gave(site: Site) -> None:
    everything = listed_ids(site.get("jobs"))
    first = site.get("jobs", params={"top": "2"}).json()["jobs"]
    cursor = f"{first[-1].get('startTimeUtc') or ''}|{first[-1]['jobId']}"
    rest = listed_ids(site.get("jobs", params={"before": cursor}))
    assert [job["jobId"] for job in first] + rest == everything


def test_a_filtered_page_is_a_link_that_shows_only_the_matching_jobs(site: Site) -> None:
    response = site.get("status", params={"status": "failed,cancelled", "q": "job-"})
    assert response.status_code == 200, response.text
    page_headers_ok(response)
    assert _section_ids(response.text, "devhub") == [site.failed_job]
    assert _section_ids(response.text, "otherhub") == []
    assert "No jobs match these filters" in assert_inert(response.text).all_text
    # Each filter link keeps the others; the current choice is marked.
    links = [attrs for attrs in assert_inert(response.text).named("a") if attrs.get("aria-current") == "true"]
    assert {urllib.parse.parse_qs(urllib.parse.urlsplit(a["href"] or "").query).get("status", [""])[0]
            for a in links} >= {"failed,cancelled"}
    one_hub = site.get("status", params={"hub": "otherhub"})
    assert _section_ids(one_hub.text, "otherhub") == ["other-running"]  # other-old is outside the window
    assert "Hub devhub" not in one_hub.text


def test_older_links_page_through_a_hub_without_loss_or_repeat(site: Site) -> None:
    window = listed_ids(site.get("jobs", params={"since": "7d"}))
    seen: list[str] = []
    link: str | None = "status?" + urllib.parse.urlencode({"top": "2", "code": site.key})
    for _ in range(len(window) + 1):
        if link is None:
            break
        page = requests.get(urllib.parse.urljoin(f"{site.host.url}/api/", link), timeout=60)  # opened as a person would
        assert page.status_code == 200, page.text[:300]
        text = page.text
        shown = _section_ids(text, "devhub")
        assert len(shown) <= 2  # the hostile id shows as text, without a link: counted out below
        seen += shown
        older = _older(text, "devhub")
        link = older
        if older is not None:
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(older).query)
            assert query["hub"] == ["devhub"] and query["top"] == ["2"] and query["code"] == [site.key]
    valid = [job for job in window if job != HOSTILE_JOB_ID]  # no page link for an id no route accepts
    assert seen == valid


@pytest.mark.parametrize(("params", "status", "code"), [
    ({"q": "x" * 101}, 400, "InvalidFilter"),
    ({"since": "forever"}, 400, "InvalidFilter"),
    ({"before": "|job-export-1"}, 400, "InvalidFilter"),  # a continuation needs its hub
    ({"status": "Failed"}, 400, "InvalidFilter"),
    ({"top": "500"}, 400, "InvalidTop"),
    ({"hub": "nohub"}, 404, "UnknownHub"),
])
def test_bad_page_filters_are_json_errors_before_any_hub_call(site: Site, params: dict[str, str], status: int,
                                                              code: str) -> None:
    before = served.hub_counters(site.env.hubsim)
    response = site.get("status", params=params)
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["error"]["code"] == code
    assert served.hub_counters(site.env.hubsim) == before
