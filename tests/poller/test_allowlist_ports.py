"""A job URI on an allowed storage host but another port (issue 21, point 7): before, the allowlist compared hosts
only, and a listener on 127.0.0.1 at another port than Azurite's received 6 GETs carrying the job's SAS. Now an
entry allows its host on one port; the job is skipped, saying why, nothing reaches that port, and the hub's other
jobs get their snapshots and reports in the same tick. Against the simulator and Azurite; the listener counts
connections on the wire."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from tests.support.listeners import TcpListener
from tests.support.poller import (
    PREFIX,
    PollerEnv,
    ago,
    blob_names,
    container_sas_uri,
    events,
    new_container,
    read_json,
)


@pytest.fixture
def other_port() -> Iterator[TcpListener]:
    """A server on the allowed host (loopback) at a port no allowlist entry names."""
    listener = TcpListener(hold=False)
    yield listener
    listener.close()


def test_a_job_on_an_allowed_host_but_another_port_is_skipped_and_its_sas_goes_nowhere(
    env: PollerEnv, other_port: TcpListener, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="jobmonitor.poller")
    failed, running = new_container(env.azurite), new_container(env.azurite)
    # The same SAS the job would carry to Azurite, pointed at the other port of the same host.
    off_port = container_sas_uri(env.azurite, new_container(env.azurite)).replace(
        f":{env.azurite.port}/", f":{other_port.port}/")
    assert f"127.0.0.1:{other_port.port}/" in off_port and "sig=" in off_port
    env.hubsim.control("devhub").seed_jobs([
        {"jobId": "off-port-running", "type": "export", "status": "running", "progress": 10,
         "outputBlobContainerUri": off_port, "startTimeUtc": ago(minutes=3)},
        {"jobId": "off-port-failed", "type": "import", "status": "failed", "progress": 10,
         "inputBlobContainerUri": off_port, "outputBlobContainerUri": off_port,
         "failureReason": "ErrorCode:ImportErrors;1 of 1 devices failed to import",
         "startTimeUtc": ago(minutes=4), "endTimeUtc": ago(minutes=1)},
        {"jobId": "neighbour-failed", "type": "export", "status": "failed", "progress": 30,
         "outputBlobContainerUri": container_sas_uri(env.azurite, failed),
         "failureReason": "ErrorCode:ServerError;stopped",
         "startTimeUtc": ago(minutes=9), "endTimeUtc": ago(minutes=8)},
        {"jobId": "neighbour-running", "type": "export", "status": "running", "progress": 40,
         "outputBlobContainerUri": container_sas_uri(env.azurite, running), "startTimeUtc": ago(minutes=3)},
    ])
    poller = env.poller()
    for _ in range(2):
        assert poller.tick().hubs["devhub"].ok
    assert other_port.connections == 0
    skipped = {e["jobId"]: e["reason"] for e in events(caplog, "poller.job_skipped")}
    assert set(skipped) == {"off-port-running", "off-port-failed"}
    assert all(f"127.0.0.1:{other_port.port} is not on the allowlist" in reason for reason in skipped.values())
    assert read_json(env.azurite, failed, f"{PREFIX}/neighbour-failed/failure-report.json")["status"] == "failed"
    assert blob_names(env.azurite, running, f"{PREFIX}/neighbour-running/snapshots/")
