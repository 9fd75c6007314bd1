"""A report, exactly: every field of the JSON form and every line of the Markdown, for a failed import with a
timeline and an errors log, a cancelled export with no reason, and a version-1 document read back.

The other report tests check one property each (kind, title, hint, inertness); these pin the whole output, so
that a field written under another name, a row left out or a table left empty turns them red. The texts that
other modules own (a hint's advice, an error code's meaning) are taken from the JSON, not repeated here.
"""

from __future__ import annotations

import datetime
import json
import urllib.parse
from typing import Any

import pytest

from shared.reports.failure_reasons import Hint
from shared.reports.import_errors import summarize_chunks
from shared.reports.markdown import MAX_CELL_CHARS, md_text, render_markdown
from shared.reports.report import TimelineEntry, build_report
from tests.support.secrets import planted

GENERATED = datetime.datetime(2026, 3, 4, 5, 6, 7, 890000, tzinfo=datetime.UTC)
SIG = planted("exact report signature")
OUTPUT_URI = f"https://acct.blob.core.windows.net/out?sv=2021-08-06&sig={urllib.parse.quote(SIG, safe='')}"
FAILURE_REASON = (
    "ErrorCode:BlobContainerValidationError;Unable to read blob 'devices.txt': the blob does not exist or is not "
    "committed."
)
FAILED_IMPORT = {
    "jobId": "imp-7", "type": "import", "status": "failed", "progress": 40,
    "startTimeUtc": "2026-03-04T05:00:00Z", "endTimeUtc": "2026-03-04T05:02:05.5Z",
    "storageAuthenticationType": "identityBased", "outputBlobContainerUri": OUTPUT_URI,
    "failureReason": FAILURE_REASON,
}
LOG_LINES = (
    {"errorCode": 409001, "errorStatus": 'Device d1 already exists. Line: {"id":"d1"}'},
    {"deviceId": "d2", "errorCode": 404001, "errorStatus": "Device d2 not found."},
)
TIMELINE = (
    TimelineEntry(seq=1, status="running", progress=10, polled_at_utc="2026-03-04T05:00:30.000Z",
                  blob="jobmonitor/imp-7/snapshots/00001-running-10.json"),
    TimelineEntry(seq=2, status="failed", progress=40, polled_at_utc="2026-03-04T05:02:30.000Z",
                  blob="jobmonitor/imp-7/snapshots/00002-failed-40.json"),
)


def failed_import_report() -> dict[str, Any]:
    log = "".join(json.dumps(line) + "\n" for line in LOG_LINES).encode()
    return build_report(FAILED_IMPORT, hub="devhub", timeline=TIMELINE, import_errors=summarize_chunks([log]),
                        import_errors_note="2 lines read", generated_at=GENERATED, input_lines=1000).to_json()


def test_a_failed_imports_report_json_has_exactly_these_fields() -> None:
    document = failed_import_report()
    errors = document.pop("importErrors")
    hint = document.pop("hint")
    assert document == {
        "reportVersion": 2,
        "kind": "failure",
        "title": "import failed",
        "jobId": "imp-7",
        "hub": "devhub",
        "type": "import",
        "status": "failed",
        "cancelled": False,
        "startTimeUtc": "2026-03-04T05:00:00Z",
        "endTimeUtc": "2026-03-04T05:02:05.5Z",
        "durationSeconds": 125.5,
        "failureReason": {
            "raw": FAILURE_REASON, "code": "BlobContainerValidationError", "number": 400008,
            "text": "Unable to read blob 'devices.txt': the blob does not exist or is not committed.",
        },
        "storageAuthenticationType": "identityBased",
        "outputContainer": "https://acct.blob.core.windows.net/out?sv=2021-08-06&sig=REDACTED",
        "importErrorsNote": "2 lines read",
        "inputLines": 1000,
        "monitorNote": None,
        "timeline": [
            {"seq": 1, "status": "running", "progress": 10, "polledAtUtc": "2026-03-04T05:00:30.000Z",
             "blob": "jobmonitor/imp-7/snapshots/00001-running-10.json"},
            {"seq": 2, "status": "failed", "progress": 40, "polledAtUtc": "2026-03-04T05:02:30.000Z",
             "blob": "jobmonitor/imp-7/snapshots/00002-failed-40.json"},
        ],
        "generatedAtUtc": "2026-03-04T05:06:07.890Z",
    }
    assert set(hint) == {"key", "text"} and hint["key"] == "inputBlobMissing" and "devices.txt" in hint["text"]
    assert (errors["totalLines"], errors["countsByErrorCode"]) == (2, {"404001": 1, "409001": 1})
    assert [(row["code"], row["lines"], row["name"]) for row in errors["errorCodes"]] == [
        ("404001", 1, "DeviceNotFound"), ("409001", 1, "DeviceAlreadyExists")]
    assert [(e["line"], e["deviceId"], e["errorCode"]) for e in errors["firstEntries"]] == [
        (1, "d1", "409001"), (2, "d2", "404001")]


