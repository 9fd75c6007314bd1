"""Redaction: every secret form we know of is scrubbed, and nothing else is changed."""

from __future__ import annotations

import json

import pytest

from devstack.tokens import mint
from devstack.wellknown import hub_connection_string
from shared.redaction import REDACTED, contains_secret, redact_job, redact_sas_uri, redact_text

SAS_URI = "https://acct.blob.core.windows.net/out?sv=2021-08-06&se=2026-12-01T00%3A00%3A00Z&sr=c&sp=rwdl&sig=Zm9v%2Bbar%2Fbaz%3D"


def test_sas_uri_keeps_everything_but_the_signature() -> None:
    redacted = redact_sas_uri(SAS_URI)
    assert redacted == SAS_URI.replace("Zm9v%2Bbar%2Fbaz%3D", REDACTED)
    assert redact_sas_uri(redacted) == redacted
    assert redact_sas_uri("https://acct.blob.core.windows.net/out") == "https://acct.blob.core.windows.net/out"


@pytest.mark.parametrize(
    "secret_text",
    [
        SAS_URI,
        SAS_URI.replace("sig=", "SIG="),
        "https://x/c?sv=1&sig=abc&sp=r",
        "inner=https%3A%2F%2Fx%2Fc%3Fsig%3Dabcdef",
        hub_connection_string("devhub"),
        "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=AAAABBBBCCCCDDDD==;EndpointSuffix=core.windows.net",
        "Authorization: SharedAccessSignature sr=devhub.azure-devices.net&sig=abc%3D&se=1&skn=owner",
        "Authorization: Bearer abc.def.ghi",
        mint({"aud": "x"}, key=b"k"),
        '{"authentication":{"symmetricKey":{"primaryKey":"QUJD","secondaryKey":"REVG"}}}',
        '{"errorStatus":"Invalid device format in line: {\\"primaryKey\\":\\"QUJD\\"}"}',
        # A URI JSON-escaped by .NET (System.Text.Json writes & and = as \u0026 and \u003d).
        '{"Message":"{\\"uri\\":\\"https://a/c?sv=1\\u0026sig=abcdef\\u0026se=2\\"}"}',
        "https://a/c?sv=1\\u0026sig\\u003dabcdef",
        # Double URL-encoding.
        "next=https%253A%252F%252Fa%252Fc%253Fsv%253D1%2526sig%253Dabcdef",
        '{"accountKey":"QUJDREVG"}',
        "{'primaryKey': 'QUJD', 'secondaryKey': 'REVG'}",
        '{"connectionString":"HostName=h;SharedAccessKeyName=p;SharedAccessKey=QUJD"}',
    ],
)
def test_secret_forms_are_scrubbed(secret_text: str) -> None:
    assert contains_secret(secret_text)
    redacted = redact_text(secret_text)
    assert not contains_secret(redacted)
    for fragment in ("abcdef", "QUJD", "REVG", "AAAABBBBCCCCDDDD", "Zm9v", "abc%3D"):
        assert fragment not in redacted


def test_plain_text_is_untouched() -> None:
    text = 'ErrorCode:JobNotFound;The job with id abc was not found. {"status":"failed","progress":100}'
    assert redact_text(text) == text
    assert not contains_secret(text)


def test_job_redaction_passes_unknown_fields_and_honours_the_switch() -> None:
    job = {
        "jobId": "j1",
        "outputBlobContainerUri": SAS_URI,
        "inputBlobContainerUri": SAS_URI,
        "parentJobId": "p1",
        "statusMessage": "ok",
        "progress": 40,
        "failureReason": f"could not read {SAS_URI}",
    }
    redacted = redact_job(job)
    assert redacted["parentJobId"] == "p1" and redacted["progress"] == 40
    assert "Zm9v" not in json.dumps(redacted)
    kept = redact_job(job, redact_sas=False)
    assert kept["outputBlobContainerUri"] == SAS_URI
    assert "Zm9v" not in kept["failureReason"]
    assert job["outputBlobContainerUri"] == SAS_URI  # the input is not modified
