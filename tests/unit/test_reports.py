"""Failure reasons, hints, importErrors.log summaries and the redaction they rely on (no I/O)."""

from __future__ import annotations

import json

import pytest

from shared.jobs import JobStatus, StorageAuthenticationType
from shared.redaction import redact_text
from shared.reports.failure_reasons import Hint, hint_for, parse_failure_reason
from shared.reports.import_errors import MAX_LINE_BYTES, ImportErrorSummarizer, summarize_chunks
from tests.support.secrets import Secrets

KEY = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVoxMjM0NTY="
KEYED = StorageAuthenticationType.KEY_BASED
IDENTITY = StorageAuthenticationType.IDENTITY_BASED


@pytest.mark.parametrize(
    ("raw", "name", "number", "text"),
    [
        ("ErrorCode:BlobContainerValidationError;Unable to read blob", "BlobContainerValidationError", 400008,
         "Unable to read blob"),
        ("ErrorCode:ImportErrors;3 of 5 devices failed", "ImportErrors", None, "3 of 5 devices failed"),
        ("ErrorCode:400008;bad container", "BlobContainerValidationError", 400008, "bad container"),
        ("403003: only one active job", "JobQuotaExceeded", 403003, "only one active job"),
        ('{"errorCode":404002,"trackingId":"t","message":"Job not found","timestampUtc":"x"}', "JobNotFound",
         404002, "Job not found"),
        ('{"Message":"ErrorCode:ThrottlingBacklogTimeout;Wait 10 seconds","ExceptionMessage":"Tracking ID:1"}',
         "ThrottlingBacklogTimeout", 429003, "Wait 10 seconds"),
        ("Unable to access blob container, errorcode: IH400007", None, 400007,
         "Unable to access blob container, errorcode: IH400007"),
        ("Something odd happened", None, None, "Something odd happened"),
    ],
)
def test_failure_reason_forms(raw: str, name: str | None, number: int | None, text: str) -> None:
    reason = parse_failure_reason(raw)
    assert reason is not None
    assert (reason.code_name, reason.code_number, reason.text) == (name, number, text)


def test_failure_reason_absent_and_redacted() -> None:
    assert parse_failure_reason(None) is None
    assert parse_failure_reason("  ") is None
    reason = parse_failure_reason("ErrorCode:X;https://a.blob.core.windows.net/c?sv=1&sig=abcdEFGH%3D")
    assert reason is not None
    assert "abcdEFGH" not in json.dumps(reason.to_json())


@pytest.mark.parametrize(
    ("raw", "auth", "hint"),
    [
        ("ErrorCode:BlobContainerValidationError;Unable to access blob container 'out': HTTP 404 ContainerNotFound.",
         KEYED, Hint.CONTAINER_MISSING),
        ("ErrorCode:BlobContainerValidationError;Unable to read blob 'devices.txt': the blob does not exist or is "
         "not committed.", KEYED, Hint.INPUT_BLOB_MISSING),
        ("ErrorCode:BlobContainerValidationError;Unable to access: HTTP 403 AuthenticationFailed.", KEYED,
         Hint.SAS_EXPIRED_OR_LACKS_PERMISSIONS),
        ("Signed expiry time has expired", KEYED, Hint.SAS_EXPIRED_OR_LACKS_PERMISSIONS),
        ("ErrorCode:BlobContainerValidationError;HTTP 403 AuthorizationPermissionMismatch", IDENTITY,
         Hint.IDENTITY_LACKS_STORAGE_ROLE),
        ("ErrorCode:ManagedIdentityNotEnabled;no identity", IDENTITY, Hint.IDENTITY_LACKS_STORAGE_ROLE),
        ("ErrorCode:JobQuotaExceeded;Only one active job", KEYED, Hint.ANOTHER_JOB_RUNNING),
        ("ErrorCode:ThrottlingBacklogTimeout;throttled", KEYED, Hint.THROTTLED),
        ("ErrorCode:ImportErrors;2 of 4 devices failed to import", KEYED, Hint.DEVICE_IMPORT_ERRORS),
        ("Something odd happened", KEYED, Hint.UNKNOWN),
    ],
)
def test_hints(raw: str, auth: StorageAuthenticationType, hint: Hint) -> None:
    reason = parse_failure_reason(raw)
    assert hint_for(reason, status=JobStatus.FAILED, storage_authentication=auth) is hint


