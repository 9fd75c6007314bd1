"""Demo data: an import input with rejected lines. The job COMPLETES (as a real hub's does, by the evidence):
the good lines are applied and the rejected ones are listed in importErrors.log.

`demo_import_text(registry_ids)` mixes good lines with each kind of bad line the simulator reports:
invalid JSON, a missing id, create of an existing device (409001), delete of a missing one (404001),
an eTag mismatch (412002) and an unknown importMode (400004).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

DEMO_NEW_DEVICE_IDS = ("demo-new-1", "demo-new-2")


def demo_import_lines(existing_ids: Sequence[str]) -> list[str]:
    if len(existing_ids) < 3:
        raise ValueError("the demo needs at least three existing device ids")
    first, second, third = existing_ids[:3]
    return [
        json.dumps({"id": DEMO_NEW_DEVICE_IDS[0], "importMode": "create", "status": "enabled"}),
        json.dumps({"id": DEMO_NEW_DEVICE_IDS[1]}),
        json.dumps({"id": first, "importMode": "updateTwin", "tags": {"demo": True}}),
        '{"id": "broken-line", "status": ',
        json.dumps({"status": "enabled"}),
        json.dumps({"id": second, "importMode": "create"}),
        json.dumps({"id": "demo-missing", "importMode": "delete"}),
        json.dumps({"id": third, "importMode": "updateIfMatchETag", "eTag": "stale"}),
        json.dumps({"id": "demo-odd", "importMode": "replaceEverything"}),
    ]


def demo_import_text(existing_ids: Sequence[str]) -> str:
    return "".join(f"{line}\n" for line in demo_import_lines(existing_ids))
