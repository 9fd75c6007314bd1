"""``python -m devstack.funchost --app-root . --port 7071 [--settings local.settings.json]
[--keys-file keys.json] [--function-key K] [--master-key K] [--no-timers] [--bind 127.0.0.1]
[--telemetry traces.jsonl] [--verbose]``

Runs until SIGTERM/SIGINT. Prints the function key and master key in use (well-known dev values by
default: see devstack/funchost/keys.py).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from devstack import processes
from devstack.funchost import logs
from devstack.funchost.host import DEFAULT_BIND, FunctionsHost
from devstack.funchost.keys import load_keys
from devstack.wellknown import FUNCTIONS_HOST_PORT

LOCAL_SETTINGS = "local.settings.json"


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m devstack.funchost", description=__doc__)
    parser.add_argument("--app-root", type=Path, default=Path())
    parser.add_argument("--port", type=int, default=FUNCTIONS_HOST_PORT)
    parser.add_argument("--bind", default=DEFAULT_BIND)
    parser.add_argument("--settings", type=Path, default=None, help=f"default: <app-root>/{LOCAL_SETTINGS} if present")
    parser.add_argument("--keys-file", type=Path, default=None)
    parser.add_argument("--function-key", default=None)
    parser.add_argument("--master-key", default=None)
    parser.add_argument("--no-timers", action="store_true", help="do not run timer schedules (nor runOnStartup)")
    parser.add_argument("--telemetry", type=Path, default=None,
                        help="write what Application Insights would store (traces records, JSON lines) here")
    parser.add_argument("--verbose", action="store_true")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    logs.configure(logging.DEBUG if args.verbose else logging.INFO, telemetry=args.telemetry)
    settings = args.settings or (args.app_root / LOCAL_SETTINGS)
    keys = load_keys(keys_file=args.keys_file, function_key=args.function_key, master_key=args.master_key)
    stop = processes.stop_on_signals()
    host = FunctionsHost(
        args.app_root, port=args.port, bind=args.bind, keys=keys, settings_file=settings,
        timers_enabled=not args.no_timers,
    )
    host.start()
    try:
        print(f"Functions host listening on {host.url}", flush=True)
        print(f"Function key (x-functions-key or ?code=): {keys.function_key}", flush=True)
        print(f"Master key: {keys.master_key}", flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        host.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
