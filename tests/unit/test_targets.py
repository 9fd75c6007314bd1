"""Where the poller may write, with which credential: the target parser and the credential rules (no I/O).

The job is written by whoever may create jobs on a hub; every case here is a URI such a person could write.
"""

from __future__ import annotations

import urllib.parse
from collections import Counter
from collections.abc import Iterator

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from urllib3.util import parse_url

from shared.errors import SettingsError, TargetRejected
from shared.http.targets import TargetGuard, parse_container_uri, parse_uri, usable_sas
from shared.poller.targets import Credential, job_targets
from shared.settings import AppSettings, PollerSettings
from tests.support.secrets import Secrets, planted

SIGNATURE = planted("targets signature")
SAS = "sv=2021-08-06&sr=c&sp=rwdl&sig=" + urllib.parse.quote(SIGNATURE, safe="")
ACCOUNT = "https://acct.blob.core.windows.net"


def poller_settings(**extra: str) -> PollerSettings:
    environ = {"IOTHUB_HUBS": "devhub", "AzureWebJobsStorage": "UseDevelopmentStorage=true",
               "MONITOR_STORAGE_HOST_ALLOWLIST": "*.blob.core.windows.net,127.0.0.1", **extra}
    return AppSettings.from_environ(environ).poller


@pytest.mark.parametrize(
    ("uri", "reason"),
    [
        ("https://ATTACKER\\.blob.core.windows.net/loot", "plain absolute URL"),  # urllib3 connects to ATTACKER
        ("https://127.0.0.2:4443\\@victim.blob.core.windows.net/loot", "plain absolute URL"),
        ("https://user@acct.blob.core.windows.net/out", "plain absolute URL"),
        ("https://acct.blob.core.windows.net./out", "valid host"),
        ("https://evil%2ecom/out", "plain absolute URL"),
        ("https://acct.blob.core.windows.net\t/out", "plain absolute URL"),
        ("https://accté.blob.core.windows.net/out", "plain absolute URL"),
        ("https://xn--acct-9za.blob.core.windows.net/out", None),  # punycode is ASCII: a host like any other
        ("https://10.0.0.5/devstoreaccount1/out", "IP address"),
        ("https://127.1/out", "valid host"),
        ("https://0x7f.0.0.1/out", "IP address in an unusual spelling"),
        ("https://[fe80::1]/out", "IPv6"),
        ("http://acct.blob.core.windows.net/out", "must be https"),
        ("ftp://acct.blob.core.windows.net/out", "must be https"),
        ("https://acct.blob.core.windows.net:0443/out", "plain absolute URL"),
        ("https://acct.blob.core.windows.net/out#fragment", "plain absolute URL"),
        ("https://acct.blob.core.windows.net/out/../victim", "reads alike"),
        ("https://acct.blob.core.windows.net/out/blob.txt", "exactly one container"),
        ("https://acct.blob.core.windows.net/", "exactly one container"),
        ("https://acct.blob.core.windows.net/$web", "valid blob container"),
        ("https://acct.blob.core.windows.net/Out", "valid blob container"),
        ("https://acct.blob.core.windows.net/%6Fut", "valid blob container"),
        ("https://acct.blob.core.windows.net/devstoreaccount1/out", "exactly one container"),  # path-style: loopback
        ("https://acct.blob.core.windows.net/out/", None),
        ("http://127.0.0.1:10000/devstoreaccount1/out", None),
        ("https://[::1]:10001/devstoreaccount1/out", None),
    ],
)
def test_the_target_parser(uri: str, reason: str | None) -> None:
    if reason is None:
        target = parse_container_uri(uri, what="uri")
        assert target.endpoint.host == (parse_url(uri).host or "").strip("[]")
        return
    with pytest.raises(TargetRejected, match=reason):
        parse_container_uri(uri, what="uri")


def test_a_sas_is_rebuilt_from_its_parsed_parameters() -> None:
    assert usable_sas(SAS) == SAS
    # Storage reads %73ig as sig: so do we, and the signature is then sent under its real name.
    assert usable_sas(SAS.replace("&sig=", "&%73ig=")) == SAS
    assert usable_sas("sv=1&sig=REDACTED") is None
    assert usable_sas("sv=1&sig=a&sig=b") is None
    assert usable_sas("sv=1&sp=r") is None
    assert usable_sas(SAS + "&comp=list&restype=container") == SAS  # not ours to pass on


def test_a_job_sas_opens_only_its_own_container() -> None:
    settings = poller_settings()
    targets = job_targets({"outputBlobContainerUri": f"{ACCOUNT}/out?{SAS}"}, settings)
    assert (targets.monitor.credential, targets.monitor.target.url) == (Credential.SAS, f"{ACCOUNT}/out")
    assert targets.output is not None and targets.output.credential is Credential.SAS
    assert targets.with_identity() is None  # a refused SAS falls back to nothing: no container is listed
    planted_secrets = Secrets()
    planted_secrets.add("signature", SIGNATURE)
    planted_secrets.assert_absent(repr(targets) + targets.monitor.describe(), "the targets' repr")


