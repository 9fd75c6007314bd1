"""Prints the soak's figures at the end of the run, captured output or not."""

from __future__ import annotations

import pytest

from tests.soak.figures import FIGURES_KEY


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    text = config.stash.get(FIGURES_KEY, None)
    if text is not None:
        terminalreporter.write_sep("=", "poller chaos soak")
        terminalreporter.write_line(text)
