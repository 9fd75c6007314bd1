"""The skeleton every HTML page shares: escaping, one stylesheet allowed by its hash, and the security headers.

Every value on a page is untrusted (job fields are written by whoever may create jobs on a hub, report fields by
whoever wrote an import file): `text()` escapes it for an element or a quoted attribute, after redaction. Pages
load nothing: no script, no external style, font or image; the one `<style>` element is allowed by its SHA-256 in
the Content-Security-Policy (a hash, not a nonce: the CSS never changes, so neither does the policy), and the
inline SVG charts are styled by presentation attributes and classes, never `style=""` (which the policy forbids).
"""

from __future__ import annotations

import base64
import hashlib
import html
from collections.abc import Iterable

from shared.proxy.answers import HTML_CONTENT_TYPE
from shared.redaction import redact_text
from shared.text import visible

# A value longer than this is cut on a page (the JSON keeps it whole).
MAX_TEXT_CHARS = 2000
# The statuses the stylesheet colours (`.s-{status}`); any other is `.s-unknown`.
_STATUS_CLASSES = frozenset({"completed", "failed", "cancelled", "running", "enqueued", "queued", "scheduled"})

STYLESHEET = """
:root{color-scheme:light dark;--fg:#1b1f24;--bg:#fff;--muted:#57606a;--line:#d0d7de;--ok:#1a7f37;--bad:#cf222e;
--warn:#9a6700;--run:#0969da;--head:#f6f8fa}
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--bg:#0d1117;--muted:#9198a1;--line:#30363d;--ok:#3fb950;
--bad:#f85149;--warn:#d29922;--run:#4493f8;--head:#161b22}}
*{box-sizing:border-box}
body{margin:0;padding:1rem;font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);
background:var(--bg)}
main{max-width:90rem;margin:0 auto}
h1{font-size:1.5rem;margin:.2rem 0 1rem}
h2{font-size:1.2rem;margin:1.6rem 0 .6rem}
p.meta,.muted{color:var(--muted);font-size:.9rem}
a{color:var(--run)}
a:focus,button:focus{outline:3px solid var(--run);outline-offset:2px}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch;border:1px solid var(--line);border-radius:6px}
table{border-collapse:collapse;width:100%;font-size:.92rem}
caption{text-align:left;font-weight:600;padding:.5rem .6rem;caption-side:top}
th,td{padding:.45rem .6rem;border-top:1px solid var(--line);text-align:left;vertical-align:top}
thead th{background:var(--head);white-space:nowrap}
th[scope=row]{white-space:nowrap;width:1%;background:var(--head)}
td.id,td.mono,td.code,td.jobid{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.85rem}
td.id,td.mono{word-break:break-all}
td.code,td.jobid,td.when{white-space:nowrap}
.status{font-weight:600;white-space:nowrap}
.s-completed{color:var(--ok)}.s-failed,.s-cancelled{color:var(--bad)}.s-running{color:var(--run)}
.s-enqueued,.s-queued,.s-scheduled,.s-unknown{color:var(--muted)}
.stall{color:var(--warn);font-weight:600;white-space:nowrap}
progress{width:5rem;height:.9rem;vertical-align:middle}
td.progress{white-space:nowrap}
.reason,.ended{display:block}
.reason{min-width:14rem;max-width:24rem;overflow-wrap:anywhere}
.pct{font-variant-numeric:tabular-nums;margin-left:.3rem}
.hubs{display:flex;flex-wrap:wrap;gap:.4rem 1rem;padding:0;list-style:none}
.chart{max-width:40rem;width:100%;height:auto}
.chart .axis{stroke:var(--muted);stroke-width:1}
.chart .grid{stroke:var(--line);stroke-width:1}
.chart .line{fill:none;stroke:var(--run);stroke-width:2.5}
.chart .dot{fill:var(--run)}
.chart .dot.end-failed,.chart .dot.end-cancelled{fill:var(--bad)}
.chart .dot.end-completed{fill:var(--ok)}
.chart text{fill:var(--muted);font-size:11px}
.chart .guide{stroke-dasharray:4 3}.chart text.label{fill:var(--fg);font-size:13px;font-weight:600}
.sr,time i{position:absolute;width:1px;height:1px;padding:0;margin:-1px;overflow:hidden;clip:rect(0,0,0,0);
white-space:nowrap;border:0}
time{position:relative}time i{font-style:normal}
time:hover i{width:auto;height:auto;margin:0;clip:auto;overflow:visible;left:0;top:1.3em;z-index:1;
padding:.1rem .35rem;background:var(--head);color:var(--fg);border:1px solid var(--line);border-radius:4px}
table.jobs{table-layout:fixed}
table.jobs td:first-child{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.85rem;
overflow-wrap:anywhere}
table.jobs td:nth-child(3) b{font-weight:600;white-space:nowrap}
table.jobs td:nth-child(4),table.jobs td:nth-child(5){white-space:nowrap}
table.jobs td:nth-child(5) small{display:block;color:var(--muted);font-size:.9em}
table.jobs th:nth-child(1){width:22%}table.jobs th:nth-child(2){width:8%}table.jobs th:nth-child(3){width:22%}
table.jobs th:nth-child(4){width:11%}table.jobs th:nth-child(5){width:14%}table.jobs th:nth-child(6){width:8%}
table.jobs th:nth-child(7){width:9%}table.jobs th:nth-child(8){width:6%}
table.jobs td:nth-child(3) small,table.jobs td:nth-child(3) details{display:block;color:var(--muted);
font-size:.9rem;min-width:14rem;max-width:24rem;overflow-wrap:anywhere}
table.jobs summary{cursor:pointer}table.jobs details[open] summary{margin-bottom:.2rem}
.filters{display:flex;flex-wrap:wrap;gap:.3rem 1.2rem;margin:.4rem 0 1rem;font-size:.9rem}
.filters ul{display:inline;padding:0;margin:0;list-style:none}.filters li{display:inline;margin-right:.5rem}
.filters [aria-current]{font-weight:700;color:var(--fg);text-decoration:none}
.pager{display:flex;gap:1.5rem;margin:.5rem 0}
pre.json{overflow-x:auto;padding:.6rem;border:1px solid var(--line);border-radius:6px;background:var(--head);
font:.82rem/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;white-space:pre-wrap;overflow-wrap:anywhere}
@media (max-width:40rem){body{padding:.5rem;font-size:15px}th,td{padding:.35rem .4rem}table.jobs{table-layout:auto}
table.jobs td:nth-child(2),table.jobs th:nth-child(2),table.jobs td:nth-child(5) small{display:none}
table.jobs td:first-child{min-width:6rem;max-width:8rem}
.hide-narrow{display:none}progress{width:4.5rem}
td.jobid{white-space:normal;word-break:break-all;min-width:6rem;max-width:8rem}.reason{min-width:9rem}}
""".strip()

