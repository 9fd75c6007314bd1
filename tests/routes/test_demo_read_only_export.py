"""make run's fourth demo job, as the README's tour shows it: an export whose output SAS is read-only fails, the
monitor cannot write beside it either, and its report is on the report route and the status page, saying so."""

from __future__ import annotations

import requests

from devstack.azurite import AzuriteInfo
from devstack.demo import READ_ONLY_EXPORT_CONTAINER, create_demo_jobs
from devstack.hubsim import HubSimulator
from tests.fixtures.funchost import FuncHostFactory
from tests.support import served
from tests.support.poller import PREFIX, PollerEnv, blob_names, new_container
from tests.support.routes import assert_inert

NO_WRITE = "not written beside the job: the SAS has no Write permission"


def test_the_read_only_demo_export_shows_its_report_and_why_it_is_not_beside_the_job(
    funchost_factory: FuncHostFactory, hubsim: HubSimulator, azurite: AzuriteInfo
) -> None:
    for hub in hubsim.hub_names:
        hubsim.control(hub).reset(jobs=True)
    jobs = create_demo_jobs(hub="devhub", hub_url=hubsim.hub_url("devhub"),
                            blob_connection_string=azurite.connection_string, timeout=60)
    env = PollerEnv(hubsim=hubsim, azurite=azurite, state_container=new_container(azurite, create=False))
    host = funchost_factory(served.REPO, env=env.environ(("devhub",), POLL_SCHEDULE="0 0 0 1 1 *"), timers=True)
    try:
        job_id = jobs.read_only_export_job_id
        key = {"x-functions-key": host.function_key}
        for _ in range(60):  # the export fails once the simulator finds it cannot write: tick until its report is in
            tick = requests.post(f"{host.url}/admin/functions/poll_job_timer?wait=true", json={"input": ""},
                                 headers={"x-functions-key": host.master_key}, timeout=120)
            assert tick.status_code in (200, 202), tick.text
            report = requests.get(f"{host.url}/api/jobs/{job_id}/report", headers=key, timeout=60)
            if report.status_code == 200:
                break
        assert report.status_code == 200, report.text
        assert report.json()["status"] == "failed"
        markdown = requests.get(f"{host.url}/api/jobs/{job_id}/report", timeout=60,
                                headers={**key, "Accept": "text/markdown"}).text
        assert NO_WRITE in markdown
        page = assert_inert(requests.get(f"{host.url}/api/status", headers=key, timeout=60).text).all_text
        assert job_id in page and NO_WRITE in page
        assert blob_names(azurite, READ_ONLY_EXPORT_CONTAINER, f"{PREFIX}/{job_id}/") == []
    finally:
        host.stop()
        for hub in hubsim.hub_names:
            hubsim.control(hub).reset(jobs=True)
