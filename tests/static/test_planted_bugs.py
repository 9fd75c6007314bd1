"""tools/planted_bugs.py stays true to the code: every plant still applies (its text occurs exactly once in its
file) and every test it names as a catcher exists. Whether each plant turns its tests red is what the tool
itself checks (`.venv/bin/python tools/planted_bugs.py`, minutes; docs/testing.md holds its table)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tools.planted_bugs import PLANTS, Plant, applied

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("plant", PLANTS, ids=[plant.name for plant in PLANTS])
def test_every_plant_still_applies_and_names_tests_that_exist(plant: Plant) -> None:
    assert applied(plant) != (REPO / plant.file).read_text()
    for node in plant.caught_by:
        path, _, name = node.partition("::")
        assert re.search(rf"^def {re.escape(name)}\(", (REPO / path).read_text(), re.MULTILINE), node


def test_plant_names_are_unique_and_the_docs_list_every_one() -> None:
    names = [plant.name for plant in PLANTS]
    assert len(names) == len(set(names))
    table = (REPO / "docs" / "testing.md").read_text()
    assert [name for name in names if f"`{name}`" not in table] == []
