"""Failure reasons, hints, importErrors.log summaries and the redaction they rely on (no I/O)."""

from __future__ import annotations

import datetime
import json
import urllib.parse

import pytest

from shared.jobs import JobStatus, StorageAuthenticationType
from shared.redaction import redact_text
from shared.reports.error_codes import describe_code
from shared.reports.failure_reasons import Hint, hint_for, parse_failure_reason
from shared.reports.import_errors import (
    MAX_LINE_BYTES,
    ImportErrorSummarizer,
    ImportErrorSummary,
    count_lines,
    import_input_blob_name,
    import_log_blob,
    log_not_this_jobs,
    overwritten_by,
    summarize_chunks,
)
from shared.reports.markdown import render_markdown
from shared.reports.report import ReportKind, TimelineEntry, build_report, report_kind, report_title
from tests.support.secrets import Secrets, planted

KEY = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVoxMjM0NTY="
SIG = planted("report signature")
# What no report, summary or redacted text may hold, looked for in every encoding (never by asking the redactor).
PLANTED = Secrets()
PLANTED.update([("device key", KEY), ("signature", SIG)])
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
    quoted = urllib.parse.quote(SIG, safe="")
    reason = parse_failure_reason(f"ErrorCode:X;https://a.blob.core.windows.net/c?sv=1&sig={quoted}")
    assert reason is not None
    PLANTED.assert_absent(json.dumps(reason.to_json()), "the parsed failure reason")


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
        ("ErrorCode:BlobContainerValidationError;Unable to access: HTTP 403 AuthorizationFailure.", KEYED,
         Hint.STORAGE_FIREWALL),
        ("ErrorCode:BlobContainerValidationError;Unable to access: HTTP 403 AuthorizationFailure.", IDENTITY,
         Hint.STORAGE_FIREWALL),
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
        PLANTED.assert_absent(json.dumps(summary.to_json()), "the summary")


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
    PLANTED.assert_absent(json.dumps(summary.to_json()), "the summary")


def test_redaction_catches_unterminated_secret_values() -> None:
    """Echoed malformed device JSON can leave a key without its closing quote (fixed in shared/redaction.py)."""
    for text in (
        'line: {"symmetricKey":{"primaryKey":"' + KEY + ". Expecting ',' delimiter",
        'line: {\\"primaryKey\\":\\"' + KEY,
    ):
        assert PLANTED.found_in(text)
        redacted = redact_text(text)
        PLANTED.assert_absent(redacted, "the redacted text")
        assert redact_text(redacted) == redacted


def test_markdown_escapes_table_cells() -> None:
    job = {"jobId": "j|1", "type": "export", "status": "failed", "failureReason": "ErrorCode:X;bad | pipe\nnew line",
           "startTimeUtc": "2026-01-01T00:00:00Z", "endTimeUtc": "2026-01-01T01:02:03.5Z",
           "outputBlobContainerUri": f"https://a.blob.core.windows.net/c?sig={urllib.parse.quote(SIG, safe='')}"}
    report = build_report(job, hub="devhub", timeline=[], import_errors=None, import_errors_note=None,
                          generated_at=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC))
    document = report.to_json()
    assert document["durationSeconds"] == 3723.5
    markdown = render_markdown(document)
    assert "j\\|1" in markdown
    assert "bad \\| pipe new line" in markdown
    assert "1 h 2 min 3 s" in markdown
    PLANTED.assert_absent(markdown, "the Markdown")
    PLANTED.assert_absent(json.dumps(document), "the report's JSON")


# -- report kinds and titles ------------------------------------------------------------------------------------
def _summary(*lines: dict[str, object]) -> ImportErrorSummary:
    return summarize_chunks([b"".join((json.dumps(line) + "\n").encode() for line in lines)])


GENERATED = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


