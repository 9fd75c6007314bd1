"""The pages' pure parts: content negotiation, the list's filters, the timeline chart's bounds, escaping."""

from __future__ import annotations

import pytest

from shared.pages.layout import CONTENT_SECURITY_POLICY, STYLE_HASH, plain, text
from shared.reports.serve import ReportFormat, negotiate
from shared.reports.timeline_svg import MAX_POINTS, points, render_timeline_svg


@pytest.mark.parametrize(("accept", "chosen"), [
    (None, ReportFormat.JSON),
    ("*/*", ReportFormat.JSON),
    ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", ReportFormat.HTML),
    ("text/markdown", ReportFormat.MARKDOWN),
    ("text/html;q=0.5, text/markdown;q=0.9", ReportFormat.MARKDOWN),
    ("text/html;q=0", ReportFormat.JSON),
    ("image/png", ReportFormat.JSON),
    ("text/html;q=nonsense", ReportFormat.JSON),
    ("," * 5000, ReportFormat.JSON),
])
def test_the_accept_header_picks_the_form(accept: str | None, chosen: ReportFormat) -> None:
    assert negotiate(accept) is chosen


def test_the_chart_draws_only_readable_points_and_at_most_its_limit() -> None:
    timeline: list[object] = [
        {"polledAtUtc": f"2026-01-01T00:{i // 60:02d}:{i % 60:02d}Z", "progress": i % 150, "status": "running"}
        for i in range(2000)
    ]
    timeline += [{"polledAtUtc": "not a time", "progress": 5}, {"polledAtUtc": "2026-01-01T00:00:00Z",
                                                                   "progress": float("nan")}, "junk"]
    drawn = points(timeline)
    assert len(drawn) == MAX_POINTS
    assert all(0 <= point.progress <= 100 for point in drawn)
    svg = render_timeline_svg(timeline)
    assert svg.startswith("<svg") and 'role="img"' in svg and "style=" not in svg
    assert render_timeline_svg([]).startswith("<p")


def test_escaping_removes_markup_and_invisible_characters() -> None:
    assert plain('<b onclick="x">\u202eevil') == "&lt;b onclick=&quot;x&quot;&gt; evil"
    assert text("https://a/c?sv=1&sig=abc") == "https://a/c?sv=1&amp;sig=REDACTED"
    assert STYLE_HASH in CONTENT_SECURITY_POLICY and "'unsafe-inline'" not in CONTENT_SECURITY_POLICY


def test_the_link_to_older_jobs_is_the_sections_continuation_escaped() -> None:
    import datetime

    from shared.jobs import JobStatus
    from shared.status.html import render_status_page
    from shared.status.page import HubSection, JobRow, ReportLink, StatusSnapshot

    row = JobRow(job_id="j1", type="export", status=JobStatus.RUNNING, progress=10, started=None, ended=None,
                 start_text=None, end_text=None, stalled=False, stalled_since=None, report=ReportLink.NONE,
                 report_href=None, failure_reason=None)
    section = HubSection(hub="devhub", rows=[row], matched=4, list_href="jobs?hub=devhub",
                         older_href="status?hub=devhub&before=%7Cj1&code=k%26y")
    body = render_status_page(StatusSnapshot(generated_at=datetime.datetime(2026, 12, 1, tzinfo=datetime.UTC),
                                             days=7, hubs=[section]), refresh_seconds=60).decode()
    assert "(1 of 4)" in body
    assert 'href="status?hub=devhub&amp;before=%7Cj1&amp;code=k%26y" rel="next"' in body


def test_times_read_relative_with_the_exact_utc_time_in_their_text() -> None:
    import datetime

    from shared.pages.times import relative_text, time_html

    now = datetime.datetime(2026, 12, 8, 12, 0, tzinfo=datetime.UTC)
    ago = [relative_text(now - datetime.timedelta(seconds=s), now) for s in (2, 42, 150, 7200, 2 * 86400 + 5)]
    assert ago == ["just now", "42 s ago", "2 min ago", "2 h ago", "2 d ago"]
    assert relative_text(now + datetime.timedelta(minutes=5), now) == "in 5 min"
    assert relative_text(now - datetime.timedelta(days=9), now) == "29 Nov 2026"
    shown = time_html(now - datetime.timedelta(minutes=3), now)
    assert shown == "<time>3 min ago<i> (2026-12-08 11:57:00 UTC)</i></time>"
    # A time no parser takes is unknown (what the hub wrote there is not shown as a time); none at all is "-".
    assert time_html(None, now, raw="<b>soon</b>") == "unknown"
    assert time_html(None, now) == "-"


def test_a_one_point_timeline_is_a_labelled_marker() -> None:
    svg = render_timeline_svg([{"polledAtUtc": "2026-01-01T10:00:00Z", "progress": 40, "status": "running"}])
    assert 'r="7"' in svg and "polyline" not in svg
    assert ">running, 40 % at 10:00:00 UTC</text>" in svg
    two = render_timeline_svg([{"polledAtUtc": "2026-01-01T10:00:00Z", "progress": 40, "status": "running"},
                               {"polledAtUtc": "2026-01-01T10:05:00Z", "progress": 90, "status": "running"}])
    assert "polyline" in two and 'class="label"' not in two


