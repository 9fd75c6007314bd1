"""requirements.lock.txt pins what is deployed: every runtime requirement, within requirements.txt's ranges."""

from __future__ import annotations

import re
from importlib import metadata

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.infra.bicep import ROOT

LOCK = ROOT / "requirements.lock.txt"
RANGES = ROOT / "requirements.txt"
_PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[A-Za-z0-9.+!_-]+)$")


def _lines(path: str) -> list[str]:
    text = (ROOT / path).read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def pins() -> dict[str, str]:
    found: dict[str, str] = {}
    for line in _lines(LOCK.name):
        match = _PIN.match(line)
        assert match, f"requirements.lock.txt: not an exact pin: {line!r}"
        found[canonicalize_name(match["name"])] = match["version"]
    return found


def test_lock_pins_every_runtime_requirement_within_its_range() -> None:
    locked = pins()
    for line in _lines(RANGES.name):
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{requirement.name} is not in requirements.lock.txt: regenerate it (see its header)"
        assert requirement.specifier.contains(locked[name], prereleases=True), (
            f"requirements.lock.txt pins {name}=={locked[name]}, outside requirements.txt's {requirement.specifier}")


def test_lock_pins_the_whole_dependency_tree() -> None:
    # Each locked package's own requirements are locked too (a remote build must not resolve anything freely).
    locked = pins()
    for name in locked:
        for text in metadata.requires(name) or []:
            requirement = Requirement(text)
            if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
                continue
            assert canonicalize_name(requirement.name) in locked, f"{name} needs {requirement.name}, not locked"


def test_the_test_venv_runs_the_locked_versions() -> None:
    # requirements-dev.txt installs under the lock (-c), so the suite tests what is deployed.
    drift = {name: (version, metadata.version(name)) for name, version in pins().items()
             if metadata.version(name) != version}
    assert not drift, f"installed versions differ from requirements.lock.txt (locked, installed): {drift}"
