"""get_job under 100 concurrent clients through the local Functions host, S1 throttle on in the simulator.

Asserts counts only (no wall-clock figure): every answer is 200 (or 429/503 with Retry-After, the
documented refusals), and the hub saw at most one call per active job per cache TTL plus one per
terminal job: far within the 100 per minute of S1. The longer run is `python -m bench.bench_load`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest

from bench.bench_load import ACTIVE_JOBS, S1_PER_MINUTE, SERVED, TERMINAL_JOBS, run_load, seed_jobs
from devstack.azurite import AzuriteInfo
from devstack.hubsim import HubSimulator
from tests.fixtures.funchost import FuncHostFactory, RunningFuncHost
from tests.support import served
from tests.support.secrets import seen_by_stand_ins

pytestmark = pytest.mark.slow

CLIENTS = 100
REQUESTS_PER_CLIENT = 20
CACHE_TTL_SECONDS = 1.0


@pytest.fixture
def load_host(
    funchost_factory: FuncHostFactory, hubsim: HubSimulator, azurite: AzuriteInfo
) -> Iterator[RunningFuncHost]:
    served.reset(hubsim)
    hubsim.control("devhub").seed_jobs(seed_jobs())
    hubsim.control("devhub").set_rate_limit(S1_PER_MINUTE)
    host = served.start_host(funchost_factory, hubsim, azurite, GET_JOB_CACHE_TTL_SECONDS=str(CACHE_TTL_SECONDS))
    yield host
    host.stop()
    served.reset(hubsim)


def test_100_clients_stay_within_the_s1_throttle(load_host: RunningFuncHost, hubsim: HubSimulator) -> None:
    controls = [hubsim.control(name) for name in served.HUBS]
    result = run_load(
        base_url=load_host.url, function_key=load_host.function_key, controls=controls, clients=CLIENTS,
        requests_per_client=REQUESTS_PER_CLIENT,
    )
    print("\n" + result.summary())
    assert sum(result.statuses.values()) == CLIENTS * REQUESTS_PER_CLIENT
    assert result.unexpected == []  # no 5xx (nor anything else) beyond 429/503 ...
    assert result.refusals_without_retry_after == 0  # ... and those with Retry-After
    assert sum(result.statuses[status] for status in SERVED) > 0
    # Single flight + TTL: at most one call per active job per TTL window (plus the first), one per
    # terminal job ever; and in any case within the simulator's S1 throttle.
    windows = math.ceil(result.seconds / CACHE_TTL_SECONDS) + 1
    assert result.hub_calls <= len(TERMINAL_JOBS) + len(ACTIVE_JOBS) * windows
    assert result.hub_calls <= S1_PER_MINUTE
    assert hubsim.control("devhub").counters()["get"] == result.hub_calls
    secrets = seen_by_stand_ins(hubsim=hubsim)
    secrets.add("seeded SAS signature", served.SIG)
    secrets.assert_absent(load_host.log(), "the host's log")