def test_an_imports_input_is_read_only_under_the_outputs_rules() -> None:
    """The input is counted for the report's title: its own SAS for its own container, the identity only where
    listed, never an off-list host or a reserved container; an export or a bad URI has none (never a skip)."""
    settings = poller_settings(MONITOR_IDENTITY_CONTAINERS=f"{ACCOUNT}/listed")
    out = f"{ACCOUNT}/out?{SAS}"

    def source(input_uri: object, **extra: str) -> tuple[Credential, str] | None:
        job = {"type": "import", "outputBlobContainerUri": out, "inputBlobContainerUri": input_uri, **extra}
        access = job_targets(job, settings).input
        return None if access is None else (access.credential, access.target.url)

    assert source(f"{ACCOUNT}/input?{SAS}") == (Credential.SAS, f"{ACCOUNT}/input")
    assert source(f"{ACCOUNT}/input") is None  # no SAS, not listed
    assert source(f"{ACCOUNT}/listed") == (Credential.IDENTITY, f"{ACCOUNT}/listed")
    identity_based = {"storageAuthenticationType": "identityBased", "outputBlobContainerUri": f"{ACCOUNT}/listed"}
    assert source(f"{ACCOUNT}/listed?{SAS}", **identity_based) == (Credential.IDENTITY, f"{ACCOUNT}/listed")
    assert source(f"{ACCOUNT}/input?{SAS}", **identity_based) is None  # the hub's identity reads it, not a SAS
    assert source(f"https://evil.example.com/input?{SAS}") is None  # off the allowlist: never contacted
    assert source(f"{ACCOUNT}/jobmonitor-state?{SAS}") is None  # the app's own
    assert source("https://user@acct.blob.core.windows.net/input") is None
    assert source(None) is None
    export = {"type": "export", "outputBlobContainerUri": out, "inputBlobContainerUri": f"{ACCOUNT}/input?{SAS}"}
    assert job_targets(export, settings).input is None


def test_the_identity_writes_only_where_the_operator_listed() -> None:
    listed = poller_settings(MONITOR_IDENTITY_CONTAINERS=f"{ACCOUNT}/out,https://other.blob.core.windows.net/*")
    unlisted = poller_settings()
    plain = {"outputBlobContainerUri": f"{ACCOUNT}/out"}
    redacted = {"outputBlobContainerUri": f"{ACCOUNT}/out?sv=1&sig=REDACTED"}
    identity_based = {"outputBlobContainerUri": f"{ACCOUNT}/out?{SAS}", "storageAuthenticationType": "identityBased"}
    for job in (plain, redacted, identity_based):
        assert job_targets(job, listed).monitor.credential is Credential.IDENTITY
        with pytest.raises(TargetRejected, match="not in MONITOR_IDENTITY_CONTAINERS"):
            job_targets(job, unlisted)
    # Another container of a listed account, without a SAS: not the operator's choice.
    with pytest.raises(TargetRejected, match="not in MONITOR_IDENTITY_CONTAINERS"):
        job_targets({"outputBlobContainerUri": f"{ACCOUNT}/victim"}, listed)
    # An account listed with `*`: any of its containers.
    assert job_targets({"outputBlobContainerUri": "https://other.blob.core.windows.net/any"},
                       listed).monitor.uses_identity
    # A listed container's SAS refused: the identity may take over, for that container only.
    fallback = job_targets({"outputBlobContainerUri": f"{ACCOUNT}/out?{SAS}"}, listed).with_identity()
    assert fallback is not None and fallback.monitor.uses_identity and fallback.monitor.target.container == "out"
    assert job_targets({"outputBlobContainerUri": f"{ACCOUNT}/victim?{SAS}"}, listed).with_identity() is None


@pytest.mark.parametrize("container", ["azure-webjobs-secrets", "azure-webjobs-hosts", "jobmonitor-state",
                                       "jobmonitor-cache", "app-package-jobmon-1234", "scm-releases"])
def test_reserved_containers_are_never_written_whatever_the_credential(container: str) -> None:
    settings = poller_settings(MONITOR_IDENTITY_CONTAINERS=f"{ACCOUNT}/*")
    for uri in (f"{ACCOUNT}/{container}", f"{ACCOUNT}/{container}?{SAS}"):
        with pytest.raises(TargetRejected, match="reserved"):
            job_targets({"outputBlobContainerUri": uri}, settings)
    with pytest.raises(SettingsError, match="MONITOR_IDENTITY_CONTAINERS"):
        poller_settings(MONITOR_IDENTITY_CONTAINERS=f"{ACCOUNT}/{container}")