@pytest.mark.parametrize(
    ("status", "job_type", "lines", "kind"),
    [
        ("completed", "import", 3, ReportKind.IMPORT),  # the commonest real failure: rejected lines, completed
        ("completed", "import", 0, None),  # an empty log: no errors, no report
        ("completed", "import", None, None),  # no log at all
        ("completed", "export", 3, None),
        ("failed", "import", 3, ReportKind.FAILURE),
        ("failed", "import", None, ReportKind.FAILURE),
        ("cancelled", "export", None, ReportKind.FAILURE),
        ("running", "import", 3, None),
    ],
)
def test_report_kind(status: str, job_type: str, lines: int | None, kind: ReportKind | None) -> None:
    summary = None if lines is None else _summary(*[{"errorCode": 404001, "errorStatus": "x"}] * lines)
    assert report_kind({"status": status, "type": job_type}, summary) is kind


@pytest.mark.parametrize(
    ("kind", "job_type", "status", "rejected", "inputs", "title"),
    [
        (ReportKind.IMPORT, "import", JobStatus.COMPLETED, 3, 10_000, "import completed: 3 of 10,000 lines rejected"),
        (ReportKind.IMPORT, "import", JobStatus.COMPLETED, 1234, None, "import completed: 1,234 lines rejected"),
        (ReportKind.IMPORT, "import", JobStatus.COMPLETED, 1, None, "import completed: 1 line rejected"),
        (ReportKind.IMPORT, "import", JobStatus.COMPLETED, 1, 1, "import completed: 1 of 1 line rejected"),
        # An input with fewer lines than were rejected is not the one the log came from: no total, and the unit
        # follows the rejected lines.
        (ReportKind.IMPORT, "import", JobStatus.COMPLETED, 2, 1, "import completed: 2 lines rejected"),
        (ReportKind.FAILURE, "import", JobStatus.FAILED, 6, None, "import failed"),
        (ReportKind.IMPORT, "import", JobStatus.COMPLETED, None, None,
         "import completed: its errors log could not be read"),
        (ReportKind.FAILURE, "export", JobStatus.CANCELLED, None, None, "export cancelled"),
        (ReportKind.FAILURE, "<img src=x>", JobStatus.FAILED, None, None, "job failed"),
    ],
)
def test_report_titles(
    kind: ReportKind, job_type: str, status: JobStatus, rejected: int | None, inputs: int | None, title: str
) -> None:
    assert report_title(kind, job_type=job_type, status=status, rejected_lines=rejected, input_lines=inputs) == title


def test_completed_import_with_rejected_lines_gets_an_import_report() -> None:
    job = {"jobId": "j1", "type": "import", "status": "completed", "progress": 100,
           "startTimeUtc": "2026-01-01T00:00:00Z", "endTimeUtc": "2026-01-01T00:00:10Z"}
    summary = _summary({"errorCode": 409001, "errorStatus": 'Device d1 already exists. Line: {"id":"d1"}'},
                       {"errorCode": 409001, "errorStatus": 'Device d2 already exists. Line: {"id":"d2"}'},
                       {"errorCode": 400012, "errorStatus": 'Invalid device format in line: {"id": "d3", . Err'})
    document = build_report(job, hub="devhub", timeline=[], import_errors=summary, import_errors_note=None,
                            generated_at=GENERATED, input_lines=10_000).to_json()
    assert (document["kind"], document["title"]) == ("import", "import completed: 3 of 10,000 lines rejected")
    assert document["reportVersion"] == 2
    assert document["failureReason"] is None
    assert document["hint"]["key"] == "deviceImportErrors"
    assert [(e["deviceId"], e["deviceIdSource"]) for e in document["importErrors"]["firstEntries"]] == [
        ("d1", "line"), ("d2", "line"), ("d3", "line")]
    assert [(c["code"], c["lines"], c["name"]) for c in document["importErrors"]["errorCodes"]] == [
        ("409001", 2, "DeviceAlreadyExists"), ("400012", 1, "DeserializationError")]
    markdown = render_markdown(document)
    assert markdown.startswith("# IoT Hub import completed: 3 of 10,000 lines rejected\n")
    assert "| 409001 | DeviceAlreadyExists | 2 |" in markdown
    assert "| 1 | d1 | 409001 |" in markdown
    assert "## Failure reason" not in markdown


