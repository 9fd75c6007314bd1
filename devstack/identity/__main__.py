"""``python -m devstack.identity [--host 127.0.0.1] [--port 7082] [--token-lifetime 3600]``.

Runs until SIGTERM/SIGINT. Prints the IDENTITY_ENDPOINT/IDENTITY_HEADER values; never logs tokens.
"""

from __future__ import annotations

import argparse
import logging
import sys

from devstack import processes
from devstack.identity.issuer import DEFAULT_TOKEN_LIFETIME_SECONDS
from devstack.identity.server import DEFAULT_HOST, IdentityEndpoint
from devstack.wellknown import IDENTITY_PORT


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m devstack.identity", description=__doc__)
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=IDENTITY_PORT)
    parser.add_argument("--token-lifetime", type=int, default=DEFAULT_TOKEN_LIFETIME_SECONDS, metavar="SECONDS")
    parser.add_argument("--verbose", action="store_true", help="log each request line (never tokens)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, stream=sys.stderr)
    stop = processes.stop_on_signals()
    endpoint = IdentityEndpoint(host=args.host, port=args.port, token_lifetime_seconds=args.token_lifetime)
    endpoint.start()
    try:
        print(f"IDENTITY_ENDPOINT={endpoint.url}", flush=True)
        print(f"IDENTITY_HEADER={endpoint.header}", flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        endpoint.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
