"""`make mutate`'s second runner: the route tests, for mutants no unit test reaches in modules only they reach.

    .venv-mutate/bin/python tools/mutation_fallback.py [--modules shared/status/ ...] [--limit N] [--timeout S]

mutmut learns which tests reach which function by tracing the tests in its own process; the route tests reach
the app through the local Functions host, another process, so mutmut marks the mutants only they reach as
"no tests". This tool runs them: for each such mutant in a module named in `[tool.mutation_fallback]`
(pyproject.toml: module glob -> test files), it runs those test files in mutants/ with the mutant switched on
(mutmut's MUTANT_UNDER_TEST, which the host process inherits, so the host's copy of shared/ runs the mutant),
stops at the first failure, and records the outcome in mutmut's own results (the `.meta` files), where
tools/mutation_report.py reads it: killed, survived or timed out. First it runs the same files with no mutant,
and stops if they fail. Each mutant costs a host start and the tests' own setup (seconds, not milliseconds):
docs/mutation.md gives the figures, and `--sample N` runs N of them, evenly spread, to measure.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import subprocess
import sys
import time
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tools.mutation_modules import in_modules  # noqa: E402 - run as a script: the repository on the path first

MUTANTS = REPO / "mutants"
NO_TESTS, KILLED, SURVIVED, TIMED_OUT = 33, 1, 0, 36  # mutmut's exit codes (mutmut/stats.py)
DEFAULT_TIMEOUT_SECONDS = 300.0


def fallback_map(pyproject: Path = REPO / "pyproject.toml") -> dict[str, list[str]]:
    data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    table = data.get("tool", {}).get("mutation_fallback", {})
    return {str(glob): [str(name) for name in files] for glob, files in table.items()}


def tests_for(source: str, mapping: dict[str, list[str]]) -> list[str]:
    """The test files of the first glob that matches `source` (`shared/status/page.py`)."""
    return next((files for glob, files in mapping.items() if fnmatch.fnmatchcase(source, glob)), [])


def pending(mapping: dict[str, list[str]], modules: list[str]) -> list[tuple[Path, str, list[str]]]:
    """(meta file, mutant, test files) for every unreached mutant the fallback covers, in a fixed order."""
    found = []
    for meta in sorted((MUTANTS / "shared").rglob("*.py.meta")):
        source = meta.relative_to(MUTANTS).as_posix().removesuffix(".meta")
        files = tests_for(source, mapping)
        if not files or not in_modules(source, modules):
            continue
        codes = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
        found += [(meta, key, files) for key, code in sorted(codes.items()) if code == NO_TESTS]
    return found


def run_tests(files: list[str], mutant: str, timeout: float) -> int:
    env = {**os.environ, "MUTANT_UNDER_TEST": mutant, "PYTHONDONTWRITEBYTECODE": "1"}
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-o", "addopts=", *files]
    try:
        result = subprocess.run(command, cwd=MUTANTS, env=env, capture_output=True, timeout=timeout,  # noqa: S603
                                check=False)
    except subprocess.TimeoutExpired:
        return TIMED_OUT
    return SURVIVED if result.returncode == 0 else KILLED


def record(meta: Path, mutant: str, code: int) -> None:
    data = json.loads(meta.read_text(encoding="utf-8"))
    data["exit_code_by_key"][mutant] = code
    meta.write_text(json.dumps(data, indent=4), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tools/mutation_fallback.py")
    parser.add_argument("--modules", nargs="*", default=[], help="files or folders under shared/ (default: all)")
    parser.add_argument("--sample", type=int, default=None, help="run N mutants evenly spread over the list only")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_SECONDS, help="seconds per mutant")
    args = parser.parse_args(argv)
    if not MUTANTS.is_dir():
        raise SystemExit("mutants/ holds no results: run `mutmut run` first")
    link = MUTANTS / "node_modules"  # Azurite, found beside devstack/ (here: mutants/devstack/)
    if not link.exists() and (REPO / "node_modules").exists():
        link.symlink_to(REPO / "node_modules")
    todo = pending(fallback_map(), args.modules)
    print(f"{len(todo)} mutants no unit test reaches, in modules the route tests reach")
    if args.sample is not None:  # evenly spread, so that the figures stand for the whole list
        todo = todo[:: max(1, len(todo) // max(1, args.sample))][: args.sample]
    for group in sorted({tuple(files) for _, _, files in todo}):
        if run_tests(list(group), "", args.timeout) != SURVIVED:
            raise SystemExit(f"the fallback tests fail without a mutant: {' '.join(group)}")
    started = time.monotonic()
    for done, (meta, mutant, files) in enumerate(todo, 1):
        code = run_tests(files, mutant, args.timeout)
        record(meta, mutant, code)
        print(f"{done}/{len(todo)} {mutant}: {dict([(KILLED, 'killed'), (SURVIVED, 'survived')]).get(code, 'timeout')}"
              f" ({(time.monotonic() - started) / done:.1f} s a mutant)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