def test_failed_and_cancelled_jobs_get_failure_reports() -> None:
    failed = build_report({"jobId": "f", "type": "import", "status": "failed",
                           "failureReason": "ErrorCode:BlobContainerValidationError;Unable to read blob 'devices.txt'"
                                            ": the blob does not exist or is not committed."},
                          hub="h", timeline=[], import_errors=None,
                          import_errors_note="importErrors.log was not found in the output container",
                          generated_at=GENERATED).to_json()
    assert (failed["kind"], failed["title"], failed["hint"]["key"]) == ("failure", "import failed", "inputBlobMissing")
    assert render_markdown(failed).startswith("# IoT Hub import failed\n")
    cancelled = build_report({"jobId": "c", "type": "export", "status": "cancelled"}, hub="h", timeline=[],
                             import_errors=None, import_errors_note=None, generated_at=GENERATED).to_json()
    assert (cancelled["kind"], cancelled["title"], cancelled["hint"]["key"]) == (
        "failure", "export cancelled", "cancelled")


TIMELINE = [
    TimelineEntry(seq=1, status="enqueued", progress=0, polled_at_utc="2026-01-01T00:00:00.000Z",
                  blob="jobmonitor/j/snapshots/00001-enqueued-0.json"),
    TimelineEntry(seq=2, status="running", progress=None, polled_at_utc="2026-01-01T00:01:00.000Z",
                  blob="jobmonitor/j/snapshots/00002-running-na.json"),
    TimelineEntry(seq=3, status="cancelled", progress=40, polled_at_utc="2026-01-01T00:02:00.000Z",
                  blob="jobmonitor/j/snapshots/00003-cancelled-40.json"),
]


@pytest.mark.parametrize(("job", "heading"), [
    ({"type": "export", "status": "cancelled"}, "# IoT Hub export cancelled"),
    ({"type": "import", "status": "failed", "failureReason": "ErrorCode:ImportErrors;bad lines"},
     "# IoT Hub import failed"),
])
def test_the_markdown_opens_with_the_reports_title_and_lists_every_timeline_entry(
    job: dict[str, str], heading: str
) -> None:
    document = build_report({"jobId": "j", **job}, hub="h", timeline=TIMELINE, import_errors=None,
                            import_errors_note=None, generated_at=GENERATED).to_json()
    markdown = render_markdown(document)
    assert markdown.splitlines()[0] == heading
    timeline = markdown.split("## Timeline\n\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert timeline == [
        "| # | Status | Progress | Polled (UTC) |",
        "|---|---|---|---|",
        "| 1 | enqueued | 0 | 2026-01-01T00:00:00.000Z |",
        "| 2 | running | - | 2026-01-01T00:01:00.000Z |",
        "| 3 | cancelled | 40 | 2026-01-01T00:02:00.000Z |",
    ]


def test_version_1_reports_still_render() -> None:
    """A .md is rendered from the stored .json, which an older version may have written."""
    old = {"reportVersion": 1, "jobId": "j", "type": "import", "status": "failed", "cancelled": False,
           "importErrors": {"totalLines": 2, "countsByErrorCode": {"404001": 2}, "firstEntries": []}}
    markdown = render_markdown(old)
    assert markdown.startswith("# IoT Hub import failed\n")
    assert "| 404001 | 2 |" in markdown


# -- the errors log: device ids, codes, blob names --------------------------------------------------------------
@pytest.mark.parametrize(
    ("line", "device", "source"),
    [
        ({"deviceId": "d1", "errorCode": 404001, "errorStatus": "d1"}, "d1", "field"),
        ({"deviceId": "", "errorCode": 400012, "errorStatus": 'Invalid device format in line: {"id":"d2"}. E'},
         "d2", "line"),
        ({"errorCode": 409001, "errorStatus": 'Device x exists. Line: {"tags":{"id":"nested"},"id":"top"}'},
         "top", "line"),
        ({"errorCode": 400012, "errorStatus": 'Invalid device format in line: {"id": "broken", "status": . E'},
         "broken", "line"),
        ({"errorCode": 400012, "errorStatus": 'Invalid device format in line: {"status":"enabled"}. No id'},
         None, None),
        ({"errorCode": 400012, "errorStatus": "Invalid device format in line: not json."}, None, None),
        ({"errorCode": 404001, "errorStatus": 'Line: {"deviceId":"no","moduleId":"m"} {"id":"second"}'}, None,
         None),
    ],
)
def test_device_id_recovered_from_the_echoed_line(line: dict[str, object], device: str | None,
                                                  source: str | None) -> None:
    entry = _summary(line).first_entries[0]
    assert (entry["deviceId"], entry["deviceIdSource"]) == (device, source)


