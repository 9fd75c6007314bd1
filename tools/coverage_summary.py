"""The coverage summary at the end of `make test`: branch coverage of shared/, with and without the subprocesses.

    python tools/coverage_summary.py

`coverage run -m pytest` leaves one `.coverage.*` file per process ([tool.coverage.run] parallel, and
`patch = ["subprocess"]` starts coverage in every Python subprocess: the local Functions host runs the app in one).
This combines them into `.coverage`, prints the files of shared/ below 100% (coverage's own report), then one line
with the branch coverage (branches taken over branches) with every process, and with pytest's own process alone:
the difference is what only the host subprocesses ran. A process is pytest's when the command line coverage
recorded for it is pytest's. Exits 1 when there is no data.
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import sqlite3
import sys
import tempfile
from pathlib import Path

import coverage

REPO = Path(__file__).resolve().parents[1]


def _argv(data_file: Path) -> list[str]:
    """The command line coverage recorded for the process that wrote `data_file` ([] if it cannot be read)."""
    with contextlib.suppress(sqlite3.Error, ValueError, SyntaxError), \
            contextlib.closing(sqlite3.connect(f"file:{data_file}?mode=ro", uri=True)) as db:
        row = db.execute("select value from meta where key = 'sys_argv'").fetchone()
        if row is not None:
            argv = ast.literal_eval(row[0])
            if isinstance(argv, list):
                return [str(arg) for arg in argv]
    return []


def is_pytest(data_file: Path) -> bool:
    argv = _argv(data_file)
    return bool(argv) and ("pytest" in Path(argv[0]).parts or Path(argv[0]).name in ("pytest", "py.test"))


def _totals(data_files: list[Path], combined: Path) -> dict[str, float]:
    cov = coverage.Coverage(data_file=str(combined), config_file=str(REPO / "pyproject.toml"))
    cov.combine([str(f) for f in data_files], keep=True)
    cov.save()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "coverage.json"
        with contextlib.redirect_stdout(io.StringIO()):
            cov.json_report(outfile=str(out))
        totals: dict[str, float] = json.loads(out.read_text(encoding="utf-8"))["totals"]
    return totals


def branch_line(label: str, totals: dict[str, float]) -> str:
    if "num_branches" not in totals:
        return f"{label}: nothing measured"
    taken, branches = int(totals["covered_branches"]), int(totals["num_branches"])
    percent = 100 * taken / branches if branches else 100.0
    return (f"{label}: branches {taken}/{branches} = {percent:.1f}%"
            f" (statements and branches together: {totals['percent_covered']:.1f}%)")


def main() -> int:
    data_files = sorted(REPO.glob(".coverage.*"))
    if not data_files:
        print("tools/coverage_summary.py: no .coverage.* files (run `coverage run -m pytest` first)", file=sys.stderr)
        return 1
    pytest_files = [f for f in data_files if is_pytest(f)]
    with tempfile.TemporaryDirectory() as tmp:
        alone = _totals(pytest_files, Path(tmp) / "pytest-only") if pytest_files else None
    everything = _totals(data_files, REPO / ".coverage")
    for data_file in data_files:
        data_file.unlink()
    cov = coverage.Coverage(data_file=str(REPO / ".coverage"), config_file=str(REPO / "pyproject.toml"))
    cov.load()
    print("Coverage of shared/ (files below 100%; docs/coverage.md names the guarantee branches not run):")
    cov.report(file=sys.stdout)
    print(branch_line(f"shared/, pytest and its {len(data_files) - len(pytest_files)} subprocesses", everything))
    if alone is not None:
        print(branch_line("shared/, pytest's own process alone", alone))
    return 0


if __name__ == "__main__":
    sys.exit(main())
