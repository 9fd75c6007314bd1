"""Redaction: every secret form in the corpus is scrubbed, checked by looking for the planted values
themselves in every encoding (tests.support.secrets), never by asking the redactor."""

from __future__ import annotations

import base64
import json
import urllib.parse

import pytest

from devstack.tokens import mint
from shared.redaction import REDACTED, redact_job, redact_text, redact_value
from tests.support.secrets import Secrets, planted

SIG = planted("corpus signature")  # 44 characters of base64, like every SAS signature
KEY = planted("corpus key")
TOKEN = mint({"aud": "https://storage.azure.com", "oid": "x"}, key=b"corpus-token-key")
Q = urllib.parse.quote(SIG, safe="")  # as a SAS URI carries it
QQ = urllib.parse.quote(Q, safe="")
QQQ = urllib.parse.quote(QQ, safe="")
HOST = "https://acct.blob.core.windows.net/out"
SAS_URI = f"{HOST}?sv=2021-08-06&se=2026-12-01T00%3A00%3A00Z&sr=c&sp=rwdl&sig={Q}"
CONNECTION = f"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={KEY};EndpointSuffix=core.windows.net"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _dotnet(text: str) -> str:
    """JSON as .NET's serialisers write it: & = + ' < > as \\u00XX, / as \\/."""
    return "".join(f"\\u{ord(c):04X}" if c in "&=+'<>" else c for c in text).replace("/", "\\/")


# Each line: a form a secret has been seen (or could be) in. Add new forms here, one line each.
CORPUS: list[tuple[str, str]] = [
    ("SAS URI", SAS_URI),
    ("upper-case SIG", SAS_URI.replace("&sig=", "&SIG=")),
    ("percent-encoded parameter name %73ig", SAS_URI.replace("&sig=", "&%73ig=")),
    ("mixed-case encoded name %53Ig", SAS_URI.replace("&sig=", "&%53Ig=")),
    ("sig first after ?", f"{HOST}?sig={Q}&sv=1"),
    ("unencoded signature", f"{HOST}?sv=1&sig={SIG}&sp=r"),
    ("URI inside a URL-encoded parameter", "next=" + urllib.parse.quote(SAS_URI, safe="")),
    ("URI encoded twice", "next=" + urllib.parse.quote(urllib.parse.quote(SAS_URI, safe=""), safe="")),
    ("URI encoded three times", "n=" + urllib.parse.quote(urllib.parse.quote(urllib.parse.quote(SAS_URI, safe=""),
                                                                            safe=""), safe="")),
    ("JSON-escaped by .NET (\\u0026, \\u003d, \\/)", json.dumps({"Message": _dotnet(SAS_URI)})),
    ("\\/-escaped signature", f"{HOST}?sv=1&sig={SIG.replace('/', chr(92) + '/')}"),
    ("+ decoded to a space", f"{HOST}?sv=1&sig={SIG.replace('+', ' ')}&sp=r"),
    ("+ decoded to a space, at the end", f"could not open {HOST}?sv=1&sig={SIG.replace('+', ' ')}"),
    ("HTML-escaped &amp;sig=", f"<a href=\"{HOST}?sv=1&amp;sig={Q}\">x</a>"),
    ("base64-wrapped URI", "state=" + _b64(SAS_URI)),
    ("base64-wrapped connection string", "blob " + _b64(CONNECTION)),
    ("nested JSON string", json.dumps({"Message": json.dumps({"uri": SAS_URI})})),
    ("storage connection string", CONNECTION),
    ("AccountKey with spaces", f"AccountName=acct; AccountKey = {KEY}; EndpointSuffix=core.windows.net"),
    ("URL-encoded connection string", "cs=" + urllib.parse.quote(CONNECTION, safe="")),
    ("IoT Hub connection string", f"HostName=h.azure-devices.net;SharedAccessKeyName=p;SharedAccessKey={KEY}"),
    ("JSON primaryKey", json.dumps({"authentication": {"symmetricKey": {"primaryKey": KEY, "secondaryKey": KEY}}})),
    ("YAML primaryKey", f"primaryKey: {KEY}\nstatus: enabled"),
    ("YAML-ish sig", f"note: sig: {SIG}"),
    ("Python repr primaryKey", repr({"primaryKey": KEY})),
    ("escaped JSON in errorStatus", json.dumps({"errorStatus": f'Invalid line: {{"primaryKey":"{KEY}"}}'})),
    ("unterminated JSON field", f'Invalid device format in line: {{"primaryKey":"{KEY}'),
    ("accountKey field", json.dumps({"accountKey": KEY})),
    ("connectionString field", json.dumps({"connectionString": CONNECTION})),
    ("quoted field ending in Key", json.dumps({"deviceKey": KEY})),
    ("IoT Hub SAS token", f"Authorization: SharedAccessSignature sr=h.azure-devices.net&sig={Q}&se=1&skn=owner"),
    ("bearer token", f"Authorization: Bearer {TOKEN}"),
    ("bare JWT", f"token {TOKEN} refused"),
    ("base64-wrapped JWT", "ctx " + _b64(TOKEN)),
]
PLANTED = Secrets()
PLANTED.update([("signature", SIG), ("key", KEY), ("token", TOKEN)])


