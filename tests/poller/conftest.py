"""The poller tests' fixture: a PollerEnv per test (its own state container), on the devstack."""

from __future__ import annotations

import pytest

from devstack.azurite import AzuriteInfo
from devstack.hubsim import HubSimulator
from tests.support.poller import PollerEnv, new_container


@pytest.fixture
def env(hubsim_clean: HubSimulator, azurite: AzuriteInfo) -> PollerEnv:
    return PollerEnv(hubsim=hubsim_clean, azurite=azurite, state_container=new_container(azurite, create=False))
