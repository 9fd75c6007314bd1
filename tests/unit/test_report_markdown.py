"""The reports' Markdown is inert: hostile text from any field of a job or any line of its errors log renders,
in two real renderers that let raw HTML through, as the same text and never as markup (no tag, link, image,
autolink, emphasis, code, heading, extra table cell or line)."""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Callable
from typing import Any

import cmarkgfm
import pytest
from cmarkgfm.cmark import Options
from markdown_it import MarkdownIt

from shared.reports.import_errors import summarize_chunks
from shared.reports.markdown import md_text, render_markdown
from shared.reports.report import build_report
from tests.support.secrets import Secrets, planted

KEY = planted("markdown device key")
HOSTILE = [
    "<img src=x onerror=alert(1)>",
    "[click](javascript:alert(1))",
    "![pixel](https://evil.example/p.png)",
    "<script>alert(1)</script>",
    "&lt;b&gt;entity&#60;",
    "https://evil.example/phish now",
    "www.evil.example",
    "see evil.example today",
    "ops@evil.example",
    "mailto:ops@evil.example",
    "**bold** _em_ ~~gone~~ `code` $x^2$",
    "cell | breaker || more",
    "line\nbreak\r\nthird\u2028fourth\u0085fifth",
    "# heading",
    "<https://evil.example/auto>",
    "\u202eevil\u202c bidi",
    "back\\slash \\| and \\[x](y)",
    "a & b &c &amp; &#60;x&#x3c; ?sv=1&se=x",
    "evil.io evil.com/x sub.evil.co.uk www.evil.example",
    "snake_case _em_ __strong__ a_ _b",
]
GUARD = "zqzqz"  # marks where a hostile value sits, to find it again in the rendered text


def _renderers() -> dict[str, Callable[[str], str]]:
    linkified = MarkdownIt("gfm-like", {"html": True, "linkify": True})
    return {
        "cmark-gfm": lambda text: cmarkgfm.github_flavored_markdown_to_html(text, options=Options.CMARK_OPT_UNSAFE),
        "markdown-it": linkified.render,
    }


def _report(value: str) -> dict[str, Any]:
    """A report whose every untrusted field (job fields and log lines) carries `value`."""
    echoed = json.dumps({"id": value, "authentication": {"symmetricKey": {"primaryKey": KEY}}})
    log = "".join(json.dumps(line) + "\n" for line in (
        {"errorCode": 409001, "errorStatus": f"Device {value} already exists. Line: {echoed}"},
        {"deviceId": value, "errorCode": value, "errorStatus": value},
        {"errorCode": 404001, "errorStatus": value},
    )).encode()
    job = {
        "jobId": value, "type": "import", "status": "failed", "progress": value,
        "startTimeUtc": value, "endTimeUtc": value, "storageAuthenticationType": value,
        "outputBlobContainerUri": value, "failureReason": f"ErrorCode:{value};{value}",
    }
    report = build_report(job, hub=value, timeline=[], import_errors=summarize_chunks([log]),
                          import_errors_note=value, generated_at=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
                          monitor_note=value)
    document = report.to_json()
    document["timeline"] = [{"seq": value, "status": value, "progress": value, "polledAtUtc": value}]
    document["hint"] = {"key": value, "text": value}
    document["title"] = value
    document["failureReason"]["code"] = value
    document["failureReason"]["family"] = value
    document["importErrors"]["firstEntries"][0]["problem"] = value
    return document


def _structure(html: str) -> list[str]:
    """The tags of a rendering, in order: what markup the text produced."""
    return re.findall(r"</?([a-zA-Z][a-zA-Z0-9]*)", html)


@pytest.mark.parametrize("hostile", HOSTILE)
@pytest.mark.parametrize("renderer", sorted(_renderers()))
def test_hostile_text_in_every_field_renders_as_text(hostile: str, renderer: str) -> None:
    render = _renderers()[renderer]
    benign = render_markdown(_report(GUARD))
    markdown = render_markdown(_report(f"{GUARD}{hostile}{GUARD}"))
    # The raw .md: no tag or raw ampersand, and no line break of its own.
    assert "<" not in markdown and ">" not in markdown
    # A raw `&` only where it starts no character reference (`?sv=1&sig=x` reads as written).
    assert re.findall(r"&(?=#?[A-Za-z0-9]+;)(?!amp;|lt;|gt;|#8203;)", markdown) == []
    assert len(markdown.splitlines()) == len(benign.splitlines())
    # Rendered: exactly the markup of a benign report (same headings, tables, cells, emphasis), nothing more.
    html, benign_html = render(markdown), render(benign)
    assert _structure(html) == _structure(benign_html)
    assert "javascript:" not in html.split(GUARD)[0] and "href" not in html and "src=" not in html.replace(
        "src=x", "")  # the text "src=x" may show; an attribute never
    # ...and the hostile text is still there for a reader, as text.
    shown = _text_of(html)
    visible = " ".join(hostile.replace("\u2028", " ").replace("\u0085", " ").replace("\u202e", " ")
                       .replace("\u202c", " ").split())
    assert visible in " ".join(shown.split())


def _text_of(html: str) -> str:
    import html as html_module

    text = re.sub(r"<[^>]+>", " ", html)
    return html_module.unescape(text).replace("\u200b", "")


def test_keys_in_echoed_lines_never_reach_either_form() -> None:
    secrets = Secrets()
    secrets.add("device key", KEY)
    document = _report("device-1")
    secrets.assert_absent(json.dumps(document), "the report's JSON")
    secrets.assert_absent(render_markdown(document), "the report's Markdown")


def test_json_keeps_the_raw_values_the_markdown_escapes() -> None:
    value = "<img src=x onerror=alert(1)>"
    document = _report(value)
    assert document["jobId"] == value
    assert document["importErrors"]["firstEntries"][1]["deviceId"] == value
    assert value not in render_markdown(document)


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("device-001", "device-001"),
        ("a|b", "a\\|b"),
        ("<b>&", "&lt;b&gt;&"),  # a bare `&` starts no character reference: left as written
        ("&lt;&#60;", "&amp;lt;&amp;\\#60;"),
        ("[x](y)", "\\[x\\](y)"),
        ("https://h.example/c", "https\\://h.example/c"),
        ("www.h.example", "www\\.h.example"),
        ("see h.io/x or h.com", "see h\\.io/x or h\\.com"),
        ("devices.txt", "devices.txt"),
        ("dev_1 _x_ __y__", "dev_1 \\_x\\_ \\_\\_y\\_\\_"),
        ("?sv=1&sig=REDACTED", "?sv=1&sig=REDACTED"),
        ("a@b", "a@&#8203;b"),
        ("2026-01-01T00:00:00.123Z", "2026-01-01T00:00:00.123Z"),
        (None, "-"),
    ],
)
def test_md_text_examples(raw: str | None, escaped: str) -> None:
    assert md_text(raw) == escaped