def test_cancelled_hint() -> None:
    assert hint_for(None, status=JobStatus.CANCELLED, storage_authentication=KEYED) is Hint.CANCELLED


def _line(device: str, code: int, status: str) -> bytes:
    return (json.dumps({"deviceId": device, "errorCode": code, "errorStatus": status}) + "\n").encode()


def test_summary_counts_and_redacts_across_chunk_boundaries() -> None:
    device = json.dumps({"id": "d1", "authentication": {"symmetricKey": {"primaryKey": KEY, "secondaryKey": KEY}}})
    malformed = '{"id":"d2","authentication":{"symmetricKey":{"primaryKey":"' + KEY
    data = b"".join(
        [_line("d1", 409001, f"Device d1 already exists. Line: {device}")] * 3
        + [_line("", 400012, f"Invalid device format in line: {malformed}. Unterminated string")] * 2
        + [b"not json at all\n", b"\n"]
        + [_line("d3", 404001, "Device d3 not found.")]
    )
    for size in (1, 7, 64, len(data)):
        summary = summarize_chunks(data[i : i + size] for i in range(0, len(data), size))
        assert summary.total_lines == 7
        assert summary.counts_by_error_code == {"409001": 3, "400012": 2, "unparsed": 1, "404001": 1}
        assert [e["line"] for e in summary.first_entries] == [1, 2, 3, 4, 5, 6, 7]
        assert summary.first_entries[0]["deviceId"] == "d1"
        planted = Secrets()
        planted.add("device key", KEY)
        planted.assert_absent(json.dumps(summary.to_json()), "the summary")


def test_summary_keeps_twenty_and_cuts_long_lines() -> None:
    summarizer = ImportErrorSummarizer()
    huge = _line("big", 400012, "x" * (MAX_LINE_BYTES * 2) + f'"primaryKey":"{KEY}"')
    summarizer.feed(huge[:1000])
    summarizer.feed(huge[1000:])
    for index in range(30):
        summarizer.feed(_line(f"d{index}", 404001, "not found"))
    summary = summarizer.finish()
    assert summary.total_lines == 31
    assert summary.long_lines == 1
    assert len(summary.first_entries) == 20
    assert summary.first_entries[0]["deviceId"] == "big"
    assert summary.first_entries[0]["errorStatus"] is None
    assert KEY not in json.dumps(summary.to_json())


def test_redaction_catches_unterminated_secret_values() -> None:
    """Echoed malformed device JSON can leave a key without its closing quote (fixed in shared/redaction.py)."""
    for text in (
        'line: {"symmetricKey":{"primaryKey":"' + KEY + ". Expecting ',' delimiter",
        'line: {\\"primaryKey\\":\\"' + KEY,
    ):
        redacted = redact_text(text)
        assert KEY not in redacted
        assert redact_text(redacted) == redacted


def test_markdown_escapes_table_cells() -> None:
    import datetime

    from shared.reports.markdown import render_markdown
    from shared.reports.report import build_report

    job = {"jobId": "j|1", "type": "export", "status": "failed", "failureReason": "ErrorCode:X;bad | pipe\nnew line",
           "startTimeUtc": "2026-01-01T00:00:00Z", "endTimeUtc": "2026-01-01T01:02:03.5Z",
           "outputBlobContainerUri": "https://a.blob.core.windows.net/c?sig=secretsig"}
    report = build_report(job, hub="devhub", timeline=[], import_errors=None, import_errors_note=None,
                          generated_at=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC))
    document = report.to_json()
    assert document["durationSeconds"] == 3723.5
    markdown = render_markdown(document)
    assert "j\\|1" in markdown
    assert "bad \\| pipe new line" in markdown
    assert "1 h 2 min 3 s" in markdown
    assert "secretsig" not in markdown and "secretsig" not in json.dumps(document)
