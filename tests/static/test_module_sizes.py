"""No module of the app's package over MAX_LINES (docs/contributing.md): a newcomer reads one in a sitting. Merges
of parallel work pushed two past it unnoticed (report_writer.py 442, tick.py 416); this keeps it so."""

from __future__ import annotations

from pathlib import Path

MAX_LINES = 400
SHARED = Path(__file__).resolve().parents[2] / "shared"


def test_no_module_of_shared_is_over_the_limit() -> None:
    sizes = {str(path.relative_to(SHARED.parent)): len(path.read_text().splitlines()) for path in SHARED.rglob("*.py")}
    assert sizes, "no module found: the path is wrong"
    over = {name: lines for name, lines in sizes.items() if lines > MAX_LINES}
    assert not over, f"modules over {MAX_LINES} lines (split them by concern): {over}"
