"""Never silent, over real HTTP through the local Functions host: a report whose job's container refused it is
served with its delivery in words (JSON, Markdown, the report page, the status page), and a hub that throttles
everything keeps its last known jobs on the status page and in GET /api/jobs, with a visible warning, the reason
and the age, hubs in trouble counted first."""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Iterator

import pytest

from devstack.azurite import AzuriteInfo
from devstack.hubsim import HubSimulator
from devstack.hubsim.vocab import FaultKind, Operation
from tests.fixtures.funchost import FuncHostFactory
from tests.support import served
from tests.support.poller import new_container, read_only_sas_uri
from tests.support.routes import HUBS, Site, ago, assert_inert, start_site

READ_ONLY_JOB = "job-read-only-1"
NO_WRITE = "not written beside the job: the SAS has no Write permission: create the job with sp=rwd"


@pytest.fixture(scope="module")
def trouble_site(funchost_factory: FuncHostFactory, hubsim: HubSimulator, azurite: AzuriteInfo) -> Iterator[Site]:
    started = start_site(funchost_factory, hubsim, azurite)
    served.seed(hubsim, [served.job(READ_ONLY_JOB, "failed", failureReason="ErrorCode:Forbidden;no write",
                                    outputBlobContainerUri=read_only_sas_uri(azurite, new_container(azurite)),
                                    startTimeUtc=ago(minutes=8), endTimeUtc=ago(minutes=7))])
    started.tick()
    yield started
    started.host.stop()
    for hub in hubsim.hub_names:
        hubsim.control(hub).reset(jobs=True)


def test_a_report_refused_beside_the_job_is_served_saying_so(trouble_site: Site) -> None:
    site = trouble_site
    response = site.get(f"jobs/{READ_ONLY_JOB}/report")
    assert response.status_code == 200, response.text
    delivery = response.json()["delivery"]
    assert (delivery["state"], delivery["httpStatus"], delivery["errorCode"]) == (
        "refused", 403, "AuthorizationPermissionMismatch")
    markdown = site.get(f"jobs/{READ_ONLY_JOB}/report", headers={"Accept": "text/markdown"}).text
    assert "| Beside the job | not written beside the job: the SAS has no Write permission: create the job" in markdown
    page = assert_inert(site.get(f"status/jobs/{READ_ONLY_JOB}/report").text).all_text
    assert NO_WRITE in page and "What to do" in page
    site.secrets().assert_absent(response.text + markdown + page, "the report")


def test_the_status_page_links_the_refused_report_and_says_why_in_words(trouble_site: Site) -> None:
    parsed = assert_inert(trouble_site.get("status").text)
    assert NO_WRITE in parsed.all_text
    links = {urllib.parse.urlsplit(attrs["href"] or "").path for attrs in parsed.named("a")
             if "report" in (attrs.get("href") or "")}
    assert f"status/jobs/{READ_ONLY_JOB}/report" in links
    assert "written beside the job" in parsed.all_text  # the failed import's report, delivered


def test_a_hub_that_throttles_everything_keeps_its_last_known_jobs_with_a_warning(trouble_site: Site) -> None:
    site = trouble_site
    before = site.get("jobs", params={"hub": "otherhub"}).json()
    assert "trouble" not in before and before["jobs"]
    for hub in HUBS:
        site.env.hubsim.control(hub).queue_fault(FaultKind.THROTTLE, count=1000, operation=Operation.LIST,
                                                 retry_after=120)
    time.sleep(2.5)  # past GET_JOB_CACHE_TTL_SECONDS (2 s): the next answer asks the hub
    calls = served.hub_counters(site.env.hubsim)
    for _ in range(3):  # the hub's 429, then its call budget paused: every answer says so
        listed = site.get("jobs", params={"hub": "otherhub"})
        assert listed.status_code == 200, listed.text
        body = listed.json()
        assert [job["jobId"] for job in body["jobs"]] == [job["jobId"] for job in before["jobs"]]
        assert body["trouble"]["error"] == "UpstreamThrottled" and body["trouble"]["lastKnown"] is True
        assert body["trouble"]["ageSeconds"] >= 2
        response = site.get("status")
        assert response.status_code == 200
        parsed = assert_inert(response.text)
        text = parsed.all_text
        for job_id in (site.import_job, site.failed_job, READ_ONLY_JOB, "other-running"):
            assert job_id in text  # the last known jobs are still there
        assert text.index("2 of 2 hub(s) in trouble") < text.index("job(s) of the last")  # trouble first
        assert text.count("This hub is in trouble: its jobs could not be listed") == 2
        assert "UpstreamThrottled" in text and "s ago" in text
    after = served.hub_counters(site.env.hubsim)
    # One 429 per hub at most (Retry-After 120 s pauses every instance): the page adds no hub call of its own.
    assert all(after[hub] - calls[hub] <= 1 for hub in HUBS), (calls, after)