def test_the_sibling_container_is_written_with_the_identity_and_must_be_listed() -> None:
    job = {"outputBlobContainerUri": f"{ACCOUNT}/out?{SAS.replace('sr=c', 'ss=b&srt=co')}"}
    with pytest.raises(TargetRejected, match="MONITOR_CONTAINER"):
        job_targets(job, poller_settings(MONITOR_CONTAINER="monitor"))
    targets = job_targets(job, poller_settings(MONITOR_CONTAINER="monitor",
                                               MONITOR_IDENTITY_CONTAINERS=f"{ACCOUNT}/monitor"))
    # Even an account SAS is not used for the sibling: a job's SAS opens the job's own container only.
    assert (targets.monitor.credential, targets.monitor.target.container) == (Credential.IDENTITY, "monitor")
    assert targets.output is not None and targets.output.credential is Credential.SAS


def test_nothing_is_written_until_the_operator_names_storage() -> None:
    settings = AppSettings.from_environ({"IOTHUB_HUBS": "devhub", "AzureWebJobsStorage": "x"}).poller
    assert settings.storage_host_allowlist == () and settings.identity_containers == ()
    with pytest.raises(TargetRejected, match="not on the allowlist"):
        job_targets({"outputBlobContainerUri": f"{ACCOUNT}/out?{SAS}"}, settings)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("http://127.0.0.1:10000/devstoreaccount1/*", "https"),
        (f"{ACCOUNT}/out?{SAS}", "without a query"),
        ("https://acct.blob.core.windows.net\\@evil/out", "plain absolute URL"),
        (f"{ACCOUNT}/out/sub", "exactly one container"),
    ],
)
def test_identity_container_settings_are_checked(value: str, problem: str) -> None:
    with pytest.raises(SettingsError, match=problem):
        poller_settings(MONITOR_IDENTITY_CONTAINERS=value)


def test_the_guard_refuses_what_the_client_was_not_built_for() -> None:
    target = parse_container_uri("https://127.0.0.1:10001/devstoreaccount1/out", what="uri")
    guard = TargetGuard(target.endpoint, path_prefix="/devstoreaccount1/out")
    guard.check("https://127.0.0.1:10001/devstoreaccount1/out/jobmonitor/j/latest.json")
    guard.check("https://127.0.0.1:10001/devstoreaccount1/out?restype=container")
    for url in ("https://127.0.0.2:10001/devstoreaccount1/out/x", "http://127.0.0.1:10001/devstoreaccount1/out/x",
                "https://127.0.0.1:10002/devstoreaccount1/out/x", "https://127.0.0.1:10001/devstoreaccount1/outer",
                "https://127.0.0.1:10001/devstoreaccount1/victim/x", "https://u@127.0.0.1:10001/devstoreaccount1/out"):
        with pytest.raises(TargetRejected):
            guard.check(url)


# -- fuzz: whatever a job's creator writes, the host we check is the host the HTTP stack connects to -------------
FUZZ_COUNTS: Counter[str] = Counter()
_AUTHORITY_ALPHABET = st.sampled_from(
    [*"abcz019.-", "\\", "@", ":", "%", "%2e", "%40", "[", "]", "/", "#", "?", " ", "\t", "é", "\uff0e",
     "\u0131", "127.0.0.1", "blob.core.windows.net", "::1", "443", "0x7f", "\x00", "\u2024"]
)


@pytest.fixture(scope="module", autouse=True)
def report_fuzz_counts() -> Iterator[None]:
    yield
    if FUZZ_COUNTS:
        print(f"\ntarget parser fuzz: {dict(FUZZ_COUNTS)}")  # the closing note quotes it


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    scheme=st.sampled_from(["https"] * 6 + ["http", "HTTPS", "ftp", "https:", ""]),
    authority=st.tuples(
        st.one_of(st.just(""), st.lists(_AUTHORITY_ALPHABET, max_size=3).map("".join)),
        st.sampled_from(["acct.blob.core.windows.net", "127.0.0.1:10000", "[::1]:10001", "localhost", "a-b.c", ""]),
        st.one_of(st.just(""), st.lists(_AUTHORITY_ALPHABET, max_size=3).map("".join)),
    ).map("".join),
    path=st.sampled_from(["/out", "/devstoreaccount1/out", "/out/"] * 3 + ["\\out", "/o%75t", "", "/out/x",
                                                                          "/../out"]),
    query=st.sampled_from(["", "?sv=1&sig=abc", "?%73ig=abc", "", "#x"]),
)
def test_fuzz_the_parsed_host_is_the_host_urllib3_connects_to(scheme: str, authority: str, path: str,
                                                              query: str) -> None:
    uri = f"{scheme}://{authority}{path}{query}"
    try:
        target = parse_container_uri(uri, what="uri")
    except TargetRejected:
        FUZZ_COUNTS["rejected"] += 1
        return
    FUZZ_COUNTS["accepted"] += 1
    connected = parse_url(uri)
    assert (connected.host or "").strip("[]") == target.endpoint.host
    assert connected.port == target.endpoint.port and connected.auth is None
    prepared = parse_url(requests.Request("GET", uri).prepare().url or "")
    assert (prepared.host or "").strip("[]") == target.endpoint.host
    # What the storage client will be given (account URL and container) leads to the same place.
    rebuilt = parse_uri(target.url, what="rebuilt")
    assert rebuilt.endpoint == target.endpoint
