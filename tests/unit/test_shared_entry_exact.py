"""The shared cache's entry (shared/proxy/prepared.py), field by field: what one instance writes is what another
reads back (an answer, a 404, a job list, a claim, each failure a waiting instance is answered with), and what no
instance wrote whole (another version, a body not redacted, a time that is not one, a failure of an unknown
type) is refused as corrupt. Written for the mutants `make mutate` left alive in its parsing."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from shared.errors import (
    CredentialError,
    HubAuthError,
    HubBudgetExhausted,
    HubError,
    HubServiceError,
    HubThrottledError,
    HubTimeoutError,
    JobNotFoundError,
)
from shared.jobs import JobStatus
from shared.proxy.prepared import (
    Answer,
    Claim,
    CorruptEntry,
    DocumentKind,
    Entry,
    Failure,
    PreparedJob,
    Source,
    _RedactedJobs,
    etag_of,
    newest_usable,
)

JOB = {"jobId": "j1", "status": "running", "progress": 40, "outputBlobContainerUri": "https://a/c?sv=1&sig=REDACTED"}
BODY = json.dumps(JOB, separators=(",", ":")).encode()


def _round_trip(entry: Entry, kind: DocumentKind = DocumentKind.JOB) -> Entry:
    return Entry.from_bytes(entry.to_bytes(), kind)


def test_an_answer_and_a_claim_come_back_as_written() -> None:
    entry = Entry(answer=Answer(fetched_at=12.5, body=BODY, status=JobStatus.RUNNING, tracking_id="t1"),
                  claim=Claim(id="c1", at=3.25))
    assert json.loads(entry.to_bytes()) == {
        "v": 1, "answer": {"fetchedAt": 12.5, "body": BODY.decode(), "trackingId": "t1", "errorCode": None},
        "claim": {"id": "c1", "at": 3.25}, "failure": None}
    back = _round_trip(entry)
    assert back == entry
    job = back.answer.job(Source.STALE) if back.answer else None
    assert job is not None
    assert (job.body, job.etag, job.status, job.tracking_id, job.attempts, job.fetched_at, job.source) == (
        BODY, etag_of(BODY), JobStatus.RUNNING, "t1", 0, 12.5, Source.STALE)
    assert back.answer is not None and back.answer.job().source is Source.SHARED  # type: ignore[union-attr]


def test_a_404_comes_back_as_the_error_its_callers_get() -> None:
    found = JobNotFoundError("x", hub="h", status_code=404, error_code="404001", tracking_id="t2")
    entry = _round_trip(Entry(answer=Answer.not_found(found, 7.0)))
    assert entry.answer is not None and entry.answer.job() is None and not entry.answer.terminal
    error = entry.answer.error("devhub")
    assert (type(error), error.message, error.hub, error.status_code, error.error_code, error.tracking_id,
            error.attempts) == (JobNotFoundError, "the hub has no such job", "devhub", 404, "404001", "t2", 0)
    assert entry.answer.fetched_at == 7.0


def test_a_job_list_comes_back_only_as_a_list() -> None:
    listed = json.dumps([JOB], separators=(",", ":")).encode()
    entry = _round_trip(Entry(answer=Answer(fetched_at=1.0, body=listed, status=JobStatus.UNKNOWN)),
                        DocumentKind.JOB_LIST)
    assert entry.answer is not None and entry.answer.body == listed and entry.answer.status is JobStatus.UNKNOWN
    with pytest.raises(CorruptEntry):
        _round_trip(Entry(answer=Answer(fetched_at=1.0, body=BODY, status=JobStatus.RUNNING)), DocumentKind.JOB_LIST)
    with pytest.raises(CorruptEntry):
        _round_trip(Entry(answer=Answer(fetched_at=1.0, body=listed, status=None)), DocumentKind.JOB)
    with pytest.raises(CorruptEntry):
        _round_trip(Entry(answer=Answer(fetched_at=1.0, body=b"[1]", status=None)), DocumentKind.JOB_LIST)


@pytest.mark.parametrize("error", [
    HubAuthError("denied", hub="h", status_code=401, error_code="401002", tracking_id="t"),
    HubBudgetExhausted("spent", hub="h", retry_after=30.0),
    HubServiceError("down", hub="h", status_code=503),
    HubTimeoutError("slow", hub="h"),
    JobNotFoundError("gone", hub="h", status_code=404, error_code="404001"),
    HubThrottledError("busy", hub="h", retry_after=12.5, status_code=429, error_code="429001", tracking_id="t"),
])
def test_each_hub_failure_reaches_a_waiting_instance_as_it_was_raised(error: HubError) -> None:
    failure = Failure.of("claim-1", error)
    assert failure is not None
    back = _round_trip(Entry(failure=failure)).failure
    assert back is not None and back.claim == "claim-1"
    again = back.error()
    assert type(again) is type(error) and isinstance(again, HubError)
    assert (again.message, again.hub, again.status_code, again.error_code, again.tracking_id, again.attempts) == (
        error.message, error.hub, error.status_code, error.error_code, error.tracking_id, 0)
    if isinstance(error, HubThrottledError):  # HubBudgetExhausted is one too
        assert isinstance(again, HubThrottledError) and again.retry_after == error.retry_after


def test_a_credential_failure_keeps_its_kind_and_message_and_other_errors_are_not_shared() -> None:
    failure = Failure.of("c", CredentialError("managed identity", "no token"))
    assert failure is not None and failure.fields == {"type": "CredentialError", "kind": "managed identity",
                                                      "message": "managed identity: no token"}
    again = _round_trip(Entry(failure=failure)).failure
    assert again is not None
    error = again.error()
    assert isinstance(error, CredentialError) and str(error) == "managed identity: no token"
    assert error.credential_kind == "managed identity"
    assert Failure.of("c", ValueError("x")) is None
    throttled = Failure(claim="c", fields={"type": "HubThrottledError", "message": "m", "hub": "h"}).error()
    assert isinstance(throttled, HubThrottledError) and throttled.retry_after == 1.0  # none stored: a second
    odd = Failure(claim="c", fields={"type": "HubServiceError", "message": "m", "hub": "h", "statusCode": True,
                                     "errorCode": 5, "trackingId": ["t"]}).error()
    assert (odd.status_code, odd.error_code, odd.tracking_id) == (None, None, None)  # type: ignore[attr-defined]


@pytest.mark.parametrize("data", [
    b"not json", b"[]", b'{"v": 2, "answer": null}', b'{"answer": null}',
    json.dumps({"v": 1, "answer": {"fetchedAt": "nan", "body": None}}).encode(),
    json.dumps({"v": 1, "answer": {"fetchedAt": "inf", "body": None}}).encode(),
    json.dumps({"v": 1, "answer": {"fetchedAt": "-inf", "body": None}}).encode(),
    json.dumps({"v": 1, "answer": {"fetchedAt": 1, "body": json.dumps(
        {**JOB, "outputBlobContainerUri": "https://a/c?sv=1&sig=abc"}, separators=(",", ":"))}}).encode(),
    json.dumps({"v": 1, "answer": {"fetchedAt": 1, "body": json.dumps(JOB)}}).encode(),  # not as written
    json.dumps({"v": 1, "answer": {"fetchedAt": 1, "body": "[]"}}).encode(),
    json.dumps({"v": 1, "failure": {"claim": "c", "type": "KeyError", "message": "m", "hub": "h"}}).encode(),
    json.dumps({"v": 1, "failure": {"claim": "c", "type": "HubServiceError", "message": 5, "hub": "h"}}).encode(),
    json.dumps({"v": 1, "failure": {"claim": "c", "type": "HubServiceError", "message": "m"}}).encode(),
    json.dumps({"v": 1, "claim": {"id": "c"}}).encode(),
    json.dumps({"v": 1, "claim": {"id": "c", "at": "nan"}}).encode(),
])
def test_what_no_instance_wrote_whole_is_corrupt(data: bytes) -> None:
    with pytest.raises(CorruptEntry):
        Entry.from_bytes(data)


def test_a_credential_failure_needs_no_hub_and_fields_come_back_whole() -> None:
    raw = {"v": 1, "answer": None, "claim": None,
           "failure": {"claim": "c", "type": "CredentialError", "message": "m", "kind": "k"}}
    entry = Entry.from_bytes(json.dumps(raw).encode())
    assert entry.failure == Failure(claim="c", fields={"type": "CredentialError", "message": "m", "kind": "k"})
    assert entry.answer is None and entry.claim is None
    assert Entry.from_bytes(entry.to_bytes()) == entry


def _prepared(**fields: Any) -> PreparedJob:
    values: dict[str, Any] = {"body": BODY, "etag": '"e"', "status": JobStatus.RUNNING, "tracking_id": None,
                              "attempts": 1, "fetched_at": 100.0, **fields}
    return PreparedJob(**values)


def test_an_answer_is_reused_for_what_is_left_of_its_ttl_and_a_stale_one_until_the_hub_may_be_asked() -> None:
    fresh = _prepared()
    assert fresh.reuse_seconds(10.0, now=104.0) == 6.0
    assert fresh.reuse_seconds(10.0, now=90.0) == 10.0  # fetched "in the future" (another clock): the whole TTL
    stale = fresh.stale(retry_after=3.0)
    assert (stale.source, stale.retry_after, stale.attempts) == (Source.STALE, 3.0, 0)
    assert stale.reuse_seconds(10.0, now=500.0) == 3.0
    assert fresh.stale(0.1).reuse_seconds(10.0, now=500.0) == 0.5  # at least MIN_STALE_REUSE_SECONDS
    assert fresh.stale(60.0).reuse_seconds(10.0, now=500.0) == 10.0  # at most the TTL


def test_an_answers_headers_say_its_upstream_id_and_a_stale_ones_age() -> None:
    assert _prepared().answer_headers('"x"', now=130.0) == {
        "ETag": '"x"', "Cache-Control": "no-store", "Content-Type": "application/json; charset=utf-8"}
    stale = _prepared(tracking_id="t9").stale(5.0)
    assert stale.answer_headers('"x"', now=130.9) == {
        "ETag": '"x"', "Cache-Control": "no-store", "Content-Type": "application/json; charset=utf-8",
        "x-upstream-request-id": "t9", "Age": "30"}
    assert stale.answer_headers('"x"', now=99.0)["Age"] == "0"  # never negative


def test_a_list_is_one_redacted_document_never_final_and_its_jobs_redacted_once() -> None:
    signed = {"jobId": "j", "status": "completed", "outputBlobContainerUri": "https://a/c?sv=1&sig=abc"}
    prepared = PreparedJob.from_list([signed, signed], redact_sas=True, tracking_id="t", attempts=2, fetched_at=5.0)
    assert json.loads(prepared.body) == [{**signed, "outputBlobContainerUri": "https://a/c?sv=1&sig=REDACTED"}] * 2
    assert (prepared.status, prepared.etag, prepared.tracking_id, prepared.attempts, prepared.fetched_at) == (
        JobStatus.UNKNOWN, etag_of(prepared.body), "t", 2, 5.0)
    kept = PreparedJob.from_list([signed], redact_sas=False, tracking_id=None, attempts=1, fetched_at=5.0)
    assert json.loads(kept.body) == [signed]  # the switch is part of what is remembered


def test_remembered_redactions_are_bounded_and_the_oldest_go_first() -> None:
    remember = _RedactedJobs(2)
    jobs = [{"jobId": str(n)} for n in range(3)]
    first = remember(jobs[:1], redact_sas=True)[0]
    assert remember(jobs[:1], redact_sas=True)[0] is first  # the same text: redacted once
    remember(jobs[1:3], redact_sas=True)  # two more: the first is forgotten
    assert remember(jobs[:1], redact_sas=True)[0] is not first
    assert remember(jobs[2:3], redact_sas=True)[0] == {"jobId": "2"}


def test_an_etag_is_the_quoted_first_half_of_the_bodys_sha256() -> None:
    assert etag_of(b"x") == '"' + hashlib.sha256(b"x").hexdigest()[:32] + '"'


def test_a_stale_answer_is_usable_from_two_seconds_ahead_to_a_minute_old_and_the_newest_wins() -> None:
    now = 1000.0
    at = {age: _prepared(fetched_at=now - age) for age in (-2.5, -2.0, 0.0, 30.0, 60.0, 60.5)}
    assert newest_usable(now, at[0.0]) is at[0.0]
    assert newest_usable(now, at[-2.0]) is at[-2.0] and newest_usable(now, at[60.0]) is at[60.0]
    assert newest_usable(now, at[-2.5], at[60.5], None) is None
    assert newest_usable(now, at[60.0], at[30.0], at[0.0]) is at[0.0]


def test_an_answer_keeps_its_tracking_id_and_has_a_job_only_with_body_and_status() -> None:
    prepared = PreparedJob.from_job({"jobId": "j", "status": "failed", "outputBlobContainerUri": "https://a/c?sig=s"},
                                    redact_sas=False, tracking_id="t7", attempts=3, fetched_at=9.0)
    assert (prepared.tracking_id, prepared.attempts, prepared.status) == ("t7", 3, JobStatus.FAILED)
    assert b"sig=s" in prepared.body  # the caller's switch, kept
    answer = Answer.of(prepared)
    assert (answer.tracking_id, answer.body, answer.status, answer.fetched_at) == ("t7", prepared.body,
                                                                                  JobStatus.FAILED, 9.0)
    assert Answer(fetched_at=1.0, body=None, status=JobStatus.RUNNING).job() is None
    assert Answer(fetched_at=1.0, body=BODY, status=None).job() is None


def test_entries_and_lists_are_written_compact() -> None:
    assert Entry(claim=Claim(id="c", at=1.0)).to_bytes() == b'{"v":1,"answer":null,"claim":{"id":"c","at":1.0},' \
                                                            b'"failure":null}'
    listed = PreparedJob.from_list([{"jobId": "j", "status": "completed"}], redact_sas=True, tracking_id=None,
                                   attempts=1, fetched_at=1.0)
    assert listed.body == b'[{"jobId":"j","status":"completed"}]'


def test_failure_fields_left_out_read_as_empty_and_the_kind_as_credential() -> None:
    error = Failure(claim="c", fields={"type": "HubServiceError", "hub": "h"}).error()
    assert isinstance(error, HubServiceError) and error.message == ""
    credential = Failure(claim="c", fields={"type": "CredentialError", "message": "credential: none"}).error()
    assert isinstance(credential, CredentialError) and credential.credential_kind == "credential"
    assert str(credential) == "credential: none"
    assert Failure.of("c", HubError("not one of the shared kinds", hub="h")) is None


def test_a_stored_list_with_a_signature_is_corrupt_and_a_fresh_memory_honours_the_switch() -> None:
    signed = {"jobId": "j", "status": "completed", "outputBlobContainerUri": "https://a/c?sv=1&sig=abc"}
    stored = {"v": 1, "answer": {"fetchedAt": 1, "body": json.dumps([signed], separators=(",", ":"))}}
    with pytest.raises(CorruptEntry):
        Entry.from_bytes(json.dumps(stored).encode(), DocumentKind.JOB_LIST)
    remember = _RedactedJobs(10)  # its own memory: what other tests redacted is not remembered here
    assert remember([signed], redact_sas=False) == [signed]
    assert remember([signed], redact_sas=True)[0]["outputBlobContainerUri"].endswith("sig=REDACTED")
    bounded = _RedactedJobs(2)
    first, second = bounded([{"jobId": "1"}], redact_sas=True)[0], bounded([{"jobId": "2"}], redact_sas=True)[0]
    assert bounded([{"jobId": "1"}], redact_sas=True)[0] is first  # two fit
    assert bounded([{"jobId": "2"}], redact_sas=True)[0] is second
