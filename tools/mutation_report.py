"""The figures of `make mutate`: mutmut's results per module, and every surviving mutant with its reason.

    .venv-mutate/bin/python tools/mutation_report.py [--results docs/results/mutation.md] [--modules PATH ...]

Reads what `mutmut run` (and tools/mutation_fallback.py) left in mutants/ (a `.meta` file per mutated module: each
mutant's exit status; none for a mutant the run left out) and prints a table per module: mutants, killed,
survived, reached by no test, timed out, and the score (killed and timed out, over all); the results page also
gets the score per package (folder). `--modules` keeps the files or folders a `make mutate MODULES=...` ran.
Each surviving or unreached mutant is matched against the reasons in
tools/mutation_reasons.toml (docs/mutation.md says how to add one); with `--results FILE` the table and every
such mutant, its change and its reason go to FILE, headed by the date, the machine and the commit. Mutants no
reason covers are listed as UNEXPLAINED and counted in the summary; the exit status is 0 either way (mutation
testing informs, it does not gate).

Runs in .venv-mutate (it uses mutmut's own code to show each mutant's change).
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import re
import sys
import tomllib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MUTANTS = REPO / "mutants"
REASONS = REPO / "tools" / "mutation_reasons.toml"

# mutmut 3's exit statuses (mutmut/stats.py), folded into what the table shows.
KILLED, SURVIVED, NO_TESTS, TIMEOUT, OTHER = "killed", "survived", "no tests", "timeout", "other"
_STATUS_BY_EXIT_CODE: dict[int | None, str] = {
    1: KILLED, 3: KILLED, 0: SURVIVED, 5: NO_TESTS, 33: NO_TESTS, 36: TIMEOUT, 24: TIMEOUT, -24: TIMEOUT,
    152: TIMEOUT, 255: TIMEOUT,
}
# `shared.reports.markdown.x_md_text__mutmut_6`, `shared.proxy.cache.xǁJobCacheǁ_land__mutmut_3`
_MUTANT_KEY = re.compile(
    r"^(?P<module>[\w.]+)\.(?:x_(?P<function>\w+?)|xǁ(?P<cls>\w+)ǁ(?P<method>\w+?))__mutmut_(?P<n>\d+)$"
)


@dataclass(frozen=True)
class Reason:
    function: str  # the dotted function, as in Mutant.function; `*` and `?` as in fnmatch
    mutated: str  # a regex searched in the mutant's changed lines (`+`) and, with `-`, the original's
    kind: str  # "equivalent", "gap" (a test should catch it; not yet written) or "accepted" (see the reason)
    why: str
    status: str | None = None  # only mutants of this status (`no tests`: reached by no unit test); None: any


@dataclass(frozen=True)
class Mutant:
    key: str
    source: str  # shared/reports/markdown.py
    function: str  # shared.reports.markdown.md_text, shared.proxy.cache.JobCache._land
    number: int
    status: str
    change: tuple[str, ...] = ()  # the changed lines, `-` original and `+` mutant

    def reason(self, reasons: list[Reason]) -> Reason | None:
        text = "\n".join(self.change)
        for reason in reasons:
            if reason.status not in (None, self.status):
                continue
            if fnmatch.fnmatchcase(self.function, reason.function) and re.search(reason.mutated, text, re.MULTILINE):
                return reason
        return None


def status_of(exit_code: int | None) -> str:
    return _STATUS_BY_EXIT_CODE.get(exit_code, OTHER)


def function_of(key: str) -> tuple[str, int]:
    match = _MUTANT_KEY.match(key)
    if match is None:
        return key, 0
    name = match["function"] or f"{match['cls']}.{match['method']}"
    return f"{match['module']}.{name}", int(match["n"])


def load_reasons(path: Path = REASONS) -> list[Reason]:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    reasons = []
    for entry in data.get("survivor", []):
        if entry["kind"] not in ("equivalent", "gap", "accepted"):
            raise ValueError(f"{path}: kind must be equivalent, gap or accepted, not {entry['kind']!r}")
        reasons.append(Reason(function=entry["function"], mutated=entry["mutated"], kind=entry["kind"],
                              why=" ".join(entry["why"].split()), status=entry.get("status")))
    return reasons


def load_mutants(*, with_changes: bool) -> list[Mutant]:
    metas = sorted((MUTANTS / "shared").rglob("*.py.meta"))
    if not metas:
        raise SystemExit("mutants/ holds no results: run `make mutate` (or `mutmut run`) first")
    mutants = []
    for meta in metas:
        source = meta.relative_to(MUTANTS).as_posix().removesuffix(".meta")
        exit_codes: dict[str, int | None] = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
        for key, exit_code in exit_codes.items():
            if exit_code is None:  # not run: `make mutate MODULES=...` left its module out
                continue
            function, number = function_of(key)
            status = status_of(exit_code)
            change = _change(key, source) if with_changes and status not in (KILLED, TIMEOUT) else ()
            mutants.append(Mutant(key=key, source=source, function=function, number=number, status=status,
                                  change=change))
    return sorted(mutants, key=lambda m: (m.source, m.function, m.number))


def _change(key: str, source: str) -> tuple[str, ...]:
    """The lines the mutant changes (mutmut's own diff, less its headers and the renamed `def` line)."""
    from mutmut.mutation.diff_apply import get_diff_for_mutant  # .venv-mutate only

    diff = get_diff_for_mutant(key, path=source)
    lines = []
    for line in diff.splitlines():
        if line.startswith(("+++", "---")) or line[:1] not in ("+", "-"):
            continue
        if "__mutmut_" in line or line[1:].lstrip().startswith("def "):
            continue
        lines.append(line[0] + " " + line[1:].strip())
    return tuple(lines)


def summary_rows(mutants: list[Mutant]) -> list[tuple[str, Counter[str]]]:
    by_source: dict[str, Counter[str]] = {}
    for mutant in mutants:
        by_source.setdefault(mutant.source, Counter())[mutant.status] += 1
    total: Counter[str] = Counter()
    for counts in by_source.values():
        total.update(counts)
    return [*sorted(by_source.items()), ("all", total)]


def score(counts: Counter[str]) -> str:
    total = sum(counts.values())
    caught = counts[KILLED] + counts[TIMEOUT]
    return f"{caught}/{total} = {100 * caught / total:.1f}%" if total else "-"


def package_rows(mutants: list[Mutant]) -> list[tuple[str, Counter[str]]]:
    by_package: dict[str, Counter[str]] = {}
    for mutant in mutants:
        by_package.setdefault(mutant.source.rsplit("/", 1)[0] + "/", Counter())[mutant.status] += 1
    return sorted(by_package.items())


def package_table(mutants: list[Mutant]) -> str:
    lines = ["| package | mutants | killed + timeout | score |", "|---|---:|---:|---|"]
    for package, counts in package_rows(mutants):
        lines.append(f"| `{package}` | {sum(counts.values())} | {counts[KILLED] + counts[TIMEOUT]} | {score(counts)} |")
    return "\n".join(lines)


def table(mutants: list[Mutant]) -> str:
    lines = ["| module | mutants | killed | survived | no test | timeout | score (killed + timeout) |",
             "|---|---:|---:|---:|---:|---:|---|"]
    for source, counts in summary_rows(mutants):
        name = f"`{source}`" if source != "all" else "**all**"
        lines.append(f"| {name} | {sum(counts.values())} | {counts[KILLED]} | {counts[SURVIVED]} | "
                     f"{counts[NO_TESTS]} | {counts[TIMEOUT]} | {score(counts)} |")
    return "\n".join(lines)


def survivors_section(mutants: list[Mutant], reasons: list[Reason]) -> tuple[str, Counter[str]]:
    kinds: Counter[str] = Counter()
    out = ["## Every mutant the unit tests did not kill", "",
           "Reasons come from `tools/mutation_reasons.toml` ([docs/mutation.md](../mutation.md) explains them). "
           "`-` is the original line, `+` the mutant.", ""]
    current = None
    for mutant in mutants:
        if mutant.status in (KILLED, TIMEOUT):
            continue
        if mutant.source != current:
            current = mutant.source
            out += [f"### `{current}`", ""]
        reason = mutant.reason(reasons)
        kind = reason.kind if reason is not None else "UNEXPLAINED"
        kinds[kind] += 1
        why = reason.why if reason is not None else "no reason in tools/mutation_reasons.toml matches this mutant"
        out.append(f"- `{mutant.function}` #{mutant.number} ({mutant.status}), **{kind}**: {why}")
        if mutant.change:
            out += ["", "  ```diff", *(f"  {line}" for line in mutant.change), "  ```"]
    return "\n".join(out), kinds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tools/mutation_report.py")
    parser.add_argument("--results", type=Path, help="also write the table and every survivor to this Markdown file")
    parser.add_argument("--modules", nargs="*", default=[], help="the files or folders run (`make mutate MODULES=`)")
    args = parser.parse_args(argv)
    os.chdir(REPO)  # mutmut reads mutants/ relative to the working directory
    sys.path.insert(0, str(REPO))
    from tools.mutation_modules import in_modules

    mutants = [mutant for mutant in load_mutants(with_changes=args.results is not None)
               if in_modules(mutant.source, args.modules)]
    reasons = load_reasons()
    print(table(mutants))
    section, kinds = survivors_section(mutants, reasons) if args.results is not None else ("", Counter())
    if args.results is not None:
        sys.path.insert(0, str(REPO))
        from bench.common import write_results

        run = ("Modules run: " + ", ".join(f"`{m}`" for m in args.modules) + " (`make mutate MODULES=...`).") \
            if args.modules else "Modules run: every module of `shared/`."
        body = "\n\n".join([
            run, "## Score per package", package_table(mutants), "## Score per module", table(mutants),
            "Reasons for the survivors: " + ", ".join(f"{kind} {n}" for kind, n in sorted(kinds.items())) + ".",
            section,
        ])
        write_results(args.results, title="Mutation testing results", made_by="make mutate",
                      note="mutmut 3 over shared/, the unit tests (tests/unit) as its runner (with "
                           "MUTATE_FALLBACK=routes, the route tests too, for the mutants only they reach); "
                           "[docs/mutation.md](../mutation.md) says what is mutated and how to read this.",
                      body=body)
        print("survivors and unreached mutants by reason: "
              + (", ".join(f"{kind} {n}" for kind, n in sorted(kinds.items())) or "none"))
        print(f"written to {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