def test_the_failed_imports_markdown_is_exactly_these_lines() -> None:
    document = failed_import_report()
    rows = document["importErrors"]["errorCodes"]
    assert render_markdown(document).split("\n") == [
        "# IoT Hub import failed",
        "",
        "| | |",
        "|---|---|",
        "| Report | failure report |",
        "| Hub | devhub |",
        "| Job id | imp-7 |",
        "| Type | import |",
        "| Status | **failed** |",
        "| Started (UTC) | 2026-03-04T05:00:00Z |",
        "| Ended (UTC) | 2026-03-04T05:02:05.5Z |",
        "| Duration | 2 min 5 s |",
        "| Storage authentication | identityBased |",
        r"| Output container | https\://acct.blob.core.windows\.net/out?sv=2021-08-06&sig=REDACTED |",
        "",
        "## What probably went wrong",
        "",
        f"**inputBlobMissing**: {md_text(document['hint']['text'])}",
        "",
        "## Failure reason",
        "",
        "- Code: BlobContainerValidationError (400008)",
        r"- Text: Unable to read blob 'devices.txt': the blob does not exist or is not committed.",
        r"- As the hub wrote it: ErrorCode:BlobContainerValidationError;Unable to read blob 'devices.txt': the blob "
        "does not exist or is not committed.",
        "",
        "## Rejected lines (the errors log)",
        "",
        "_2 lines read_",
        "",
        "2 line(s) rejected of 1,000 input lines.",
        "",
        "| Code | Name | Lines | What it means | What to do |",
        "|---|---|---|---|---|",
        *(f"| {row['code']} | {row['name']} | 1 | {md_text(row['meaning'])} | {md_text(row['whatToDo'])} |"
          for row in rows),
        "",
        "First 2 lines (keys redacted):",
        "",
        "| Line | Device | Code | Error text |",
        "|---|---|---|---|",
        '| 1 | d1 | 409001 | Device d1 already exists. Line: {"id":"d1"} |',
        "| 2 | d2 | 404001 | Device d2 not found. |",
        "",
        "## Timeline",
        "",
        "| # | Status | Progress | Polled (UTC) |",
        "|---|---|---|---|",
        "| 1 | running | 10 | 2026-03-04T05:00:30.000Z |",
        "| 2 | failed | 40 | 2026-03-04T05:02:30.000Z |",
        "",
        "_Report generated 2026-03-04T05:06:07.890Z by the IoT Hub job monitor._",
        "",
    ]


def test_a_cancelled_export_without_a_reason_renders_exactly_these_lines() -> None:
    document = build_report({"jobId": "exp-1", "type": "export", "status": "cancelled"}, hub="devhub", timeline=[],
                            import_errors=None, import_errors_note=None, generated_at=GENERATED).to_json()
    assert render_markdown(document).split("\n") == [
        "# IoT Hub export cancelled",
        "",
        "| | |",
        "|---|---|",
        "| Report | failure report |",
        "| Hub | devhub |",
        "| Job id | exp-1 |",
        "| Type | export |",
        "| Status | **cancelled** (cancelled) |",
        "| Started (UTC) | - |",
        "| Ended (UTC) | - |",
        "| Duration | - |",
        "| Storage authentication | keyBased |",
        "| Output container | - |",
        "",
        "## What probably went wrong",
        "",
        f"**cancelled**: {md_text(document['hint']['text'])}",
        "",
        "## Failure reason",
        "",
        "The hub gave no failure reason.",
        "",
        "## Timeline",
        "",
        "No progress was recorded for this job.",
        "",
        "_Report generated 2026-03-04T05:06:07.890Z by the IoT Hub job monitor._",
        "",
    ]


def test_a_completed_imports_report_is_an_import_report_with_what_happened() -> None:
    log = "".join(json.dumps(line) + "\n" for line in LOG_LINES).encode()
    document = build_report({"jobId": "imp-8", "type": "import", "status": "completed"}, hub="devhub",
                            timeline=[], import_errors=summarize_chunks([log]), import_errors_note=None,
                            generated_at=GENERATED).to_json()
    lines = render_markdown(document).split("\n")
    assert lines[0] == "# IoT Hub import completed: 2 lines rejected"
    assert "| Report | import report |" in lines
    assert "## What happened" in lines and "## What probably went wrong" not in lines
    assert "## Failure reason" not in lines
    assert "2 line(s) rejected." in lines


