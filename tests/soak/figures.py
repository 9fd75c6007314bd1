"""Where the soak leaves its figures for the terminal summary (so `make test` shows them without -s)."""

from __future__ import annotations

import pytest

FIGURES_KEY = pytest.StashKey[str]()
