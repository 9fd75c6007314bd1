"""What the list route and the status page remember per process of a hub's list (shared/proxy/prepared.py,
shared/proxy/listing.py): each job's redaction and JSON, keyed by the job's exact text, and what the filters read
of it. A memo may only save work: the body is the one json.dumps makes, and one job's entry is never another's."""

from __future__ import annotations

import json
from typing import Any

from shared.proxy.listing import JobListView
from shared.proxy.prepared import PreparedJob
from shared.redaction import redact_job
from tests.support.secrets import Secrets

SIGNATURE = "c2lnbmF0dXJlLW9mLXRoZS1tZW1vLXRlc3Q%3D"
SAS = f"https://acct.blob.core.windows.net/out?sv=2021-08-06&sr=c&sp=rwd&sig={SIGNATURE}"


def _listed(jobs: list[dict[str, Any]]) -> PreparedJob:
    return PreparedJob.from_list(jobs, redact_sas=True, tracking_id=None, attempts=1, fetched_at=0.0)


def test_the_body_is_what_json_dumps_makes_of_the_redacted_list() -> None:
    jobs: list[dict[str, Any]] = [
        {"jobId": "a", "status": "failed", "outputBlobContainerUri": SAS, "failureReason": "ü\u2028<x>\"q\""},
        {"jobId": "b", "progress": 1.5, "nested": [1, {"k": None, "t": True}]},
        {"jobId": "a", "status": "failed", "outputBlobContainerUri": SAS, "failureReason": "ü\u2028<x>\"q\""},
    ]
    for _ in range(2):  # the second time from the memo
        prepared = _listed(jobs)
        assert prepared.body == json.dumps([redact_job(j, redact_sas=True) for j in jobs],
                                           separators=(",", ":")).encode()
        secrets = Secrets()
        secrets.add("the SAS signature", SIGNATURE)
        secrets.assert_absent(prepared.body.decode(), "the list body")


def test_jobs_that_differ_only_in_a_value_s_type_never_share_an_entry() -> None:
    # 1, 1.0 and True are equal in Python and three JSON values: the same job, listed with each in turn, keeps
    # its own each time (a memo keyed by equality would hand back the first).
    for _ in range(2):
        for value in (1, 1.0, True, "1"):
            body = _listed([{"jobId": "job-1", "progress": value}]).body
            assert body == json.dumps([{"jobId": "job-1", "progress": value}], separators=(",", ":")).encode()
    # The same fields in another order are another text: a miss, never another job's entry.
    reordered = [{"progress": 1, "jobId": "job-x"}]
    assert json.loads(_listed(reordered).body) == reordered


def test_a_view_from_the_memo_reads_the_same_as_one_parsed_from_the_body() -> None:
    jobs: list[dict[str, Any]] = [
        {"jobId": f"job-{i}", "type": ("export", "IMPORT", "other")[i % 3], "status": ("running", "failed")[i % 2],
         "startTimeUtc": f"2026-12-0{1 + i % 5}T10:00:0{i % 10}.1234567Z", "failureReason": f"Reason {i}"}
        for i in range(30)]
    for _ in range(2):
        prepared = _listed(jobs)
        assert prepared.jobs is not None
        remembered, parsed = JobListView(prepared.body, jobs=prepared.jobs), JobListView(prepared.body)
        assert [(j.job, j.status, j.type, j.started, j.search) for j in remembered.jobs] == [
            (j.job, j.status, j.type, j.started, j.search) for j in parsed.jobs]
