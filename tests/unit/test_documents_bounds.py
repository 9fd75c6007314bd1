"""What the state keeps of a job's documents: bounded, and only documents of ours (issue 21, point 3)."""

from __future__ import annotations

import datetime
import json

from shared.poller.documents import (
    CUT_FIELD_CHARS,
    MAX_RECORD_DOCUMENT_BYTES,
    json_bytes,
    our_snapshot,
    parse_json_object,
    snapshot_document,
)

AT = datetime.datetime(2026, 3, 4, 5, 6, 7, tzinfo=datetime.UTC)
OURS = {"jobId": "j", "type": "export", "status": "running", "progress": 10, "polledAtUtc": "2026-03-04T05:06:07.000Z",
        "hub": "devhub"}


def test_a_job_document_within_the_bound_is_kept_whole_and_a_larger_one_is_cut_to_the_job_fields() -> None:
    small = snapshot_document({**OURS, "extra": "kept"}, hub="devhub", polled_at=AT)
    assert small["extra"] == "kept" and "monitorTruncated" not in small
    big = snapshot_document({**OURS, "failureReason": "r" * 10_000, "identity": {"x": "y" * 5000},
                             "padding": ["z"] * 100_000}, hub="devhub", polled_at=AT)
    assert len(json_bytes(big)) <= MAX_RECORD_DOCUMENT_BYTES
    assert big["monitorTruncated"] is True and "padding" not in big and "identity" not in big
    assert len(big["failureReason"]) == CUT_FIELD_CHARS
    assert (big["jobId"], big["status"], big["progress"], big["hub"]) == ("j", "running", 10, "devhub")


def test_only_a_snapshot_of_this_job_at_its_names_pair_within_the_bound_counts_as_ours() -> None:
    pair = ("running", 10)
    assert our_snapshot(dict(OURS), job_id="j", pair=pair) == OURS
    assert our_snapshot(None, job_id="j", pair=pair) is None
    assert our_snapshot({**OURS, "jobId": "other"}, job_id="j", pair=pair) is None
    assert our_snapshot({**OURS, "progress": 11}, job_id="j", pair=pair) is None
    assert our_snapshot({**OURS, "polledAtUtc": 5}, job_id="j", pair=pair) is None
    assert our_snapshot({**OURS, "filler": "x" * MAX_RECORD_DOCUMENT_BYTES}, job_id="j", pair=pair) is None


def test_a_body_that_is_not_a_json_object_parses_to_none_whatever_it_raises() -> None:
    for body in (b"[" * 100_000, b"1e999999", b"\xff\xfe\x00", b"[1]", b"", b'"x"', b"{" * 3):
        assert parse_json_object(body) is None
    assert parse_json_object(json.dumps(OURS).encode()) == OURS
