"""GET /api/jobs over real HTTP: newest first, filters, top, redaction, bad input refused before any hub call."""

from __future__ import annotations

import pytest

from tests.support import served
from tests.support.routes import HOSTILE_JOB_ID, Site, listed_ids


def test_the_hub_s_jobs_come_newest_first_with_signatures_redacted(site: Site) -> None:
    response = site.get("jobs")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["hub"] == "devhub"
    ids = listed_ids(response)
    # The import was created last (now), then the seeded ones by their start times; the hostile one is 2 days old.
    assert ids == [site.import_job, site.stalled_job, site.export_job, site.failed_job, HOSTILE_JOB_ID]
    assert "sig=REDACTED" in response.text
    site.secrets().assert_absent(response.text + str(dict(response.headers)), "the list")


def test_filters_and_top_select_from_the_cached_list(site: Site) -> None:
    failed = site.get("jobs", params={"status": "failed,cancelled"})
    assert listed_ids(failed) == [site.failed_job, HOSTILE_JOB_ID]
    imports = site.get("jobs", params={"type": "import", "status": "completed"})
    assert listed_ids(imports) == [site.import_job]
    assert listed_ids(site.get("jobs", params={"top": "2"})) == [site.import_job, site.stalled_job]
    other = site.get("jobs", params={"hub": "otherhub"})
    assert other.json()["hub"] == "otherhub"
    assert listed_ids(other) == ["other-running", "other-old"]


@pytest.mark.parametrize(("params", "code"), [
    ({"status": "Failed"}, "InvalidFilter"),
    ({"status": "failed,"}, "InvalidFilter"),
    ({"status": "failed,<script>"}, "InvalidFilter"),
    ({"type": "import,exportt"}, "InvalidFilter"),
    ({"type": "' OR 1=1 --"}, "InvalidFilter"),
    ({"top": "0"}, "InvalidTop"),
    ({"top": "-1"}, "InvalidTop"),
    ({"top": "10001"}, "InvalidTop"),
    ({"top": "1e3"}, "InvalidTop"),
    ({"top": "007"}, "InvalidTop"),
    ({"top": "\u0661"}, "InvalidTop"),  # an Arabic-Indic digit: int() would take it
    ({"hub": "../devhub"}, "UnknownHub"),
    ({"api-version": "2099-01-01"}, "InvalidApiVersion"),
])
def test_bad_input_is_400_json_before_any_hub_call(site: Site, params: dict[str, str], code: str) -> None:
    before = served.hub_counters(site.env.hubsim)
    response = site.get("jobs", params=params)
    assert response.status_code == 400, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["error"]["code"] == code
    assert served.hub_counters(site.env.hubsim) == before


def test_an_etag_answers_304_and_head_has_no_body(site: Site) -> None:
    first = site.get("jobs", params={"status": "running"})
    again = site.get("jobs", params={"status": "running"}, headers={"If-None-Match": first.headers["ETag"]})
    assert (again.status_code, again.content) == (304, b"")
    other_filter = site.get("jobs", params={"status": "failed"}, headers={"If-None-Match": first.headers["ETag"]})
    assert other_filter.status_code == 200
    head = site.get("jobs", method="HEAD")
    assert (head.status_code, head.content) == (200, b"")


def test_other_methods_are_405_with_allow(site: Site) -> None:
    response = site.get("jobs", method="POST")
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, HEAD"
    assert response.json()["error"]["code"] == "MethodNotAllowed"
