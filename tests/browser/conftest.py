"""The browser for tests/browser: the system's Chromium (Debian's `chromium` package) driven by Playwright.

Playwright's own browser download is never used (machines here reach package registries only): the tests launch
CHROMIUM (default /usr/bin/chromium, else `chromium` on PATH) with `executable_path`. `make test` installs the
package where it can (as root, with apt); where it cannot, every browser test is skipped, and the reason is
printed in the summary at the end of the run, loudly, so that a green run without a browser is never mistaken for
a run that looked at the pages.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

SKIPPED: list[str] = []
LAUNCH_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]


def chromium_path() -> str | None:
    configured = os.environ.get("CHROMIUM")
    if configured == "none":  # run as a machine without a browser would
        return None
    for candidate in (configured, "/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def _skip(reason: str) -> None:
    if reason not in SKIPPED:
        SKIPPED.append(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    executable = chromium_path()
    if executable is None:
        _skip("no Chromium: install Debian's chromium package (make test does, as root), or set CHROMIUM")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _skip("the playwright package is not installed (requirements-dev.txt)")
    with sync_playwright() as playwright:
        try:
            launched = playwright.chromium.launch(executable_path=executable, args=LAUNCH_ARGS)
        except Exception as error:  # a browser that will not start is a skip with its reason, not a failure
            _skip(f"Chromium at {executable} did not start: {str(error).splitlines()[0][:200]}")
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A desk-sized page of its own context (no cookies or history shared with another test)."""
    context = browser.new_context(viewport={"width": 1440, "height": 900}, device_scale_factor=1)
    opened = context.new_page()
    yield opened
    context.close()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if SKIPPED:
        terminalreporter.section("BROWSER TESTS SKIPPED", sep="!", red=True, bold=True)
        for reason in SKIPPED:
            terminalreporter.write_line(f"the status and report pages were NOT checked in a browser: {reason}",
                                        red=True, bold=True)
