"""Redaction's edges: base64 without its padding, URL-safe base64 that standard base64 misreads, a token only the
in-place pass knows (Bearer) once wrapped in base64, base64 inside base64 where the outer text carries a hint, and
which field names make a value secret. Each test plants a value and looks for it literally, never asking the
redactor whether it is done."""

from __future__ import annotations

import base64

import pytest

from shared.redaction import REDACTED, is_secret_field, redact_text, redact_value
from tests.support.secrets import Secrets, planted

SIG = planted("redaction edges signature")
SAS_URI = f"https://a.blob.core.windows.net/c?sv=2021-08-06&sig={SIG}"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize("tail", ["", "x", "xy", "xyz"])
def test_base64_of_a_sas_uri_is_redacted_with_or_without_its_padding(tail: str) -> None:
    run = b64(SAS_URI + tail).rstrip("=")
    redacted = redact_text(f"blob={run} end")
    assert run not in redacted and b64(SIG)[:12] not in redacted
    assert redacted == f"blob={REDACTED} end"


@pytest.mark.parametrize("noise", ["?>", ">>>", "~~~"])
@pytest.mark.parametrize("repeat", [0, 1, 2])
def test_url_safe_base64_of_a_sas_uri_is_redacted(noise: str, repeat: int) -> None:
    run = base64.urlsafe_b64encode(f"{noise * repeat}{SAS_URI}&{noise}".encode()).decode()
    assert "-" in run or "_" in run  # the URL-safe alphabet, which standard base64 reads otherwise
    assert redact_text(run) == REDACTED


def test_base64_of_a_bearer_token_is_redacted() -> None:
    token = "opaque-" + planted("redaction edges token")[:24]
    run = b64(f"Authorization: Bearer {token}")
    assert redact_text(run) == REDACTED


def test_base64_inside_base64_is_redacted_when_the_outer_text_points_at_it() -> None:
    outer = b64(f"copied from https://portal.example/ : {b64(SAS_URI)}")
    assert redact_text(outer) == REDACTED


def test_hex_digests_and_guids_are_left_alone() -> None:
    digest = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    guid = "0B5D3C1E7F4A4C1B9D0E1F2A3B4C5D6E"
    assert redact_text(f"{digest} {guid}") == f"{digest} {guid}"


@pytest.mark.parametrize("name", [
    "connection_string", "connection-string", "Connection_String", "client_secret", "primary-key", "api_token",
    "password", "sharedAccessSignature", "storage_account_key",
])
def test_a_field_named_like_a_secret_has_its_value_withheld_however_it_is_spelled(name: str) -> None:
    value = "plain-looking value"
    assert is_secret_field(name)
    assert redact_value({name: value}) == {name: REDACTED}


@pytest.mark.parametrize("name", ["key", "_key", "-key", "keys", "monkey_business", "tokens_left", "jobId", 7, None])
def test_other_field_names_keep_their_values(name: object) -> None:
    assert not is_secret_field(name)
    assert redact_value({name: "plain-looking value"}) == {name: "plain-looking value"}


def test_base64_of_text_with_a_hint_word_but_no_secret_is_left_alone() -> None:
    run = b64("the docs are at https://learn.example/iot-hub and the key idea is simple")
    assert redact_text(f"note {run}") == f"note {run}"


FAIL_CLOSED_KEY = planted("redaction fail-closed key")


@pytest.mark.parametrize("text", [
    f'{{"primaryKey" : "{FAIL_CLOSED_KEY}',  # a JSON string cut off before its closing quote, spaces round the colon
    f'log: {{"sharedAccessKey":"{FAIL_CLOSED_KEY}',  # the same, with text before it
    f'"AccountKey" = "{FAIL_CLOSED_KEY}',  # quoted name, `=` with spaces, cut off
    f"AccountKey = \"{FAIL_CLOSED_KEY}",
    f"HostName=h;SharedAccessKeyName=o%3BAccountKey%3D{FAIL_CLOSED_KEY}",  # a connection string URL-encoded
    f"DefaultEndpointsProtocol%3Dhttps%3BAccountName%3Dx%3BAccountKey%3D{FAIL_CLOSED_KEY}",
])
def test_a_secret_the_in_place_passes_miss_is_withheld_by_the_fail_closed_pass(text: str) -> None:
    """Forms no in-place pattern matches (each once passed the per-word passes verbatim): only the fail-closed
    check stands between them and the output. Looked for literally, in every spelling, without the redactor."""
    secrets = Secrets()
    secrets.add("planted key", FAIL_CLOSED_KEY)
    for redacted in (redact_text(text), redact_value({"note": text})["note"], redact_value([text])[0]):
        secrets.assert_absent(redacted, f"the redaction of {text!r}")
