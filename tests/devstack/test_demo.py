"""The demo jobs of `make run` (devstack/demo.py) through the official SDK: spread over several hubs, and never a
hang: a simulator that stops answering is a DemoTimeout that names the step and the hub, within its bounds."""

from __future__ import annotations

import time

import pytest

from devstack.azurite import AzuriteInfo
from devstack.demo import DemoHub, DemoTimeout, create_demo_jobs
from devstack.hubsim import FaultKind, HubSimulator, Operation


def _hubs(hubsim: HubSimulator) -> list[DemoHub]:
    return [DemoHub(name=name, url=hubsim.hub_url(name)) for name in hubsim.hub_names]


def test_the_demo_jobs_are_spread_over_the_hubs(hubsim: HubSimulator, azurite: AzuriteInfo) -> None:
    for hub in hubsim.hub_names:
        hubsim.control(hub).reset(jobs=True)
    hubs = _hubs(hubsim)
    assert len(hubs) >= 2
    jobs = create_demo_jobs(hubs=hubs, blob_connection_string=azurite.connection_string, timeout=60)
    assert (jobs.export_hub, jobs.import_hub, jobs.failed_import_hub) == (
        hubs[0].name, hubs[1].name, hubs[2 % len(hubs)].name)
    for job_id, hub in ((jobs.export_job_id, jobs.export_hub), (jobs.import_job_id, jobs.import_hub),
                        (jobs.failed_import_job_id, jobs.failed_import_hub)):
        listed = [str(job["jobId"]) for job in hubsim.state(hub).jobs.list_jobs()]
        assert job_id in listed, (hub, job_id)
    for hub in hubsim.hub_names:
        hubsim.control(hub).reset(jobs=True)


def test_a_silent_simulator_is_a_timeout_that_says_what_it_waited_for(hubsim: HubSimulator,
                                                                        azurite: AzuriteInfo) -> None:
    hub = _hubs(hubsim)[0]
    control = hubsim.control(hub.name)
    control.reset(jobs=True)
    control.queue_fault(FaultKind.HOLD, operation=Operation.ANY, count=20)
    started = time.monotonic()
    try:
        with pytest.raises(DemoTimeout) as raised:
            create_demo_jobs(hubs=[hub], blob_connection_string=azurite.connection_string, timeout=30,
                             call_timeout=1.0)
    finally:
        control.release()
        control.reset(jobs=True)
    assert "creating the export job on hub" in str(raised.value) and hub.name in str(raised.value)
    assert time.monotonic() - started < 15  # one try of 1 s and the SDK's retries, not msrest's 100 s a try
