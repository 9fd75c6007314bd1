"""The devstack's servers answer keep-alive calls without a delayed-ACK stall.

A response written in two pieces on a keep-alive connection waits for the client's delayed ACK, about
40 ms a call. Baseline measured in the same run: the same GET on a fresh connection each time (which
pays a TCP handshake but can never stall that way). Target: keep-alive / fresh <= 1.
Run: `make bench` or `.venv/bin/python -m bench.bench_devstack`.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import requests

from bench.common import interleaved_medians, simulator_process, verdict
from devstack.hubsim.auth import make_sas

ROUNDS, REPEAT = 10, 30


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, simulator_process("devhub", log_dir=Path(tmp)) as urls:
        url = f"{urls['devhub']}/jobs?api-version=2021-04-12"
        headers = {"Authorization": make_sas("devhub")}
        session = requests.Session()

        def fresh() -> None:
            with requests.Session() as one_off:
                one_off.get(url, headers=headers, timeout=10).raise_for_status()

        contenders: dict[str, Callable[[], object]] = {
            "keep-alive": lambda: session.get(url, headers=headers, timeout=10).raise_for_status(),
            "fresh connection": fresh,
        }
        medians = interleaved_medians(contenders, rounds=ROUNDS, repeat=REPEAT)
    keep, new = medians["keep-alive"], medians["fresh connection"]
    print("devstack keep-alive benchmark: hub simulator GET /jobs, median per call")
    print(f"  keep-alive        {keep * 1e3:7.2f} ms")
    print(f"  fresh connection  {new * 1e3:7.2f} ms")
    print(f"  keep-alive / fresh = {keep / new:.2f}  ({verdict(keep / new, target=1.0, at_most=True)}; "
          "a 40 ms delayed-ACK stall per call would make it far above 1)")


if __name__ == "__main__":
    main()