def test_a_version_1_document_renders_its_counts_and_a_title_from_its_fields() -> None:
    """Written before `kind`, `title` and `errorCodes` existed: the .md is still rendered from it."""
    old = {"reportVersion": 1, "jobId": "j", "type": "import", "status": "cancelled", "cancelled": True,
           "importErrors": {"totalLines": 12345, "countsByErrorCode": {"404001": 12000, "409001": 345},
                            "firstEntries": []}}
    lines = render_markdown(old).split("\n")
    assert lines[0] == "# IoT Hub import cancelled"
    section = lines[lines.index("## Rejected lines (the errors log)"):lines.index("## Timeline")]
    assert section == [
        "## Rejected lines (the errors log)",
        "",
        "12,345 line(s) rejected.",
        "",
        "| Error code | Lines |",
        "|---|---|",
        "| 404001 | 12,000 |",
        "| 409001 | 345 |",
        "",
    ]
    assert render_markdown({"status": "failed"}).split("\n")[0] == "# IoT Hub job failed"
    assert render_markdown({"kind": "nonsense", "title": "x"}).split("\n")[4] == "| Report | failure report |"


@pytest.mark.parametrize(("seconds", "shown"), [
    (0, "0.0 s"), (59.94, "59.9 s"), (119.9, "119.9 s"), (120, "2 min 0 s"), (3599, "59 min 59 s"),
    (3600, "1 h 0 min 0 s"), (3725.7, "1 h 2 min 5 s"), (True, "-"), ("125", "-"), (None, "-"),
])
def test_durations_read_as_seconds_minutes_or_hours(seconds: object, shown: str) -> None:
    lines = render_markdown({"durationSeconds": seconds}).split("\n")
    assert f"| Duration | {shown} |" in lines


def test_a_cell_is_cut_after_its_bound_and_not_before() -> None:
    assert md_text("a" * MAX_CELL_CHARS) == "a" * MAX_CELL_CHARS
    assert md_text("a" * (MAX_CELL_CHARS + 1)) == "a" * MAX_CELL_CHARS + "…"
    assert md_text(None) == "-"
    assert md_text(0) == "0"


def test_counts_are_grouped_by_thousands_but_flags_and_text_are_not() -> None:
    old = {"importErrors": {"totalLines": True, "countsByErrorCode": {"a": "1000", "b": 1000}}}
    lines = render_markdown(old).split("\n")
    assert "True line(s) rejected." in lines
    assert "| a | 1000 |" in lines and "| b | 1,000 |" in lines


def test_entries_of_a_stored_report_that_are_not_objects_are_left_out() -> None:
    """A hand-edited or damaged .json: rows that are not objects are skipped, the others still render."""
    document = failed_import_report()
    document["timeline"] = [7, "running", document["timeline"][0]]
    document["importErrors"]["errorCodes"] = ["404001", document["importErrors"]["errorCodes"][0]]
    document["importErrors"]["firstEntries"] = [None, document["importErrors"]["firstEntries"][0]]
    lines = render_markdown(document).split("\n")
    assert [line for line in lines if line.startswith("| 1 | running")] == [
        "| 1 | running | 10 | 2026-03-04T05:00:30.000Z |"]
    assert [line for line in lines if line.startswith("| 404001 |") or line.startswith("| 409001 |")] == [
        lines[lines.index("|---|---|---|---|---|") + 1]]
    assert lines.count("| 1 | d1 | 409001 | Device d1 already exists. Line: {\"id\":\"d1\"} |") == 1
    assert not any("| 7 |" in line or "None" in line for line in lines)


def test_one_rejected_line_is_enough_for_an_import_report_and_a_job_without_a_type_gets_none() -> None:
    from shared.reports.report import ReportKind, report_kind

    log = (json.dumps(LOG_LINES[0]) + "\n").encode()
    one = summarize_chunks([log])
    assert one.total_lines == 1
    assert report_kind({"status": "completed", "type": "Import"}, one) is ReportKind.IMPORT
    assert report_kind({"status": "completed"}, one) is None
    assert report_kind({"status": "completed", "type": None}, one) is None
    document = build_report({"jobId": "i", "type": "import", "status": "completed"}, hub="h", timeline=[],
                            import_errors=one, import_errors_note=None, generated_at=GENERATED,
                            input_lines=1).to_json()
    assert (document["kind"], document["title"]) == ("import", "import completed: 1 of 1 line rejected")


def test_a_duration_needs_both_times_and_keeps_milliseconds() -> None:
    def duration(**times: str) -> object:
        return build_report({"jobId": "j", "status": "failed", **times}, hub="h", timeline=[], import_errors=None,
                            import_errors_note=None, generated_at=GENERATED).to_json()["durationSeconds"]

    assert duration(startTimeUtc="2026-03-04T05:00:00Z") is None
    assert duration(endTimeUtc="2026-03-04T05:00:00Z") is None
    assert duration(startTimeUtc="2026-03-04T05:00:00Z", endTimeUtc="2026-03-04T05:00:01.23456Z") == 1.235


