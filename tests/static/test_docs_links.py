"""The documentation holds together: every relative link in README.md and docs/ resolves, and the README
stays a front door (short, with the two commands).

Links are read from the Markdown source, outside fenced code blocks and inline code: inline links and
images `[text](target)`, and reference definitions `[label]: target`. A target with a scheme (`https:`,
`mailto:`) is not checked. A relative target must name an existing file or folder inside the repository.
A `#anchor` into a Markdown file (or alone, into the same file) must name one of its ATX headings, slugged
as GitHub does: the heading's text (link targets and HTML tags dropped) lower-cased, every character that
is not a letter, digit, `_`, `-` or space removed, spaces turned into `-`, and `-1`, `-2`, ... appended to
repeats.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
DOCS = REPO / "docs"
README_MAX_LINES = 250

# The pages the README must link to: the list, plus the pages that hold the rest of the old README.
FRONT_DOOR_LINKS = (
    "docs/get_job.md",
    "docs/poller.md",
    "docs/settings.md",
    "docs/devstack.md",
    "docs/deploy.md",
    "docs/operations.md",
    "docs/security.md",
    "docs/reliability.md",
    "docs/performance.md",
    "docs/architecture.md",
    "docs/contributing.md",
)

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_ATX_HEADING = re.compile(r"^ {0,3}#{1,6}(?:[ \t]+(?P<text>.*?))?(?:[ \t]+#+)?[ \t]*$")
_CODE_SPAN = re.compile(r"(`+)(?:.+?)\1")
_INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*(?:<(?P<angled>[^>]*)>|(?P<bare>[^)\s]*))"
                          r"(?:\s+(?:\"[^\"]*\"|'[^']*'|\([^)]*\)))?\s*\)")
_REFERENCE = re.compile(r"^ {0,3}\[[^\]]+\]:\s*(?:<(?P<angled>[^>]*)>|(?P<bare>\S+))")
_LINK_TEXT = re.compile(r"!?\[((?:[^\[\]]|\[[^\[\]]*\])*)\]\([^)]*\)")
_HTML_TAG = re.compile(r"<[^>]+>")
_NOT_IN_SLUG = re.compile(r"[^\w\- ]")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


@dataclass(frozen=True)
class Link:
    page: Path
    line: int
    target: str

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(REPO).as_posix()}:{self.line}"


def pages() -> list[Path]:
    return [README, *sorted(DOCS.rglob("*.md"))]


def _prose_lines(text: str) -> Iterator[tuple[int, str]]:
    """(line number, line) for every line outside fenced code blocks."""
    fence: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        opening = _FENCE.match(line)
        if fence is None:
            if opening:
                fence = opening.group(1)
                continue
            yield number, line
        elif opening and opening.group(1)[0] == fence[0] and len(opening.group(1)) >= len(fence) \
                and not line.strip()[len(opening.group(1)):].strip():
            fence = None


def github_slug(heading: str) -> str:
    text = _LINK_TEXT.sub(r"\1", heading)
    text = _HTML_TAG.sub("", text).strip().lower()
    return _NOT_IN_SLUG.sub("", text).replace(" ", "-")


@cache
def anchors(page: Path) -> frozenset[str]:
    seen: dict[str, int] = {}
    slugs = set()
    for _, line in _prose_lines(page.read_text(encoding="utf-8")):
        match = _ATX_HEADING.match(line)
        if not match:
            continue
        slug = github_slug(match.group("text") or "")
        repeats = seen.get(slug, 0)
        seen[slug] = repeats + 1
        slugs.add(slug if repeats == 0 else f"{slug}-{repeats}")
    return frozenset(slugs)


def links(page: Path) -> list[Link]:
    found = []
    for number, line in _prose_lines(page.read_text(encoding="utf-8")):
        reference = _REFERENCE.match(line)
        if reference:
            found.append(Link(page, number, reference.group("angled") or reference.group("bare")))
            continue
        prose = _CODE_SPAN.sub("code", line)
        for match in _INLINE_LINK.finditer(prose):
            found.append(Link(page, number, match.group("angled") or match.group("bare") or ""))
    return found


def problem(link: Link) -> str | None:
    """Why the link does not resolve, or None when it does (or is not a relative link)."""
    if _SCHEME.match(link.target) or link.target.startswith("//"):
        return None
    path_part, _, fragment = link.target.partition("#")
    path_part = urllib.parse.unquote(path_part)
    if not path_part:
        target = link.page
    elif path_part.startswith("/"):
        target = REPO / path_part.lstrip("/")
    else:
        target = link.page.parent / path_part
    target = target.resolve()
    if not target.is_relative_to(REPO):
        return "points outside the repository"
    relative = target.relative_to(REPO).as_posix()
    if not target.exists():
        return f"{relative} does not exist"
    if fragment and target.suffix.lower() == ".md" and target.is_file():
        anchor = urllib.parse.unquote(fragment)
        if anchor not in anchors(target):
            return f"{relative} has no heading with the anchor #{anchor}"
    return None


@pytest.mark.parametrize("page", pages(), ids=lambda page: page.relative_to(REPO).as_posix())
def test_relative_links_resolve(page: Path) -> None:
    broken = [
        f"{link.where}: ({link.target}) {reason}"
        for link in links(page)
        if (reason := problem(link)) is not None
    ]
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_the_pages_and_their_links_are_found() -> None:
    found = {page.relative_to(REPO).as_posix() for page in pages()}
    assert {"README.md", "docs/get_job.md", "docs/poller.md", "docs/results/bench.md"} <= found
    assert len(links(README)) >= len(FRONT_DOOR_LINKS)


def test_readme_is_a_front_door() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= README_MAX_LINES, f"README.md has more than {README_MAX_LINES} lines"
    assert "make run" in text
    assert "make test" in text


@pytest.mark.parametrize("relative", FRONT_DOOR_LINKS)
def test_readme_links_the_docs(relative: str) -> None:
    targets = {link.target.partition("#")[0] for link in links(README)}
    assert relative in targets, f"README.md does not link {relative}"


@pytest.mark.parametrize(("heading", "slug"), [
    ("Exactly once", "exactly-once"),
    ("get_job: `GET /api/jobs/{jobId}`", "get_job-get-apijobsjobid"),
    ("Load (`tests/load/`, `bench/bench_load.py`)", "load-testsload-benchbench_loadpy"),
    ("First run, between ticks, stalls", "first-run-between-ticks-stalls"),
    ("See [the runbook](operations.md) now", "see-the-runbook-now"),
    ("1. Parameters: one file for every step", "1-parameters-one-file-for-every-step"),
])
def test_github_slug(heading: str, slug: str) -> None:
    assert github_slug(heading) == slug


def test_repeated_headings_get_numbered_anchors(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# Logs\n\n```\n# not a heading\n```\n\n## Logs\n\n## Logs ##\n", encoding="utf-8")
    assert anchors(page) == {"logs", "logs-1", "logs-2"}