def test_device_id_recovered_from_a_line_too_long_to_keep() -> None:
    echoed = json.dumps({"id": "long-one", "tags": {"pad": "x" * (MAX_LINE_BYTES * 2)}})
    entry = _summary({"errorCode": 400012, "errorStatus": f"Invalid device format in line: {echoed}."}
                     ).first_entries[0]
    assert (entry["deviceId"], entry["deviceIdSource"], entry["errorStatus"]) == ("long-one", "line", None)


def test_error_code_table_names_explains_and_counts() -> None:
    summary = _summary({"errorCode": 412002, "errorStatus": "x"}, {"errorCode": 412002, "errorStatus": "x"},
                       {"errorCode": 499999, "errorStatus": "x"}, {"errorStatus": "no code"})
    rows = {row["code"]: row for row in summary.to_json()["errorCodes"]}
    assert rows["412002"]["lines"] == 2
    # ErrorCode.cs and the docs name 412002 DeviceMessageLockLost; the ETag failure is 412001.
    assert rows["412002"]["name"] == "DeviceMessageLockLost" and "ETag" not in rows["412002"]["meaning"]
    assert rows["499999"]["name"] == "(unknown code)"
    assert rows["unparsed"]["name"] == "(no error code)"
    for code in ("400004", "400012", "404001", "409001", "412001", "412002", "413002", "500001"):
        info = describe_code(code)
        assert info is not None and info.meaning and info.action, code


@pytest.mark.parametrize(
    ("value", "name", "noted"),
    [
        (None, "importErrors.log", False),
        ("", "importErrors.log", False),
        ("import-status.log", "import-status.log", False),
        ("logs/2026/status.log", "logs/2026/status.log", False),
        ("../other-container/x", "importErrors.log", True),
        ("a/../b", "importErrors.log", True),
        ("/abs.log", "importErrors.log", True),
        ("a//b", "importErrors.log", True),
        ("a/./b", "importErrors.log", True),
        ("dir/", "importErrors.log", True),
        ("new\nline", "importErrors.log", True),
        ("back\\slash", "importErrors.log", True),
        ("x" * 1025, "importErrors.log", True),
        (42, "importErrors.log", True),
    ],
)
def test_import_log_blob_name(value: object, name: str, noted: bool) -> None:
    job = {} if value is None else {"outputBlobName": value}
    assert import_log_blob(job).name == name
    assert (import_log_blob(job).note is not None) is noted


@pytest.mark.parametrize("value", ["import-status.log", "billing/2026/customers.csv", "../x", 42])
def test_with_the_identity_the_log_is_always_import_errors_log_and_a_named_one_is_said_unread(value: object) -> None:
    chosen = import_log_blob({"outputBlobName": value}, with_identity=True)
    assert chosen.name == "importErrors.log"
    assert chosen.note is not None and "was not read" in chosen.note
    assert import_log_blob({}, with_identity=True) == import_log_blob({"outputBlobName": "importErrors.log"},
                                                                        with_identity=True)
    assert import_log_blob({}, with_identity=True).note is None


def test_with_the_identity_only_devices_txt_is_counted() -> None:
    assert import_input_blob_name({}, with_identity=True) == "devices.txt"
    assert import_input_blob_name({"inputBlobName": "devices.txt"}, with_identity=True) == "devices.txt"
    assert import_input_blob_name({"inputBlobName": "billing/2026/customers.csv"}, with_identity=True) is None
    assert import_input_blob_name({"inputBlobName": "billing/2026/customers.csv"}) == "billing/2026/customers.csv"


