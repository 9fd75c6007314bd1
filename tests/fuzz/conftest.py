"""One host for the fuzz suite: get_job over real HTTP with the hub simulator and seeded jobs behind it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devstack.azurite import AzuriteInfo
from devstack.hubsim import HubSimulator
from tests.fixtures.funchost import FuncHostFactory, RunningFuncHost
from tests.support import served


@pytest.fixture(scope="module")
def fuzz_host(
    funchost_factory: FuncHostFactory, hubsim: HubSimulator, azurite: AzuriteInfo
) -> Iterator[RunningFuncHost]:
    """A host whose get_job makes one attempt per hub call (an injected fault maps straight to its answer)
    and gives up on a silent hub after 0.5 s, so that fault cases stay fast. Its call budget is far above what the
    fuzzer asks, so that the hub's faults are what it meets (tests/shared_cache/ drives the budget)."""
    served.reset(hubsim)
    served.seed(hubsim, [served.job(job_id, status) for job_id, status in served.SEEDED.items()])
    served.seed(hubsim, [served.job("job-active", "running")], hub="otherhub")
    host = served.start_host(
        funchost_factory, hubsim, azurite, IOTHUB_MAX_ATTEMPTS="1", IOTHUB_READ_TIMEOUT_SECONDS="0.5",
        IOTHUB_RETRY_BUDGET_SECONDS="2", IOTHUB_CALLS_PER_MINUTE="10000",
    )
    yield host
    host.stop()
    served.reset(hubsim)
