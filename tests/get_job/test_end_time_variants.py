"""endTimeUtc of a job that has not ended, in each way the simulator can play it (devstack/hubsim, PUT
/devstack/end-time): absent (the default), .NET's DateTime.MinValue, or DateTime.MaxValue (what hub scheduled jobs
answer while running, azure-iot-sdk-csharp issue 467; unverified for import/export jobs). The status page shows
"not ended" for each, never a year 1 or 9999; a job that did end shows its end."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from devstack.hubsim import EndTimeWhileRunning, HubSimulator
from shared.iothub.auth import build_hub_auth
from shared.iothub.client import HubClient
from shared.jobs import NOT_ENDED
from shared.proxy.answers import ProxyRequest
from shared.proxy.handler import JobProxy
from shared.proxy.listing import JobListProxy
from shared.settings import AppSettings
from shared.status.page import StatusPage
from tests.support.get_job import get, seed

ENDED = "2026-12-01T10:20:30.000Z"


def status_rows(hub_env: dict[str, str]) -> dict[str, str]:
    """The status page, rendered from the simulator's list: each job's table row, by job id."""
    settings = AppSettings.from_environ({**hub_env, "GET_JOB_CACHE_TTL_SECONDS": "0", "STATUS_PAGE_DAYS": "30"})
    client = HubClient(settings=settings.hub, auth=build_hub_auth(settings.hub))
    try:
        page = StatusPage(settings=settings, lists=JobListProxy(settings=settings, client=client), states=None)
        answer = page.handle(ProxyRequest(method="GET", job_id=""))
    finally:
        client.close()
    assert answer.status_code == 200
    html = answer.body.decode()
    # A row ends where the next begins: the page leaves out the optional </tr> (issue 23).
    return {job_id: row for row in re.findall(r"<tr\b.*?(?=<tr\b|</tbody>)", html, re.DOTALL)
            for job_id in ("job-1", "done-1") if job_id in row}


@pytest.mark.parametrize("variant", list(EndTimeWhileRunning))
def test_a_job_not_ended_shows_as_not_ended_in_every_variant(
    hubsim_clean: HubSimulator, hub_env: dict[str, str], make_proxy: Callable[..., JobProxy],
    variant: EndTimeWhileRunning,
) -> None:
    seed(hubsim_clean, startTimeUtc="2026-12-07T09:00:00.000Z")
    seed(hubsim_clean, jobId="done-1", status="completed", progress=100, startTimeUtc="2026-12-01T10:00:00.000Z",
         endTimeUtc=ENDED)
    hubsim_clean.control("devhub").set_end_time_while_running(variant)
    # The simulator plays the variant (get_job passes the hub's job through as it came).
    answered = get(make_proxy())
    assert answered.status_code == 200
    assert ('"endTimeUtc"' in answered.body.decode()) is (variant.sentinel is not None)
    rows = status_rows(hub_env)
    assert NOT_ENDED in rows["job-1"]
    assert "0001-01-01" not in rows["job-1"] and "9999-12-31" not in rows["job-1"]
    assert NOT_ENDED not in rows["done-1"] and "2026-12-01 10:20:30" in rows["done-1"]
