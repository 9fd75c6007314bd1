"""schemathesis's own runner, every check on, against get_job in the local Functions host over real HTTP.

Its phases: the spec's examples, the coverage phase (boundary values, missing and invalid parameters, and
methods the spec does not declare: each must be 405 with Allow), and fuzzing, positive and negative. Every
check: status codes, content types, headers and bodies as declared; schema-valid requests accepted (never a 400
the spec does not declare); schema-invalid ones rejected; no 5xx; the function key enforced. The run's counts are
printed at the end. FUZZ_EXAMPLES (default 100) sets the examples per phase and mode; deterministic seed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from devstack.hubsim import HubSimulator
from tests.fixtures.funchost import RunningFuncHost
from tests.support import served

pytestmark = pytest.mark.slow

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "100"))
SEED = 20261201


def test_schemathesis_with_every_check(fuzz_host: RunningFuncHost, hubsim: HubSimulator, tmp_path: Path) -> None:
    report = tmp_path / "events.ndjson"
    command = [
        sys.executable, "-m", "schemathesis.cli", "run", str(served.REPO / "openapi.yaml"),
        "--url", f"{fuzz_host.url}/api", "--header", f"x-functions-key:{fuzz_host.function_key}",
        "--checks", "all", "--phases", "examples,coverage,fuzzing", "--mode", "all",
        "--max-examples", str(FUZZ_EXAMPLES), "--seed", str(SEED), "--generation-database", "none",
        "--workers", "1", "--request-timeout", "30", "--no-color", "--output-truncate", "false",
        "--report", "ndjson", "--report-ndjson-path", str(report),
    ]
    # Run from the test's own directory: schemathesis keeps a cache (.schemathesis/) in its working directory.
    run = subprocess.run(command, capture_output=True, text=True, timeout=1800, check=False, cwd=tmp_path)
    statuses: Counter[int] = Counter()
    methods: Counter[str] = Counter()
    for line in report.read_text().splitlines() if report.exists() else []:
        _count(json.loads(line), statuses, methods)
    print(f"\nschemathesis (all checks, {FUZZ_EXAMPLES} examples): exit {run.returncode}, requests by method "
          f"{dict(methods)}, statuses {dict(sorted(statuses.items()))}\n{run.stdout[-3000:]}")
    assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-5000:]
    served.secrets(hubsim).assert_absent(fuzz_host.log(), "the host's log")


def _count(node: object, statuses: Counter[int], methods: Counter[str]) -> None:
    """Every response in the ndjson events: its request's method and its status."""
    if isinstance(node, dict):
        response, request = node.get("response"), node.get("request")
        if isinstance(response, dict) and isinstance(request, dict) and isinstance(response.get("status_code"), int):
            statuses[response["status_code"]] += 1
            methods[str(request.get("method"))] += 1
        for value in node.values():
            _count(value, statuses, methods)
    elif isinstance(node, list):
        for value in node:
            _count(value, statuses, methods)
