"""Score the report's hints and code explanations against the corpus of real failure texts (tests/data).

    .venv/bin/python tools/hint_scores.py              # the code of this checkout
    PYTHONPATH=/tmp/old .venv/bin/python tools/hint_scores.py   # another checkout's shared/ (e.g. git archive main)

A hint is *right* when it is the one the entry expects (the cause its source gives), *generic* when it is
`unknown` for a text whose cause is known, *wrong* otherwise. A code is *named* right when the explainer gives
the name its source gives (or, for a code no source names, no name). docs/hints.md quotes the figures.
"""

from __future__ import annotations

import inspect
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "tests" / "data" / "failure_corpus.json"
sys.path.append(str(REPO))  # after PYTHONPATH: another checkout's shared/ given there wins


def main() -> int:
    from shared.jobs import JobStatus, StorageAuthenticationType
    from shared.reports import error_codes, failure_reasons

    corpus = json.loads(CORPUS.read_text(encoding="utf-8"))
    takes_job_type = "job_type" in inspect.signature(failure_reasons.hint_for).parameters
    hints: Counter[str] = Counter()
    extracted = [0, 0]
    for entry in corpus["failureReasons"]:
        reason = failure_reasons.parse_failure_reason(entry["text"])
        auth = StorageAuthenticationType(entry.get("storageAuthentication", "keyBased"))
        extra: dict[str, Any] = {"job_type": entry.get("jobType")} if takes_job_type else {}
        key = failure_reasons.hint_for(reason, status=JobStatus.FAILED, storage_authentication=auth, **extra).key
        verdict = "right" if key == entry["expected_hint"] else "generic" if key == "unknown" else "wrong"
        hints[verdict] += 1
        print(f"{verdict:8} {entry['id']}: {key} (expected {entry['expected_hint']})")
        if "expected_code" in entry or "expected_number" in entry:
            extracted[1] += 1
            got = (reason.code_name, reason.code_number) if reason is not None else (None, None)
            extracted[0] += got[0] == entry.get("expected_code", got[0]) and got[1] == entry.get(
                "expected_number", got[1])
    names: Counter[str] = Counter()
    for entry in corpus["codes"]:
        info = error_codes.describe_code(str(entry["expected_number"]))
        name = info.name if info is not None else None
        verdict = "right" if name == entry["expected_name"] else "unnamed" if name is None else "wrong"
        names[verdict] += 1
        expected = entry["expected_name"]
        print(f"{verdict:8} {entry['id']}: {entry['expected_number']} named {name!r} (expected {expected!r})")
    total = sum(hints.values())
    print(f"\nhints on {total} failure texts: {hints['right']} right, {hints['generic']} generic, "
          f"{hints['wrong']} wrong")
    print(f"codes taken from the texts that carry one: {extracted[0]} of {extracted[1]}")
    print(f"codes named on {sum(names.values())} code texts: {names['right']} right, {names['unnamed']} unnamed, "
          f"{names['wrong']} wrong")
    return 0


if __name__ == "__main__":
    sys.exit(main())
