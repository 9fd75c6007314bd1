"""Times that are no time we can use (issue 21, point 6): `0001-01-01T00:00:00+01:00` (before datetime's first
day once in UTC), .NET's DateTime.MaxValue with an offset, a date that does not exist. Each parses to "unknown"
at its field: the report page, /api/jobs and the status page answer 200 and show "unknown", and the poller's
tick still writes the other jobs' reports.

Before: OverflowError out of shared/clock.py's parse_utc, a 500 on each route (and a failed tick)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devstack.azurite import AzuriteInfo
from devstack.hubsim import HubSimulator
from tests.fixtures.funchost import FuncHostFactory
from tests.support import served
from tests.support.poller import PREFIX, PollerEnv, container_sas_uri, new_container, read_json, service
from tests.support.routes import Site, ago, assert_inert, listed_ids

BEFORE_MIN = "0001-01-01T00:00:00+01:00"
AFTER_MAX = "9999-12-31T23:59:59.9999999-01:00"
NO_SUCH_DAY = "2026-02-30T10:00:00Z"
POLLED_METADATA = "monitorpolledat"


@pytest.fixture(scope="module")
def site(funchost_factory: FuncHostFactory, hubsim: HubSimulator, azurite: AzuriteInfo) -> Iterator[Site]:
    hubsim.control("devhub").reset(jobs=True)
    env = PollerEnv(hubsim=hubsim, azurite=azurite, state_container=new_container(azurite, create=False))
    polled, fine = new_container(azurite), new_container(azurite)
    polled_uri, fine_uri = container_sas_uri(azurite, polled), container_sas_uri(azurite, fine)
    failed = {"type": "export", "status": "failed", "progress": 20, "failureReason": "ErrorCode:ServerError;x"}
    served.seed(hubsim, [
        {"jobId": "odd-start", **failed, "outputBlobContainerUri": fine_uri, "startTimeUtc": BEFORE_MIN,
         "endTimeUtc": ago(minutes=1)},
        {"jobId": "odd-end", "type": "export", "status": "running", "progress": 10, "outputBlobContainerUri": fine_uri,
         "startTimeUtc": NO_SUCH_DAY, "endTimeUtc": AFTER_MAX},
        {"jobId": "odd-poll", "type": "export", "status": "running", "progress": 50,
         "outputBlobContainerUri": polled_uri, "startTimeUtc": ago(minutes=5)},
    ])
    host = funchost_factory(served.REPO, env=env.environ(("devhub",), POLL_SCHEDULE="0 0 0 1 1 *"), timers=True)
    site = Site(env=env, host=host, import_job="", failed_job="odd-start", export_job="", stalled_job="odd-end")
    site.tick()
    # Whoever can write the job's container rewrites its snapshot's poll time, then the job fails: its report's
    # timeline is built from that metadata.
    container = service(azurite).get_container_client(polled)
    [snapshot] = [b.name for b in container.list_blobs(name_starts_with=f"{PREFIX}/odd-poll/snapshots/")]
    container.get_blob_client(snapshot).set_blob_metadata({POLLED_METADATA: BEFORE_MIN})
    served.seed(hubsim, [{"jobId": "odd-poll", **failed, "outputBlobContainerUri": polled_uri,
                          "startTimeUtc": ago(minutes=5), "endTimeUtc": ago(seconds=0)},
                         {"jobId": "fine-failed", **failed, "outputBlobContainerUri": fine_uri,
                          "startTimeUtc": ago(minutes=4), "endTimeUtc": ago(seconds=0)}])
    site.tick()
    site.seeded = {"containers": [polled, fine]}
    yield site
    host.stop()
    hubsim.control("devhub").reset(jobs=True)


def test_the_report_page_shows_an_overflowing_poll_time_as_unknown(site: Site) -> None:
    report = site.get("jobs/odd-poll/report")
    assert report.status_code == 200, report.text
    first, last = report.json()["timeline"]  # the running snapshot, whose metadata was rewritten; the failed one
    assert (first["status"], first["polledAtUtc"]) == ("running", "unknown")
    assert last["status"] == "failed" and last["polledAtUtc"] != "unknown"
    page = site.get("jobs/odd-poll/report", headers={"Accept": "text/html"})
    assert page.status_code == 200, page.text
    assert "unknown" in assert_inert(page.text).all_text


def test_a_report_shows_an_overflowing_start_time_as_unknown(site: Site) -> None:
    report = site.get("jobs/odd-start/report")
    assert report.status_code == 200, report.text
    assert (report.json()["startTimeUtc"], report.json()["durationSeconds"]) == ("unknown", None)
    for accept in ("text/html", "text/markdown"):
        assert site.get("jobs/odd-start/report", headers={"Accept": accept}).status_code == 200


def test_the_job_list_answers_with_every_job_whatever_its_times(site: Site) -> None:
    response = site.get("jobs")
    assert response.status_code == 200, response.text
    assert {"odd-start", "odd-end", "odd-poll", "fine-failed"} <= set(listed_ids(response))


def test_the_status_page_shows_unknown_for_times_it_cannot_read(site: Site) -> None:
    response = site.get("status")
    assert response.status_code == 200, response.text
    text = assert_inert(response.text).all_text
    assert "odd-start" in text and "odd-end" in text
    assert "unknown" in text
    assert BEFORE_MIN not in response.text and AFTER_MAX not in response.text


def test_the_hubs_other_jobs_got_their_reports_in_the_same_ticks(site: Site) -> None:
    polled, fine = site.seeded["containers"]
    assert read_json(site.env.azurite, fine, f"{PREFIX}/fine-failed/failure-report.json")["status"] == "failed"
    assert read_json(site.env.azurite, fine, f"{PREFIX}/odd-start/failure-report.json")["startTimeUtc"] == "unknown"
    assert read_json(site.env.azurite, polled, f"{PREFIX}/odd-poll/failure-report.json")["status"] == "failed"
