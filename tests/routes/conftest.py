"""One site for the routes' tests: the host with the seeded hubs, after two poller ticks (reports written, the
stuck job stalled)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from devstack.azurite import AzuriteInfo
from devstack.hubsim import HubSimulator
from tests.fixtures.funchost import FuncHostFactory
from tests.support.routes import Site, start_site


def ticked(started: Site, hubsim: HubSimulator) -> Iterator[Site]:
    """The site after two ticks, stopped and its hubs' jobs dropped after the module's tests."""
    started.tick()
    time.sleep(1.0)  # past MONITOR_STALL_AFTER_MINUTES (0.6 s): the second tick marks the running job stalled
    started.tick()
    yield started
    started.host.stop()
    for hub in hubsim.hub_names:
        hubsim.control(hub).reset(jobs=True)


@pytest.fixture(scope="module")
def site(funchost_factory: FuncHostFactory, hubsim: HubSimulator, azurite: AzuriteInfo) -> Iterator[Site]:
    yield from ticked(start_site(funchost_factory, hubsim, azurite), hubsim)