def test_a_report_asked_for_without_a_kind_is_an_import_report_only_for_a_completed_import() -> None:
    def kind_of(job: dict[str, Any]) -> str:
        return str(build_report(job, hub="h", timeline=[], import_errors=None, import_errors_note="unreadable",
                                generated_at=GENERATED).to_json()["kind"])

    assert kind_of({"jobId": "j", "type": "import", "status": "completed"}) == "import"
    assert kind_of({"jobId": "j", "type": "export", "status": "completed"}) == "failure"
    assert kind_of({"jobId": "j", "type": "import", "status": "failed"}) == "failure"
    assert kind_of({"jobId": "j", "status": "completed"}) == "failure"


def test_an_unknown_kind_or_a_title_that_is_not_text_falls_back_to_a_failure_report() -> None:
    lines = render_markdown({"kind": "nonsense", "title": 5, "type": "export", "status": "failed"}).split("\n")
    assert lines[0] == "# IoT Hub export failed"
    assert "| Report | failure report |" in lines
    assert "## What probably went wrong" in lines and "## Failure reason" in lines
    assert "## What happened" not in lines


def test_a_failed_import_without_its_log_shows_the_note_alone() -> None:
    lines = render_markdown({"kind": "failure", "type": "import", "status": "failed",
                             "importErrorsNote": "importErrors.log was not found"}).split("\n")
    section = lines[lines.index("## Rejected lines (the errors log)"):lines.index("## Timeline")]
    assert section == ["## Rejected lines (the errors log)", "", r"_importErrors.log was not found_", ""]


def test_an_old_summary_without_counts_renders_an_empty_table_and_notes_stand_in_for_statuses() -> None:
    lines = render_markdown({"importErrors": {"totalLines": 2, "firstEntries": [
        {"line": 3, "deviceId": None, "errorCode": "unreadable", "note": "not JSON"}]}}).split("\n")
    table = lines.index("| Error code | Lines |")
    assert lines[table + 1:table + 3] == ["|---|---|", ""]
    assert "| 3 | - | unreadable | not JSON |" in lines


def test_the_unit_agrees_with_the_total_when_the_total_is_known() -> None:
    from shared.jobs import JobStatus
    from shared.reports.report import ReportKind, report_title

    def title(rejected: int, inputs: int | None) -> str:
        return report_title(ReportKind.IMPORT, job_type="import", status=JobStatus.COMPLETED, rejected_lines=rejected,
                            input_lines=inputs)

    assert title(1, 10) == "import completed: 1 of 10 lines rejected"
    assert title(1, None) == "import completed: 1 line rejected"


def test_the_hint_of_a_built_report_weighs_the_storage_authentication_and_the_rejected_lines() -> None:
    denied = "ErrorCode:Forbidden;AuthorizationPermissionMismatch on the output container"

    def hint(job: dict[str, Any], lines: int = 0) -> str:
        summary = summarize_chunks([(json.dumps(LOG_LINES[0]) + "\n").encode()]) if lines else None
        document = build_report({"jobId": "j", "type": "import", "status": "failed", **job}, hub="h", timeline=[],
                                import_errors=summary, import_errors_note=None, generated_at=GENERATED).to_json()
        return str(document["hint"]["key"])

    assert hint({"failureReason": denied, "storageAuthenticationType": "identityBased"}) == (
        Hint.IDENTITY_LACKS_STORAGE_ROLE.key)
    assert hint({"failureReason": denied, "storageAuthenticationType": "keyBased"}) == (
        Hint.SAS_EXPIRED_OR_LACKS_PERMISSIONS.key)
    assert hint({"failureReason": "ErrorCode:InternalServerError;something went wrong"}, lines=1) == (
        Hint.DEVICE_IMPORT_ERRORS.key)
    assert hint({"failureReason": "ErrorCode:InternalServerError;something went wrong"}) == Hint.UNKNOWN.key
    document = build_report({"jobId": "j", "status": "failed", "startTimeUtc": 5}, hub="h", timeline=[],
                            import_errors=None, import_errors_note=None, generated_at=GENERATED).to_json()
    assert document["startTimeUtc"] is None


def test_the_kind_the_poller_asks_for_wins_over_the_one_the_job_would_get() -> None:
    from shared.reports.report import ReportKind

    log = (json.dumps(LOG_LINES[0]) + "\n").encode()
    document = build_report({"jobId": "i", "type": "import", "status": "completed"}, hub="h", timeline=[],
                            import_errors=summarize_chunks([log]), import_errors_note=None, generated_at=GENERATED,
                            kind=ReportKind.FAILURE).to_json()
    assert document["kind"] == "failure"
