"""The target parser's bounds and words: the longest URI, port and host it takes and the first it refuses, the
default ports, path-style container URIs, the guard on a named host and on IPv6 loopback, and refusals that name
what was refused but never its query (a SAS). test_targets.py covers the attacks; these pin the edges."""

from __future__ import annotations

import random
import urllib.parse

import pytest

from shared.errors import TargetRejected
from shared.http.retry import BackoffPolicy, retry_after_seconds
from shared.http.targets import MAX_URI_CHARS, Endpoint, TargetGuard, parse_container_uri, parse_uri, usable_sas
from tests.support.secrets import planted

SIGNATURE = planted("targets bounds signature")
QUERY = "sv=2021-08-06&sig=" + urllib.parse.quote(SIGNATURE, safe="")
WHAT = "the output container of job j-1"


def test_a_uri_of_the_longest_length_is_taken_and_one_character_more_is_not() -> None:
    base = "https://acct.blob.core.windows.net/"
    longest = base + "a" * (MAX_URI_CHARS - len(base))
    assert parse_uri(longest, what=WHAT).path == longest.removeprefix("https://acct.blob.core.windows.net")
    with pytest.raises(TargetRejected, match=f"{WHAT} is longer than {MAX_URI_CHARS} characters"):
        parse_uri(longest + "a", what=WHAT)


def test_the_highest_port_is_taken_and_the_next_is_not() -> None:
    assert parse_uri("https://acct.blob.core.windows.net:65535/c", what=WHAT).endpoint.port == 65535
    with pytest.raises(TargetRejected, match=f"{WHAT} has an invalid port"):
        parse_uri("https://acct.blob.core.windows.net:65536/c", what=WHAT)


def test_a_host_of_253_characters_is_taken_and_one_of_254_is_not() -> None:
    labels = ["a" * 63, "b" * 63, "c" * 63, "d" * 61]  # 63 + 63 + 63 + 61 + 3 dots = 253
    host = ".".join(labels)
    assert len(host) == 253
    assert parse_uri(f"https://{host}/c", what=WHAT).endpoint.host == host
    with pytest.raises(TargetRejected, match=f"{WHAT} does not name a valid host"):
        parse_uri(f"https://{host}a/c", what=WHAT)


@pytest.mark.parametrize("host", ["a.0x7f", "blob.0X7F", "a.b.127", "x.y.0x1"])
def test_a_last_label_in_hex_or_digits_is_an_ip_address_in_disguise(host: str) -> None:
    with pytest.raises(TargetRejected, match=f"{WHAT} names an IP address in an unusual spelling"):
        parse_uri(f"https://{host}/c", what=WHAT)


def test_default_ports_are_the_schemes_own() -> None:
    https = Endpoint(scheme="https", host="acct.blob.core.windows.net")
    http = Endpoint(scheme="http", host="127.0.0.1")
    assert (https.effective_port(), http.effective_port()) == (443, 80)
    assert https.same_as(Endpoint(scheme="https", host="acct.blob.core.windows.net", port=443))
    assert not https.same_as(Endpoint(scheme="https", host="acct.blob.core.windows.net", port=80))
    assert http.same_as(Endpoint(scheme="http", host="127.0.0.1", port=80))
    assert Endpoint(scheme="https", host="h", port=8443).effective_port() == 8443


@pytest.mark.parametrize(("uri", "problem"), [
    (None, "is missing"),
    ("", "is missing"),
    (1234, "is missing"),
    ("https://acct.blob.core.windows.net/c#frag", "is not a plain absolute URL"),
    ("https://10.0.0.1/c?" + QUERY, "names an IP address (only loopback is accepted)"),
    ("https://999.0.0.1/c?" + QUERY, "names an invalid IP address"),
    ("https://[2001:db8::1]/c?" + QUERY, "names an IPv6 address"),
    ("http://acct.blob.core.windows.net/c?" + QUERY, "must be https"),
    ("https://a_b.blob.core.windows.net/c?" + QUERY, "is not a plain absolute URL"),
    ("https://-a.blob.core.windows.net/c?" + QUERY, "does not name a valid host"),
])
def test_a_refusal_names_what_was_refused_and_never_its_query(uri: object, problem: str) -> None:
    with pytest.raises(TargetRejected) as raised:
        parse_uri(uri, what=WHAT)
    message = str(raised.value)
    assert message.startswith(f"{WHAT} ") and problem in message
    assert SIGNATURE not in message and "sig=" not in message


