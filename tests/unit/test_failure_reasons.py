"""The rules behind the hints, on made-up texts (the real ones are tests/unit/test_hint_corpus.py's): codes are read
from every shape, words count only whole, an unnamed code keeps no name, and an honest `unknown` shows the hub's
own words first."""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest

from shared.jobs import JobStatus, StorageAuthenticationType
from shared.reports.code_names import StorageCode
from shared.reports.failure_reasons import Hint, hint_for, parse_failure_reason
from shared.reports.html import render_html
from shared.reports.import_errors import summarize_chunks
from shared.reports.markdown import render_markdown
from shared.reports.reason_shapes import MAX_NESTING
from shared.reports.report import build_report
from tests.support.secrets import Secrets, planted

KEYED = StorageAuthenticationType.KEY_BASED


def _hint(text: str, auth: StorageAuthenticationType = KEYED) -> Hint:
    return hint_for(parse_failure_reason(text), status=JobStatus.FAILED, storage_authentication=auth)


@pytest.mark.parametrize(
    "text",
    [
        "ErrorCode:ArgumentInvalid;Device E2E_Sasl_dev1 could not be updated",
        "ErrorCode:ArgumentInvalid;Device e2e-sas-7 could not be updated",
        "ErrorCode:ArgumentInvalid;Device plant-firewall-3 could not be updated",
        "ErrorCode:ArgumentInvalid;Device job_quota_42 could not be updated",
        "ErrorCode:ArgumentInvalid;Device throttled-valve could not be updated",
        "ErrorCode:ArgumentInvalid;Device ContainerNotFound_1 could not be updated",
    ],
)
def test_words_inside_identifiers_never_decide_a_hint(text: str) -> None:
    assert _hint(text) is Hint.UNKNOWN


def test_the_same_words_standing_alone_do() -> None:
    assert _hint("The SAS token has expired") is Hint.SAS_EXPIRED_OR_LACKS_PERMISSIONS
    assert _hint("blocked by the firewall") is Hint.STORAGE_FIREWALL
    assert _hint("Job quota exceeded") is Hint.ANOTHER_JOB_RUNNING
    assert _hint("ErrorCode:BlobContainerValidationError;HTTP 404 ContainerNotFound") is Hint.CONTAINER_MISSING


@pytest.mark.parametrize(
    ("text", "name", "number", "storage"),
    [
        ("ErrorCode: AuthorizationFailure", "AuthorizationFailure", None, StorageCode.AUTHORIZATION_FAILURE),
        ("boom\nRequestId:1\nErrorCode:BlobNotFound\nContent: x", "BlobNotFound", None, StorageCode.BLOB_NOT_FOUND),
        ("<Error><Code>ContainerNotFound</Code></Error>", "ContainerNotFound", None, StorageCode.CONTAINER_NOT_FOUND),
        ('{"Code": "ThrottlingException", "message": "x"}', "ThrottlingException", 429001, None),
        ('{"code": 403002, "message": "x"}', "IotHubQuotaExceeded", 403002, None),
        ("Microsoft.Azure.Devices.Common.Exceptions.DeviceNotFoundException: gone", "DeviceNotFound", 404001, None),
        ("Contoso.Widgets.FrobnicationException: gone", None, None, None),
        ("JobNotFound", "JobNotFound", 404002, None),
        ("Frobnicated", None, None, None),
        ("failed, errorcode: IH409001.", "DeviceAlreadyExists", 409001, None),
    ],
)
def test_codes_are_read_from_every_shape_and_only_known_names_count(
    text: str, name: str | None, number: int | None, storage: StorageCode | None
) -> None:
    reason = parse_failure_reason(text)
    assert reason is not None
    assert (reason.code_name, reason.code_number, reason.storage_code) == (name, number, storage)


def test_a_number_no_source_names_keeps_no_name_and_shows_its_family() -> None:
    reason = parse_failure_reason('{"errorCode": 400022, "message": "BadRequest"}')
    assert reason is not None and reason.code_name is None
    assert reason.to_json()["family"] == "400 bad request"
    named = parse_failure_reason('{"errorCode": 404001, "message": "x"}')
    assert named is not None and "family" not in named.to_json()


def test_json_nested_deeper_than_any_source_shows_is_not_followed_for_ever() -> None:
    text = '{"errorCode": 429001}'
    for _ in range(MAX_NESTING + 5):
        text = json.dumps({"Message": text})
    reason = parse_failure_reason(text)
    assert reason is not None and reason.code_number is None


def _report(reason: str) -> dict[str, Any]:
    job = {"jobId": "j", "type": "export", "status": "failed", "failureReason": reason}
    return build_report(job, hub="h", timeline=[], import_errors=None, import_errors_note=None,
                        generated_at=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)).to_json()


def test_an_unknown_hint_shows_the_hubs_own_words_first_in_markdown_and_html() -> None:
    document = _report('{"errorCode": 400022, "message": "Frobnication refused"}')
    assert document["hint"] == {"key": "unknown", "text": Hint.UNKNOWN.advice}
    markdown = render_markdown(document)
    wrote = markdown.index("**As the hub wrote it:**")
    assert wrote < markdown.index("## Failure reason") and "Frobnication refused" in markdown[wrote:]
    assert "HTTP family 400 bad request" in markdown
    page = render_html(document).decode()
    assert page.index("As the hub wrote it:") < page.index("Failure reason</h2>")
    known = render_markdown(_report("ErrorCode:JobQuotaExceeded;Job quota has been exceeded."))
    assert "As the hub wrote it:**" not in known.split("## Failure reason")[0]


def test_the_field_a_400012_line_names_never_carries_a_secret_value() -> None:
    key = planted("conversion key")
    secrets = Secrets()
    secrets.update([("device key", key)])
    echoed = json.dumps({"id": "d1", "authentication": {"symmetricKey": {"primaryKey": key}}})
    lines = [
        f"Invalid device format in line: {echoed}. Error converting value \"{key}\" to type 'System.Boolean'. "
        "Path 'authentication.symmetricKey.primaryKey', line 1, position 80.",
        f"Invalid device format in line: {echoed}. Error converting value \"{key}\" to type 'System.Int32'. "
        "Path 'tags.count', line 1, position 80.",
        "Invalid device format in line: {}. Error converting value \"DISABLED\" to type 'DeviceStatus'. "
        "Path 'status', line 1, position 9.",
    ]
    log = b"".join(json.dumps({"errorCode": 400012, "errorStatus": s}).encode() + b"\n" for s in lines)
    entries = summarize_chunks([log]).first_entries
    assert [e["problem"] for e in entries] == [
        "field authentication.symmetricKey.primaryKey holds a value that is not a valid Boolean",
        "field tags.count holds a value that is not a valid Int32",
        'field status holds "DISABLED", not a valid DeviceStatus',
    ]
    secrets.assert_absent(json.dumps([e["problem"] for e in entries]), "the problems read from the lines")
