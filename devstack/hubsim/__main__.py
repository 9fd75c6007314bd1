"""`python -m devstack.hubsim --hub devhub:7081 [--hub otherhub:7083] ...`: run until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

from devstack import processes
from devstack.hubsim.jobs import JobTiming
from devstack.hubsim.simulator import HubConfig, HubSimulator, SimulatorConfig
from devstack.hubsim.storage import IdentityEndpoint
from devstack.hubsim.vocab import DEFAULT_RETENTION_SECONDS
from devstack.wellknown import DEFAULT_HUB_NAME, DEFAULT_HUB_PORT, IDENTITY_HEADER

DAY_SECONDS = 86400


def _hub(text: str) -> HubConfig:
    name, sep, port = text.partition(":")
    if not name or not sep or not port.isdigit():
        raise argparse.ArgumentTypeError("expected NAME:PORT, e.g. devhub:7081")
    return HubConfig(name=name, port=int(port))


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m devstack.hubsim", description=__doc__)
    parser.add_argument("--hub", action="append", type=_hub, help="NAME:PORT (repeatable); default devhub:7081")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--blob-ca-bundle", type=Path, help="CA bundle to verify HTTPS storage (Azurite OAuth)")
    parser.add_argument("--identity-endpoint", help="managed-identity endpoint URL for identityBased jobs")
    parser.add_argument("--identity-header", default=IDENTITY_HEADER, help="X-IDENTITY-HEADER value")
    parser.add_argument("--enqueue-ms", type=int, default=2000, help="time a job stays enqueued")
    parser.add_argument("--job-ms", type=int, default=10000, help="time a job runs before its blob work")
    parser.add_argument("--progress-steps", type=int, default=4)
    parser.add_argument("--retention-days", type=float, default=DEFAULT_RETENTION_SECONDS / DAY_SECONDS)
    parser.add_argument("--devices", type=int, default=20, help="seeded devices per hub")
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    hubs = args.hub or [HubConfig(name=DEFAULT_HUB_NAME, port=DEFAULT_HUB_PORT)]
    config = SimulatorConfig(
        hubs=tuple(HubConfig(name=h.name, port=h.port, device_count=args.devices) for h in hubs),
        host=args.host,
        timing=JobTiming(enqueued_ms=args.enqueue_ms, running_ms=args.job_ms, progress_steps=args.progress_steps),
        retention_seconds=args.retention_days * DAY_SECONDS,
        ca_bundle=args.blob_ca_bundle,
        identity_endpoint=IdentityEndpoint(args.identity_endpoint, args.identity_header)
        if args.identity_endpoint
        else None,
    )
    stop = processes.stop_on_signals()
    simulator = HubSimulator(config).start()
    log = logging.getLogger("devstack.hubsim")
    for name in simulator.hub_names:
        log.info("hub %s listening on %s (control API under /devstack)", name, simulator.hub_url(name))
    try:
        stop.wait()
    finally:
        simulator.stop()
        log.info("stopped")


if __name__ == "__main__":
    main()
