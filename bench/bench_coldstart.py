"""Cold start: what a new instance's worker loads before the first call, against `import azure.functions`.

The v1 Python worker imports every function's script when the host starts, so a new instance pays for
`import get_job, poll_job_timer` together, whichever function is called first. Each import is measured in a
fresh interpreter, the two alternating, and the medians compared. Target: at most 1.3x.
Run: `make bench` or `.venv/bin/python -m bench.bench_coldstart`.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
from pathlib import Path

from bench.common import verdict

REPO = Path(__file__).resolve().parent.parent
RUNS = 15
TARGET = 1.3
BASELINE = "import azure.functions"
APP = "import get_job, poll_job_timer"
# Modules a new instance must not load before the first call (each costs tens of milliseconds).
HEAVY = ("requests", "urllib3", "azure.storage", "azure.identity", "azure.core.pipeline")


def _import_ms(statement: str) -> float:
    code = f"import time; t = time.perf_counter(); {statement}; print((time.perf_counter() - t) * 1000)"
    output = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                            check=True).stdout
    return float(output)


def _loaded_heavy() -> list[str]:
    code = f"import sys; {APP}; print(' '.join(sorted(sys.modules)))"
    loaded = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                            check=True).stdout.split()
    return sorted({m for m in loaded if m.startswith(HEAVY)})


def main() -> None:
    base: list[float] = []
    app: list[float] = []
    for _ in range(RUNS):
        base.append(_import_ms(BASELINE))
        app.append(_import_ms(APP))
    base_ms, app_ms = statistics.median(base), statistics.median(app)
    ratio = app_ms / base_ms
    print("cold start: median over fresh interpreters, alternating")
    print(f"  {BASELINE:<32} {base_ms:7.1f} ms")
    print(f"  {APP:<32} {app_ms:7.1f} ms")
    print(f"  ratio = {ratio:5.2f}x   ({verdict(ratio, target=TARGET, at_most=True)})")
    heavy = _loaded_heavy()
    print(f"  heavy modules loaded before the first call: {', '.join(heavy) if heavy else 'none'}")


if __name__ == "__main__":
    main()
