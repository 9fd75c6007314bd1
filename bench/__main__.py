"""`make bench`: every bench/bench_*.py in a process of its own; the figures also go to a results file.

Each bench runs as `python -m bench.<name>` with the app's settings removed from its environment, so that
no bench's settings (a TTL of 0, a throttle) leak into another's. With `--results FILE` the output is
written there as Markdown, headed by the date, the machine and the commit, so that docs/results/bench.md
always says where its figures came from.
"""

from __future__ import annotations

import argparse
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

from bench.common import write_results

REPO = Path(__file__).resolve().parent.parent
# Settings of the app and of its stand-ins: never inherited by a bench.
APP_SETTING_PREFIXES = ("IOTHUB_", "GET_JOB_", "MONITOR_", "POLL_", "AzureWebJobs", "IDENTITY_", "SHARED_CACHE_")


def bench_names() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if m.name.startswith("bench_"))


def clean_environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(APP_SETTING_PREFIXES)
            and k != "REQUESTS_CA_BUNDLE"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--results", type=Path, help="also write the figures to this Markdown file")
    parser.add_argument("names", nargs="*", help="benches to run (default: all)")
    args = parser.parse_args(argv)
    sections: list[str] = []
    failed = 0
    for name in args.names or bench_names():
        print(f"== bench.{name}", flush=True)
        result = subprocess.run([sys.executable, "-m", f"bench.{name}"], cwd=REPO,
                                env=clean_environment(), capture_output=True, text=True, check=False)
        sys.stdout.write(result.stdout)
        sys.stderr.write(result.stderr[-4000:] if result.returncode else "")
        print(flush=True)
        failed += result.returncode != 0
        status = "" if result.returncode == 0 else f" (exited {result.returncode})"
        sections.append(f"## bench.{name}{status}\n\n```\n{result.stdout.rstrip()}\n```\n")
    if args.results is not None:
        write_results(args.results, title="Benchmark results", made_by="make bench",
                      note="Every figure is a ratio against a baseline measured in the same run (what each bench "
                           "measures: [performance.md](../performance.md)).",
                      body="\n".join(sections))
        print(f"figures written to {args.results}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
