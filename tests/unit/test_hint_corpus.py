"""Every entry of the corpus of real failure texts (tests/data/failure_corpus.json) is a test.

Each text was found verbatim in a public source (IoT Hub docs, the SDKs' sources, Azure SDK recordings of real
storage answers, issue threads where users pasted them); the entry gives the source and the cause as the source
explains it. A failure text must get the hint of that cause, with the code taken from where the text carries it; a
text that carries an IoT Hub code must be explained under the name the docs and the SDKs' lists give it (or, for a
code none names, under no name). docs/hints.md lists the hints and their evidence.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from shared.jobs import JobStatus, StorageAuthenticationType
from shared.reports.code_names import code_family
from shared.reports.error_codes import describe_code, unknown_code_info
from shared.reports.failure_reasons import Hint, hint_for, parse_failure_reason
from shared.reports.import_errors import summarize_chunks

CORPUS: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[1] / "data" / "failure_corpus.json").read_text(encoding="utf-8"))
FAILURES: list[dict[str, Any]] = CORPUS["failureReasons"]
CODES: list[dict[str, Any]] = CORPUS["codes"]
_SIX_DIGITS = re.compile(r"(?<!\d)(\d{6})(?!\d)")


def _ids(entries: list[dict[str, Any]]) -> list[str]:
    return [entry["id"] for entry in entries]


def test_every_entry_has_its_text_source_cause_and_expectation() -> None:
    entries = FAILURES + CODES
    assert len(entries) >= 30 and len(set(_ids(entries))) == len(entries)
    keys = {hint.key for hint in Hint}
    for entry in entries:
        assert entry["text"].strip() and entry["source"].strip() and entry["cause"].strip(), entry["id"]
        assert entry.get("expected_hint", "unknown") in keys, entry["id"]
        assert "expected_hint" in entry or "expected_name" in entry, entry["id"]


@pytest.mark.parametrize("entry", FAILURES, ids=_ids(FAILURES))
def test_a_real_failure_text_gets_the_hint_of_its_real_cause(entry: dict[str, Any]) -> None:
    reason = parse_failure_reason(entry["text"])
    auth = StorageAuthenticationType(entry.get("storageAuthentication", "keyBased"))
    hint = hint_for(reason, status=JobStatus.FAILED, storage_authentication=auth, job_type=entry.get("jobType"))
    assert hint.key == entry["expected_hint"], f"{entry['id']}: {entry['cause']}"
    assert reason is not None
    if "expected_code" in entry:
        assert reason.code_name == entry["expected_code"]
    if "expected_number" in entry:
        assert reason.code_number == entry["expected_number"]


@pytest.mark.parametrize("entry", CODES, ids=_ids(CODES))
def test_a_code_in_a_real_text_is_named_as_the_docs_and_sdks_name_it(entry: dict[str, Any]) -> None:
    found = _SIX_DIGITS.search(entry["text"])
    assert found is not None and int(found.group(1)) == entry["expected_number"]
    info = describe_code(found.group(1))
    if entry["expected_name"] is None:
        # No source names it: the number and its family, never a guessed name.
        assert info is None
        unnamed = unknown_code_info(found.group(1))
        assert unnamed.name == "(unknown code)" and str(code_family(entry["expected_number"])) in unnamed.meaning
    else:
        assert info is not None and info.name == entry["expected_name"] and info.source
    if "expected_field" in entry:
        problem = summarize_chunks([entry["text"].encode() + b"\n"]).first_entries[0]["problem"]
        assert entry["expected_field"] in problem and entry["expected_value"] in problem


def test_403002_in_an_import_is_explained_as_the_device_count_limit_as_the_docs_say() -> None:
    info = describe_code("403002")
    assert info is not None and "device-count limit" in info.meaning
    assert "COUNT()" in info.action and "one by one" in info.action and "quota to reset" not in info.action
    reason = parse_failure_reason("ErrorCode:IotHubQuotaExceeded;quota")
    hint = hint_for(reason, status=JobStatus.FAILED, storage_authentication=StorageAuthenticationType.KEY_BASED,
                    job_type="import")
    assert hint is Hint.DEVICE_COUNT_QUOTA
    assert hint_for(reason, status=JobStatus.FAILED, storage_authentication=StorageAuthenticationType.KEY_BASED,
                    job_type="export") is Hint.DAILY_MESSAGE_QUOTA
