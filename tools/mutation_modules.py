"""`make mutate MODULES=...`: the mutant-name globs mutmut runs for a list of files or folders under shared/.

    .venv-mutate/bin/python tools/mutation_modules.py shared/status/page.py shared/pages/
    -> shared.status.page.* shared.pages.*

mutmut still copies and mutates the whole of shared/ (that takes seconds), but runs the tests only against the
mutants of the modules named, so a CI with a budget can take a part of the tree per job. No argument: nothing is
printed, and mutmut runs every mutant. A path that is not a Python file or folder under shared/ is an error
(naming it), so a typo never turns into a run of nothing.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ROOT = "shared"


def glob_of(path: str) -> str:
    """`shared/status/page.py` -> `shared.status.page.*`; a folder -> every module under it."""
    relative = Path(path.rstrip("/"))
    if relative.parts[:1] != (ROOT,) or not (REPO / relative).exists():
        raise ValueError(f"MODULES: {path!r} is not a file or folder under {ROOT}/")
    if (REPO / relative).is_dir():
        return ".".join(relative.parts) + ".*"
    if relative.suffix != ".py":
        raise ValueError(f"MODULES: {path!r} is not a Python module")
    return ".".join(relative.with_suffix("").parts) + ".*"


def in_modules(source: str, modules: list[str]) -> bool:
    """Whether `source` (`shared/status/page.py`) is one of `modules` or under one of them; every source if none."""
    return not modules or any(source == m or source.startswith(m.rstrip("/") + "/") for m in modules)


def main(argv: list[str]) -> int:
    try:
        print(" ".join(glob_of(path) for path in argv))
    except ValueError as error:
        print(error, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