def test_a_failure_report_without_an_errors_log_has_no_empty_rejected_lines_section() -> None:
    from shared.reports.html import render_html
    from shared.reports.markdown import render_markdown

    report = {"kind": "failure", "type": "import", "status": "failed", "jobId": "j1",
              "failureReason": {"code": "X", "number": 1, "text": "t", "raw": "r"}}
    assert "Rejected lines" not in render_html(report).decode()
    assert "Rejected lines" not in render_markdown(report)
    noted = {**report, "importErrorsNote": "importErrors.log was not found"}
    assert "Rejected lines" in render_html(noted).decode() and "Rejected lines" in render_markdown(noted)


@pytest.mark.parametrize(("accept", "chosen"), [
    ("text/markdown, text/html", ReportFormat.MARKDOWN),
    ("text/html, text/markdown", ReportFormat.HTML),
    ("text/markdown;q=0.8, application/json;q=0.8, text/html;q=0.8", ReportFormat.MARKDOWN),
    ("application/json;q=0.5, text/html;q=0.5", ReportFormat.JSON),
    ("image/png, text/html;q=0.7, text/markdown;q=0.7", ReportFormat.HTML),
])
def test_a_tie_in_accept_goes_to_the_first_type_named(accept: str, chosen: ReportFormat) -> None:
    assert negotiate(accept) is chosen


def _entry(second: int, progress: int) -> dict[str, object]:
    return {"polledAtUtc": f"2026-01-01T{second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}Z",
            "progress": progress, "status": "running"}


def test_the_chart_draws_its_points_in_time_order_whatever_the_order_stored() -> None:
    # Stored out of order (a timeline merged from two ticks' writes, or a hostile copy).
    timeline = [_entry(30, 60), _entry(10, 20), _entry(40, 80), _entry(0, 0), _entry(20, 40)]
    drawn = points(timeline)
    assert [point.progress for point in drawn] == [0, 20, 40, 60, 80]
    assert [point.at.second for point in drawn] == [0, 10, 20, 30, 40]
    svg = render_timeline_svg(timeline)
    line = svg.split('<polyline class="line" points="', 1)[1].split('"', 1)[0]
    xs = [float(pair.split(",")[0]) for pair in line.split()]
    assert xs == sorted(xs) and len(set(xs)) == 5  # the line runs left to right, one point per observation
    assert "from 2026-01-01 00:00:00 UTC at 0 % to 2026-01-01 00:00:40 UTC at 80 %" in svg  # first, then last


@pytest.mark.parametrize("count", [MAX_POINTS + 1, MAX_POINTS + 7, 2 * MAX_POINTS - 1, 5 * MAX_POINTS + 3])
def test_thinning_keeps_the_first_and_the_last_point(count: int) -> None:
    timeline = [_entry(second, second * 100 // (count - 1)) for second in range(count)]
    drawn = points(timeline)
    assert len(drawn) == MAX_POINTS
    assert (drawn[0].at.second, drawn[0].progress) == (0, 0)
    last = drawn[-1]
    assert (last.at.hour * 3600 + last.at.minute * 60 + last.at.second, last.progress) == (count - 1, 100)
    assert [point.at for point in drawn] == sorted({point.at for point in drawn})  # in order, none twice


@pytest.mark.parametrize(("accept", "chosen"), [
    ("," * 1016 + "text/html", ReportFormat.JSON),  # 1025 characters: only the first 1024 are read
    ("," * 1015 + "text/html", ReportFormat.HTML),  # 1024: read whole
    ("text/markdown;q=1, text/html", ReportFormat.MARKDOWN),  # no q is q=1: a tie, the first wins
    ("text/markdown;q=0.9=1", ReportFormat.JSON),  # not a number: not wanted
    ("text/markdown;q=0.5, application/json;q=0.4, text/html;q=0.3", ReportFormat.MARKDOWN),
])
def test_the_accept_header_is_read_to_its_limit_and_q_as_written(accept: str, chosen: ReportFormat) -> None:
    assert negotiate(accept) is chosen


def test_a_report_without_a_timeline_says_so_instead_of_an_empty_table() -> None:
    from shared.reports.markdown import render_markdown

    report = {"kind": "failure", "type": "export", "status": "failed", "jobId": "j1", "timeline": []}
    markdown = render_markdown(report)
    assert "No progress was recorded for this job." in markdown and "| # | Status |" not in markdown
    drawn = render_markdown({**report, "timeline": [{"seq": 1, "status": "failed", "progress": 0,
                                                      "polledAtUtc": "2026-01-01T00:00:00Z"}]})
    assert "| # | Status | Progress | Polled (UTC) |" in drawn and "No progress was recorded" not in drawn
