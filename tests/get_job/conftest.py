"""get_job's fixtures: a JobProxy wired to the simulator, and a secret scan of every test's answers and logs."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import pytest

from devstack.azurite import AzuriteInfo
from devstack.hubsim import HubSimulator
from devstack.wellknown import hub_connection_string
from shared.iothub.auth import build_hub_auth
from shared.iothub.client import HubClient
from shared.proxy.handler import JobProxy
from shared.settings import AppSettings
from tests.support.get_job import ANSWERS, FAST_BACKOFF, HUBS, SIG, answer_text
from tests.support.secrets import Secrets, seen_by_stand_ins
from tests.support.shared_cache import new_shared_container


@pytest.fixture
def hub_env(hubsim_clean: HubSimulator, azurite: AzuriteInfo) -> dict[str, str]:
    """Settings against the simulator; the function's own proxy (get_job.main) shares its cache in a container of
    the session's Azurite that no other test uses."""
    return {
        "IOTHUB_HUBS": ",".join(HUBS),
        "IOTHUB_ENDPOINTS": ",".join(f"{name}={hubsim_clean.hub_url(name)}" for name in HUBS),
        "IOTHUB_AUTH": "sharedAccessPolicy",
        "IOTHUB_CONNECTION_STRINGS": "|".join(hub_connection_string(name, "registryRead") for name in HUBS),
        "IOTHUB_RETRY_BUDGET_SECONDS": "5",
        "IOTHUB_READ_TIMEOUT_SECONDS": "2",
        "AzureWebJobsStorage": azurite.connection_string,
        "SHARED_CACHE_CONTAINER": new_shared_container(),
    }


@pytest.fixture
def make_proxy(hub_env: dict[str, str]) -> Iterator[Callable[..., JobProxy]]:
    clients: list[HubClient] = []

    def make(**overrides: str) -> JobProxy:
        settings = AppSettings.from_environ({**hub_env, **overrides})
        client = HubClient(settings=settings.hub, auth=build_hub_auth(settings.hub), backoff=FAST_BACKOFF)
        clients.append(client)
        return JobProxy(settings=settings, client=client)

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def planted_secrets() -> Secrets:
    """Secret values a test plants in the jobs it seeds (device keys, signatures): the end-of-test scan looks
    for them too."""
    return Secrets()


@pytest.fixture(autouse=True)
def no_secret_in_answers_or_logs(
    caplog: pytest.LogCaptureFixture, hubsim: HubSimulator, planted_secrets: Secrets
) -> Iterator[None]:
    """Every get_job test ends with a scan of every answer (body and headers) and everything logged for the
    secrets it knows: the seeded SAS signature, the devstack's keys, every credential the hub simulator
    received and what the test planted, in every encoding. The app's redactor is never asked."""
    caplog.set_level(logging.DEBUG)
    ANSWERS.clear()
    yield
    secrets = seen_by_stand_ins(hubsim=hubsim)
    secrets.add("seeded SAS signature", SIG)
    secrets.update(planted_secrets.values.items())
    for number, response in enumerate(ANSWERS, 1):
        secrets.assert_absent(answer_text(response), f"answer {number} ({response.status_code})")
    for record in caplog.records:
        secrets.assert_absent(record.getMessage(), f"log line of {record.name}")
    ANSWERS.clear()