STYLE_HASH = "sha256-" + base64.b64encode(hashlib.sha256(STYLESHEET.encode()).digest()).decode()
CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; style-src '{STYLE_HASH}'; img-src 'none'; script-src 'none'; connect-src 'none'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def security_headers() -> dict[str, str]:
    """What every page is sent with: nothing loads, nothing frames it, no Referer leaves it, no MIME sniffing."""
    return {
        "Content-Type": HTML_CONTENT_TYPE,
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Cross-Origin-Resource-Policy": "same-origin",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    }


def text(value: object, *, empty: str = "-", limit: int = MAX_TEXT_CHARS) -> str:
    """`value` as text safe in an element and in a quoted attribute: redacted, invisible characters (bidi
    overrides, zero-width, controls, line breaks) made spaces, cut at `limit`, HTML-escaped."""
    if value is None or value == "":
        return empty
    return plain(redact_text(str(value)), empty=empty, limit=limit)


def plain(value: object, *, empty: str = "-", limit: int = MAX_TEXT_CHARS) -> str:
    """As `text`, without the redaction pass: for values of a document redacted already (a job list's fields)."""
    if value is None or value == "":
        return empty
    raw = str(value)
    if len(raw) > limit:
        raw = raw[:limit] + "…"
    return html.escape(visible(raw), quote=True)


def status_class(status: str) -> str:
    """The CSS class of a job status (the status comes from the hub: anything unknown is `s-unknown`)."""
    return f"s-{status}" if status in _STATUS_CLASSES else "s-unknown"


def document(*, title: str, body: Iterable[str], refresh_seconds: int | None = None) -> bytes:
    """A whole page: `title` and `body` are already escaped HTML."""
    refresh = f'<meta http-equiv="refresh" content="{int(refresh_seconds)}">' if refresh_seconds else ""
    head = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="referrer" content="no-referrer">{refresh}<title>{title}</title>'
        f"<style>{STYLESHEET}</style></head><body><main>"
    )
    return (head + "".join(body) + "</main></body></html>").encode()
