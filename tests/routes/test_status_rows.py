"""The status page's rows and the report route's copy, over real HTTP, on a site of their own (jobs this module
changes at the hub): a key sent in a header never reaches a link, a queued job without a start time is listed,
a job that finished is never shown stalled whatever the poller's last record says, and a stored copy is
redacted again on its way out."""

from __future__ import annotations

import json
import re
import time
import urllib.parse
from collections.abc import Iterator

import pytest

from devstack.azurite import AzuriteInfo
from devstack.hubsim import HubSimulator
from shared.clock import parse_utc
from shared.reports.markdown import format_duration
from tests.fixtures.funchost import FuncHostFactory
from tests.routes.conftest import ticked
from tests.support import served
from tests.support.poller import upload_text
from tests.support.routes import Site, ago, assert_inert, start_site
from tests.support.secrets import Secrets, planted

QUEUED = "queued-no-start-1"  # the hub lists a queued job without startTimeUtc
FINISHING = "stall-then-done-1"  # stalled by the poller's two ticks, then completed at the hub
COPY_JOB = "planted-copy-1"  # a report copy planted in storage with secrets in it
LIST_TTL_SECONDS = 0.5
COPY_SIG = planted("report copy signature")
COPY_KEY = planted("report copy key")


@pytest.fixture(scope="module")
def site(funchost_factory: FuncHostFactory, hubsim: HubSimulator, azurite: AzuriteInfo) -> Iterator[Site]:
    started = start_site(funchost_factory, hubsim, azurite, GET_JOB_CACHE_TTL_SECONDS=str(LIST_TTL_SECONDS))
    served.seed(hubsim, [
        served.job(QUEUED, "queued", progress=0, startTimeUtc=None),
        served.job(FINISHING, "running", progress=10, startTimeUtc=ago(minutes=8)),
    ])
    yield from ticked(started, hubsim)  # the running jobs stalled


def _row(page: str, job_id: str) -> str:
    """The job's row: its id cell (a link to the job's page) up to the next row or the table's end, since the page
    leaves the optional end tags of rows and cells out."""
    ident = re.escape(job_id)
    found: list[str] = re.findall(rf'<tr><td><a href="[^"]*">{ident}</a><td>.*?(?=<tr>|</tbody>)', page)
    assert len(found) == 1, f"{job_id}: {len(found)} rows"
    return found[0]


def test_a_key_sent_in_a_header_never_reaches_a_link(site: Site) -> None:
    """The header is the safe way to send the key: copied into a link it would land in browser history, saved
    pages and Referer. Neither the page nor the report page it links to may carry it, in any spelling."""
    key = Secrets()
    key.add("function key", site.key)
    response = site.get("status")  # x-functions-key header, no ?code=
    assert response.status_code == 200
    parsed = assert_inert(response.text)
    links = [attrs.get("href") or "" for attrs in parsed.named("a")]
    assert any("/report?" in link for link in links)  # the report links are there, without the key
    key.assert_absent(response.text, "the status page opened with the key in a header")
    for link in links:
        assert "code" not in urllib.parse.parse_qs(urllib.parse.urlsplit(link).query), link
    report = site.get(f"jobs/{site.failed_job}/report", headers={"Accept": "text/html"})
    assert report.status_code == 200
    key.assert_absent(report.text, "the report page opened with the key in a header")


def test_a_queued_job_without_a_start_time_is_listed(site: Site) -> None:
    listed = site.get("jobs", params={"hub": "devhub"}).json()["jobs"]
    assert [job.get("startTimeUtc") for job in listed if job["jobId"] == QUEUED] == [None]  # as the hub lists it
    row = _row(site.get("status").text, QUEUED)
    assert ">queued<" in row


def test_a_job_that_finished_is_never_shown_stalled(site: Site, hubsim: HubSimulator) -> None:
    before = _row(site.get("status").text, FINISHING)
    assert "stalled since" in before  # the poller flagged it ...
    served.seed(hubsim, [served.job(FINISHING, "completed", startTimeUtc=ago(minutes=8), endTimeUtc=ago(seconds=1))])
    time.sleep(2 * LIST_TTL_SECONDS)  # the page's list cache is past its TTL: the next page lists it completed
    assert site.env.state()["jobs"][FINISHING]["stalled"] is True  # ... and no tick has run since
    page = site.get("status").text
    row = _row(page, FINISHING)
    assert ">completed<" in row
    assert "stalled" not in row
    assert "stalled since" in _row(page, site.stalled_job)  # the job still running stays flagged


def test_the_report_route_redacts_its_stored_copy_again(site: Site) -> None:
    """A copy is redacted when the poller writes it; the route redacts it again, as every answer is, so a copy
    written by an older version (or by hand) with a secret in it never goes out. Looked for literally."""
    secrets = Secrets()
    secrets.add("planted signature", COPY_SIG)
    secrets.add("planted key", COPY_KEY)
    copy = site.env.report_copy(site.failed_job)
    uri = f"https://acct.blob.core.windows.net/out?sv=2021-08-06&se=2030-01-01&sr=c&sp=rl&sig={COPY_SIG}"
    copy.update({"jobId": COPY_JOB, "outputBlobContainerUri": uri, "primaryKey": COPY_KEY,
                 "failureReason": f"copy failed: {uri} AccountKey={COPY_KEY}"})
    upload_text(site.env.azurite, site.env.reports_container, f"devhub/{COPY_JOB}.json", json.dumps(copy))
    for accept in ("application/json", "text/markdown", "text/html"):
        response = site.get(f"jobs/{COPY_JOB}/report", headers={"Accept": accept})
        assert response.status_code == 200, response.text
        assert response.headers["Content-Type"].startswith(accept)
        secrets.assert_absent(response.text, f"the report route's {accept}")
    served_copy = site.get(f"jobs/{COPY_JOB}/report").json()
    assert served_copy["jobId"] == COPY_JOB and "sig=REDACTED" in served_copy["outputBlobContainerUri"]


def test_a_finished_job_shows_how_long_it_ran(site: Site) -> None:
    """Start to end as the hub lists them (a finished job's duration never runs on with the clock)."""
    listed = {job["jobId"]: job for job in site.get("jobs", params={"hub": "devhub"}).json()["jobs"]}
    job = listed[site.export_job]
    started, ended = parse_utc(job["startTimeUtc"]), parse_utc(job["endTimeUtc"])
    assert started is not None and ended is not None
    row = _row(site.get("status").text, site.export_job)
    assert f"<td>{format_duration((ended - started).total_seconds())}<td>" in row