@pytest.mark.parametrize(("form", "text"), CORPUS, ids=[form for form, _ in CORPUS])
def test_every_form_in_the_corpus_is_scrubbed(form: str, text: str) -> None:
    assert PLANTED.found_in(text), f"the corpus line {form!r} must carry a planted secret"
    redacted = redact_text(text)
    PLANTED.assert_absent(redacted, form)
    assert redact_text(redacted) == redacted  # idempotent


def test_base64_inside_base64_is_looked_into() -> None:
    """One layer deeper than the planted-value checks look (they know base64 once): the text is decoded here,
    twice, and the planted values looked for in what comes out."""
    wrapped = _b64(_b64(SAS_URI))
    assert PLANTED.found_in(base64.b64decode(base64.b64decode(wrapped)).decode())
    redacted = redact_text(f"state={wrapped} end")
    assert redacted == f"state={REDACTED} end"


def test_a_short_secret_wrapped_in_base64_is_found_by_its_name() -> None:
    """No long base64 run inside, no URI: only the field's name (any case) says a secret is wrapped here."""
    for text in ("password=hunter2-not-shown", "PASSWORD=hunter2-not-shown", "SharedAccessKey=abc;x"):
        wrapped = _b64(text)
        assert redact_text(f"v={wrapped}") == f"v={REDACTED}", text


def test_sas_uri_keeps_everything_but_the_signature() -> None:
    assert redact_text(SAS_URI) == SAS_URI.replace(Q, REDACTED)
    assert redact_text(redact_text(SAS_URI)) == redact_text(SAS_URI)
    assert redact_text(HOST) == HOST
    assert redact_text(SAS_URI.replace("&sig=", "&%73ig=")) == SAS_URI.replace(f"&sig={Q}", f"&%73ig={REDACTED}")


def _quoted(text: str, times: int) -> str:
    for _ in range(times):
        text = urllib.parse.quote(text, safe="")
    return text


# An encoded SAS URI, and its signature's value as it appears there: only that value may change.
ENCODED_IN_PLACE: list[tuple[str, str, str]] = [
    ("percent-encoded once (...%26sig%3D<sig>)", "next=" + _quoted(SAS_URI, 1), _quoted(Q, 1)),
    ("percent-encoded twice", "next=" + _quoted(SAS_URI, 2), _quoted(Q, 2)),
    ("percent-encoded three times", "next=" + _quoted(SAS_URI, 3), _quoted(Q, 3)),
    ("JSON-escaped by .NET", _dotnet(SAS_URI), Q),
    ("HTML-escaped &amp;sig=", SAS_URI.replace("&sig=", "&amp;sig="), Q),
    ("parameter name %73ig", SAS_URI.replace("&sig=", "&%73ig="), Q),
    ("parameter name %53Ig (an encoded upper-case letter)", SAS_URI.replace("&sig=", "&%53Ig="), Q),
    ("parameter name %53%49%47, equals sign %3d", SAS_URI.replace("&sig=", "&%53%49%47%3d"), Q),
]