def test_a_container_refusal_names_what_was_refused() -> None:
    for uri, problem in (("https://acct.blob.core.windows.net/a/b", "must name exactly one container"),
                         ("https://acct.blob.core.windows.net/*", "does not name a valid blob container"),
                         ("https://acct.blob.core.windows.net:99999/c", "has an invalid port")):
        with pytest.raises(TargetRejected, match=problem) as raised:
            parse_container_uri(uri, what=WHAT)
        assert str(raised.value).startswith(WHAT)


def test_a_path_style_uri_on_loopback_names_its_account_and_its_container() -> None:
    target = parse_container_uri("http://127.0.0.1:10000/devstoreaccount1/out?" + QUERY, what=WHAT)
    assert (target.account_path, target.container) == ("/devstoreaccount1", "out")
    assert target.url == "http://127.0.0.1:10000/devstoreaccount1/out"
    # Off loopback, two segments are a container and something after it.
    with pytest.raises(TargetRejected, match="exactly one container"):
        parse_container_uri("https://acct.blob.core.windows.net/devstoreaccount1/out", what=WHAT)
    # An account name must look like one (3 to 24 lower-case letters and digits): "ab" is not.
    with pytest.raises(TargetRejected, match="exactly one container"):
        parse_container_uri("http://127.0.0.1:10000/ab/out", what=WHAT)


def test_the_wildcard_container_is_taken_only_where_allowed() -> None:
    assert parse_container_uri("https://acct.blob.core.windows.net/*", what=WHAT, allow_wildcard=True).container == "*"
    assert parse_container_uri("https://acct.blob.core.windows.net/out", what=WHAT,
                               allow_wildcard=True).container == "out"


def test_a_sas_keeps_blank_values_and_refuses_a_malformed_query() -> None:
    assert usable_sas("sv=2021-08-06&se=&" + QUERY.partition("&")[2]) == (
        "sv=2021-08-06&se=&sig=" + urllib.parse.quote(SIGNATURE, safe=""))
    assert usable_sas(QUERY + "&junk") is None
    assert usable_sas("sig=") is None and usable_sas("sig=REDACTED") is None
    assert usable_sas("sig=a&sig=b") is None and usable_sas("sv=1&sv=2&sig=a") is None


def test_the_guard_lets_its_own_named_host_through_in_any_case() -> None:
    guard = TargetGuard(parse_uri("https://acct.blob.core.windows.net/out", what=WHAT).endpoint, path_prefix="/out")
    guard.check("https://acct.blob.core.windows.net/out/jobmonitor/j/latest.json")
    guard.check("https://ACCT.Blob.Core.Windows.Net:443/out")
    for url in ("https://acct.blob.core.windows.net/outer", "https://acct.blob.core.windows.net",
                "https://acct.blob.core.windows.net.evil.example/out", "//acct.blob.core.windows.net/out"):
        with pytest.raises(TargetRejected):
            guard.check(url)


def test_the_guard_lets_ipv6_loopback_through() -> None:
    guard = TargetGuard(parse_uri("http://[::1]:10000/devstoreaccount1", what=WHAT).endpoint)
    guard.check("http://[::1]:10000/devstoreaccount1/out")
    with pytest.raises(TargetRejected, match=r"a request to http://\[::1\]:10001 was refused"):
        guard.check("http://[::1]:10001/devstoreaccount1/out")


def test_a_retry_after_under_a_second_is_kept_as_it_is() -> None:
    assert retry_after_seconds({"Retry-After": "0.5"}, "") == 0.5
    assert retry_after_seconds({"Retry-After": "0"}, "") == 0.0


def test_the_jitter_on_a_retry_after_is_at_most_a_second() -> None:
    policy = BackoffPolicy(base_seconds=4.0, max_seconds=60.0, rng=random.Random(5))
    delays = [policy.delay(attempt=1, retry_after=10.0) for _ in range(200)]
    assert all(10.0 <= d <= 11.0 for d in delays)
    assert max(delays) > 10.9  # the jitter does use its second


def test_the_backoff_doubles_with_each_attempt() -> None:
    policy = BackoffPolicy(base_seconds=0.25, max_seconds=8.0, rng=random.Random(3))
    for attempt, cap in ((1, 0.25), (2, 0.5), (3, 1.0), (4, 2.0), (6, 8.0), (9, 8.0)):
        delays = [policy.delay(attempt=attempt, retry_after=None) for _ in range(50)]
        assert all(cap / 2 <= d <= cap for d in delays), (attempt, min(delays), max(delays))