def test_the_later_import_into_the_same_container_overwrote_the_log() -> None:
    uri = "https://acct.blob.core.windows.net/shared?sv=1&sig=a"
    at = datetime.datetime(2026, 1, 1, 10, 0, tzinfo=datetime.UTC)

    def job(job_id: str, start_minute: int, **props: object) -> dict[str, object]:
        return {"jobId": job_id, "type": "import", "outputBlobContainerUri": uri,
                "startTimeUtc": f"2026-01-01T09:{start_minute:02d}:00Z", **props}

    first = job("first", 50)
    written = at - datetime.timedelta(minutes=1)
    assert overwritten_by(first, [first], written) is None
    assert overwritten_by(first, [job("second", 55), job("third", 57)], written) == "third"
    # Another SAS on the same container is the same container; another container, type or an earlier job is not.
    assert overwritten_by(first, [job("other-sas", 55, outputBlobContainerUri=uri.replace("sig=a", "sig=b"))],
                          written) == "other-sas"
    assert overwritten_by(first, [job("elsewhere", 55, outputBlobContainerUri=uri.replace("shared", "x")),
                                  job("export", 55, type="export"), job("before", 45)], written) is None
    # Started after the log was last written (beyond the clocks' slack): it did not write it.
    assert overwritten_by(first, [job("after", 58)], at - datetime.timedelta(minutes=20)) is None
    assert overwritten_by(first, [job("second", 55)], None) is None


def test_count_lines_streams_across_chunks() -> None:
    data = b'{"id":"a"}\n\n  \n{"id":"b"}\r\n{"id":"c"}'
    for size in (1, 3, len(data)):
        assert count_lines(data[i : i + size] for i in range(0, len(data), size)) == 3
    assert count_lines([]) == 0


def test_a_log_written_outside_the_jobs_run_is_another_jobs() -> None:
    job = {"startTimeUtc": "2026-01-01T10:00:00Z", "endTimeUtc": "2026-01-01T11:00:00Z"}
    at = datetime.datetime(2026, 1, 1, 10, tzinfo=datetime.UTC)
    assert "earlier job" in (log_not_this_jobs(at - datetime.timedelta(hours=1), job) or "")
    assert log_not_this_jobs(at - datetime.timedelta(seconds=30), job) is None  # clock slack
    assert log_not_this_jobs(at + datetime.timedelta(minutes=5), job) is None
    assert log_not_this_jobs(at + datetime.timedelta(minutes=64), job) is None
    assert "later job" in (log_not_this_jobs(at + datetime.timedelta(hours=2), job) or "")
    assert log_not_this_jobs(None, job) is None
    assert log_not_this_jobs(at, {}) is None


def test_a_completed_import_whose_log_could_not_be_read_is_still_an_import_report() -> None:
    """The poller may ask for a report of a completed import whose log it could not read (a note says why)."""
    document = build_report({"jobId": "j", "type": "import", "status": "completed"}, hub="h", timeline=[],
                            import_errors=None, import_errors_note="importErrors.log could not be read (HTTP 403 "
                            "AuthorizationFailure)", generated_at=GENERATED).to_json()
    assert (document["kind"], document["title"]) == ("import", "import completed: its errors log could not be read")
    assert document["hint"]["key"] == "deviceImportErrors"


def test_an_error_code_carrying_a_secret_is_counted_under_its_redacted_text() -> None:
    """The counts are keyed by each line's errorCode text (up to 64 characters: room for `sig=` and a signature)."""
    sig = planted("error code signature")
    lines = [{"errorCode": f"sig={sig}", "errorStatus": "x"}, {"errorCode": f"sig={sig[::-1]}", "errorStatus": "y"}]
    summary = summarize_chunks([b"".join((json.dumps(line) + "\n").encode() for line in lines)])
    text = json.dumps(summary.to_json())
    secrets = Secrets()
    secrets.update([("signature", sig), ("other signature", sig[::-1])])
    secrets.assert_absent(text, "the summary")
    assert sum(summary.counts_by_error_code.values()) == 2  # two secrets redacted alike still count twice


def test_a_failure_reason_object_is_cut_and_redacted_like_its_text_form() -> None:
    reason = parse_failure_reason({"errorCode": f"AccountKey={KEY}", "message": "x" * 100_000})
    assert reason is not None
    assert len(reason.text) <= 4000 and len(reason.code_name or "") <= 64
    PLANTED.assert_absent(json.dumps(reason.to_json()), "the parsed reason")