@pytest.mark.parametrize(("form", "text", "value"), ENCODED_IN_PLACE, ids=[form for form, _, _ in ENCODED_IN_PLACE])
def test_an_encoded_sas_uri_keeps_everything_but_its_signature(form: str, text: str, value: str) -> None:
    """Each encoding is redacted where it stands: the rest of the text stays readable. (The fail-closed pass
    would withhold the whole text of a form the first pass missed: no leak, but nothing left to read.)"""
    assert text.count(value) == 1, form
    assert redact_text(text) == text.replace(value, REDACTED)


@pytest.mark.parametrize(
    "text",
    [
        'ErrorCode:JobNotFound;The job with id abc was not found. {"status":"failed","progress":100}',
        "SharedAccessKeyName=registryRead;HostName=h.azure-devices.net",
        "the signature check passed; signing key rotated",
        '{"excludeKeysInExport": true, "keyName": "registryRead", "primaryKey": null}',
        "https://acct.blob.core.windows.net/out?sv=2021-08-06&sr=c&sp=rwdl",
        "job 3f2b7c1e-9d7a-4c55-8d1e-2f9a4b6c7d8e with designer guidance",
    ],
)
def test_plain_text_is_untouched(text: str) -> None:
    assert redact_text(text) == text


def test_dict_fields_named_like_secrets_are_redacted_whatever_their_value() -> None:
    value = {"primaryKey": "short", "client_secret": "x", "SharedAccessKey": "y", "nested": [{"sasToken": "z"}],
             "keyName": "registryRead", "excludeKeysInExport": True}
    assert redact_value(value) == {"primaryKey": REDACTED, "client_secret": REDACTED, "SharedAccessKey": REDACTED,
                                   "nested": [{"sasToken": REDACTED}], "keyName": "registryRead",
                                   "excludeKeysInExport": True}


def test_job_redaction_passes_unknown_fields_and_honours_the_switch() -> None:
    job = {
        "jobId": "j1",
        "outputBlobContainerUri": SAS_URI,
        "inputBlobContainerUri": SAS_URI.replace("&sig=", "&%73ig="),
        "parentJobId": "p1",
        "statusMessage": "ok",
        "progress": 40,
        "failureReason": f"could not read {SAS_URI}",
    }
    redacted = redact_job(job)
    assert redacted["parentJobId"] == "p1" and redacted["progress"] == 40
    PLANTED.assert_absent(json.dumps(redacted), "redacted job")
    kept = redact_job(job, redact_sas=False)
    assert kept["outputBlobContainerUri"] == SAS_URI
    PLANTED.assert_absent(kept["failureReason"], "failureReason")
    assert job["outputBlobContainerUri"] == SAS_URI  # the input is not modified


def test_a_field_named_key_is_an_identifier_not_a_secret() -> None:
    """A failure report's `hint.key` names the hint; it must survive redaction (as text and as a dict)."""
    hint = {"hint": {"key": "sasExpiredOrLacksPermissions", "text": "The SAS was refused."}}
    assert redact_value(hint) == hint
    assert redact_text(json.dumps(hint)) == json.dumps(hint)


def test_dictionary_keys_are_redacted_too() -> None:
    """Keys come from untrusted text as well (an import report's counts are keyed by each line's error code)."""
    redacted = json.dumps(redact_value({f"sig={SIG}": 1, "nested": {f"AccountKey={SIG}": "v"}}))
    secrets = Secrets()
    secrets.add("signature", SIG)
    secrets.assert_absent(redacted, "redacted keys")
