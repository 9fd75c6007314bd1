"""Instances: several local Functions host processes with one Azurite and one simulated hub behind them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from devstack.azurite import AzuriteInfo
from devstack.hubsim import HubSimulator
from tests.fixtures.funchost import FuncHostFactory, RunningFuncHost
from tests.support import served
from tests.support.shared_cache import new_shared_container

TTL_SECONDS = 1.0


@dataclass(frozen=True)
class Instances:
    hosts: list[RunningFuncHost]
    container: str  # their SHARED_CACHE_CONTAINER

    @property
    def urls(self) -> list[str]:
        return [host.url for host in self.hosts]

    def stop(self) -> None:
        for host in self.hosts:
            host.stop()


Fleet = Callable[..., Instances]


def start_fleet(funchost_factory: FuncHostFactory, hubsim: HubSimulator, azurite: AzuriteInfo, count: int,
                **overrides: str) -> Instances:
    """`count` hosts (instances, timers off) with the same settings: one shared-cache container of their own."""
    settings = {"SHARED_CACHE_CONTAINER": new_shared_container(), **overrides}
    env = served.host_env(hubsim, azurite, **settings)
    with ThreadPoolExecutor(max_workers=count) as pool:
        hosts = list(pool.map(lambda _: funchost_factory(served.REPO, env=env, timers=False), range(count)))
    return Instances(hosts=hosts, container=settings["SHARED_CACHE_CONTAINER"])


@pytest.fixture(scope="module")
def four(funchost_factory: FuncHostFactory, hubsim: HubSimulator, azurite: AzuriteInfo) -> Iterator[Instances]:
    """Four instances with a 1 s TTL and the default call budget, for the tests of one module (each test asks
    for jobs of its own)."""
    instances = start_fleet(funchost_factory, hubsim, azurite, 4, GET_JOB_CACHE_TTL_SECONDS=str(TTL_SECONDS))
    yield instances
    instances.stop()


@pytest.fixture
def fleet(funchost_factory: FuncHostFactory, hubsim_clean: HubSimulator, azurite: AzuriteInfo) -> Iterator[Fleet]:
    """`fleet(count, **settings)`: instances for one test; `storage=` another Azurite."""
    started: list[Instances] = []

    def start(count: int, *, storage: AzuriteInfo = azurite, **overrides: str) -> Instances:
        instances = start_fleet(funchost_factory, hubsim_clean, storage, count, **overrides)
        started.append(instances)
        return instances

    yield start
    for instances in started:
        instances.stop()
