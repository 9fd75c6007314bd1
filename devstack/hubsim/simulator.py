"""HubSimulator: several hubs in one process, each with its own name, port, registry and jobs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from devstack.hubsim.control import HubControl
from devstack.hubsim.control_api import HubController
from devstack.hubsim.faults import HubKnobs
from devstack.hubsim.jobs import JobStore, JobTiming
from devstack.hubsim.registry import DEFAULT_DEVICE_COUNT, Registry, seed_for
from devstack.hubsim.server import HubServer, HubState
from devstack.hubsim.storage import BlobAccess, IdentityEndpoint, StorageTokenProvider, identity_endpoint_provider
from devstack.hubsim.vocab import DEFAULT_RETENTION_SECONDS


@dataclass(frozen=True, kw_only=True)
class HubConfig:
    name: str
    port: int = 0  # 0: any free port (read it back with HubSimulator.port / hub_url)
    device_count: int = DEFAULT_DEVICE_COUNT
    seed: int | None = None  # None: derived from the name (deterministic)


@dataclass(frozen=True, kw_only=True)
class SimulatorConfig:
    hubs: tuple[HubConfig, ...]
    host: str = "127.0.0.1"
    timing: JobTiming = field(default_factory=JobTiming)
    retention_seconds: float = DEFAULT_RETENTION_SECONDS
    ca_bundle: Path | None = None  # to verify HTTPS storage (Azurite's self-signed certificate)
    storage_token_provider: StorageTokenProvider | None = None  # identityBased jobs; wins over identity_endpoint
    identity_endpoint: IdentityEndpoint | None = None  # managed-identity endpoint for identityBased jobs


class HubSimulator:
    def __init__(self, config: SimulatorConfig) -> None:
        names = [hub.name for hub in config.hubs]
        if not names or len(set(names)) != len(names):
            raise ValueError("hub names must be given and unique")
        self.config = config
        provider = config.storage_token_provider
        if provider is None and config.identity_endpoint is not None:
            provider = identity_endpoint_provider(config.identity_endpoint)
        blobs = BlobAccess(ca_bundle=config.ca_bundle, token_provider=provider)
        self._servers: dict[str, HubServer] = {}
        for hub in config.hubs:
            seed = seed_for(hub.name) if hub.seed is None else hub.seed
            registry = Registry(seed=seed, device_count=hub.device_count)
            jobs = JobStore(
                registry=registry, blobs=blobs, timing=config.timing, retention_seconds=config.retention_seconds
            )
            state = HubState(name=hub.name, registry=registry, jobs=jobs, knobs=HubKnobs())
            controller = HubController(state, config.timing, config.retention_seconds)
            self._servers[hub.name] = HubServer(config.host, hub.port, state, controller)
        self._started = False

    @property
    def hub_names(self) -> list[str]:
        return list(self._servers)

    def start(self) -> HubSimulator:
        if not self._started:
            for server in self._servers.values():
                server.start()
            self._started = True
        return self

    def stop(self) -> None:
        for server in self._servers.values():
            server.stop()
        self._started = False

    def port(self, name: str) -> int:
        return self._servers[name].port

    def hub_url(self, name: str) -> str:
        return f"http://{self.config.host}:{self.port(name)}"

    def control(self, name: str) -> HubControl:
        return HubControl(self.hub_url(name))

    def state(self, name: str) -> HubState:
        return self._servers[name].state

    def __enter__(self) -> HubSimulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()
