"""The pages' shared frame (shared/pages/layout.py), exactly: the headers every page is sent with, the document
around a body, and the escaping helpers' edges. Written for the mutants `make mutate` left alive there."""

from __future__ import annotations

from shared.pages.layout import (
    CONTENT_SECURITY_POLICY,
    STYLESHEET,
    document,
    plain,
    security_headers,
    status_class,
    text,
)


def test_every_page_is_sent_with_these_headers_exactly() -> None:
    assert security_headers() == {
        "Content-Type": "text/html; charset=utf-8",
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Cross-Origin-Resource-Policy": "same-origin",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    }


def test_a_document_wraps_its_body_with_or_without_a_refresh() -> None:
    head = ('<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            '<meta name="referrer" content="no-referrer">')
    tail = (f"<title>T &amp; t</title><style>{STYLESHEET}</style></head>"
            "<body><main><p>a</p><p>b</p></main></body></html>")
    assert document(title="T &amp; t", body=["<p>a</p>", "<p>b</p>"]).decode() == head + tail
    assert document(title="T &amp; t", body=iter(["<p>a</p>", "<p>b</p>"]), refresh_seconds=0).decode() == head + tail
    refreshed = document(title="T &amp; t", body=["<p>a</p>", "<p>b</p>"], refresh_seconds=30).decode()
    assert refreshed == head + '<meta http-equiv="refresh" content="30">' + tail


def test_the_escaping_helpers_cut_mark_and_fill_in() -> None:
    assert plain(None) == "-" and plain("") == "-" and plain("", empty="none") == "none" and text(None) == "-"
    assert text("", empty="?") == "?"
    assert plain(0) == "0" and plain(False) == "False"  # falsy values are values
    assert plain("abcdef", limit=6) == "abcdef" and plain("abcdefg", limit=6) == "abcdef…"
    assert text("ab\u200bcd", limit=3) == "ab …"  # the invisible character becomes a space
    assert plain("a'b\"c") == "a&#x27;b&quot;c"
    assert text("x sig=abc y") != plain("x sig=abc y") and "abc" not in text("x sig=abc y")
    assert [status_class(s) for s in ("completed", "failed", "weird", "")] == ["s-completed", "s-failed", "s-unknown",
                                                                             "s-unknown"]
