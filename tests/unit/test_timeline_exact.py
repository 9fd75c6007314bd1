"""The timeline chart, exactly: its geometry (a 600 x 220 box, margins 48/16/14/34, so a plot 536 wide and 172
high), labels, classes and what it tells a screen reader, for one point and for several. Written for the
mutants `make mutate` left alive in shared/reports/timeline_svg.py: each figure below is worked out by hand."""

from __future__ import annotations

from shared.reports.timeline_svg import MAX_POINTS, Point, points, render_timeline_svg, timeline_rows

GRID = ('<line class="grid" x1="48" x2="584" y1="186.0" y2="186.0"/>'
        '<text x="42" y="190.0" text-anchor="end">0 %</text>'
        '<line class="grid" x1="48" x2="584" y1="100.0" y2="100.0"/>'
        '<text x="42" y="104.0" text-anchor="end">50 %</text>'
        '<line class="grid" x1="48" x2="584" y1="14.0" y2="14.0"/>'
        '<text x="42" y="18.0" text-anchor="end">100 %</text>'
        '<line class="axis" x1="48" x2="48" y1="14" y2="186"/>')


def _head(chart_id: str, description: str) -> str:
    return (f'<svg class="chart" viewBox="0 0 600 220" width="600" height="220" role="img" '
            f'aria-labelledby="{chart_id}-title {chart_id}-desc" xmlns="http://www.w3.org/2000/svg">'
            f'<title id="{chart_id}-title">Progress over time</title><desc id="{chart_id}-desc">{description}</desc>')


def test_three_points_are_drawn_where_their_time_and_progress_put_them() -> None:
    timeline = [
        {"polledAtUtc": "2026-01-01T10:00:00Z", "progress": 0, "status": "Queued"},
        {"polledAtUtc": "2026-01-01T10:00:30Z", "progress": 50.7, "status": "running"},  # 30 of 100 s: x 208.8
        {"polledAtUtc": "2026-01-01T10:01:40Z", "progress": 100, "status": "completed"},
    ]
    expected = (
        _head("c1", "3 observations from 2026-01-01 10:00:00 UTC at 0 % to 2026-01-01 10:01:40 UTC at 100 % "
                    "(completed).")
        + GRID
        + '<text x="48" y="210" text-anchor="start">10:00:00</text>'
        + '<text x="584" y="210" text-anchor="end">10:01:40 UTC</text>'
        + '<polyline class="line" points="48.0,186.0 208.8,100.0 584.0,14.0"/>'
        + '<circle class="dot" cx="48.0" cy="186.0" r="3.5"/><circle class="dot" cx="208.8" cy="100.0" r="3.5"/>'
        + '<circle class="dot end-completed" cx="584.0" cy="14.0" r="3.5"/></svg>'
    )
    assert render_timeline_svg(timeline, chart_id="c1") == expected
    assert [(p.progress, p.status) for p in points(timeline)] == [(0, "queued"), (50, "running"), (100, "completed")]


def test_one_point_is_a_labelled_marker_in_the_middle_with_a_guide_to_its_level_and_no_line() -> None:
    """One observation is a marker (r 7) in the middle of the plot (x 48 + 536 / 2 = 316), a dashed guide from the
    axis to its level and a label saying what it is; no line and no end time (there is no span)."""
    timeline = [{"polledAtUtc": "2026-01-01T10:00:00Z", "progress": 150, "status": "failed"}]  # clamped to 100
    expected = (
        _head("timeline", "1 observations from 2026-01-01 10:00:00 UTC at 100 % to 2026-01-01 10:00:00 UTC at 100 % "
                          "(failed).")
        + GRID
        + '<text x="48" y="210" text-anchor="start">10:00:00</text>'
        + '<line class="grid guide" x1="48" x2="316.0" y1="14.0" y2="14.0"/>'
        # At the top (y 14), the label is kept inside the plot: y max(14 + 12, 14 - 10) = 26; right of the middle,
        # it ends 10 left of the marker.
        + '<text class="label" x="306.0" y="26.0" text-anchor="end">failed, 100 % at 10:00:00 UTC</text>'
        + '<circle class="dot end-failed" cx="316.0" cy="14.0" r="7"/></svg>'
    )
    assert render_timeline_svg(timeline) == expected


def test_a_lone_points_label_sits_above_its_marker_and_escapes_the_status() -> None:
    """The status is the hub's text: escaped in the label and the description. At 0 % (y 186) the label sits 10
    above the marker (y 176); a status the stylesheet does not know gives a plain dot."""
    timeline = [{"polledAtUtc": "2026-01-01T10:00:00Z", "progress": 0, "status": "<b>X</b>"}]
    svg = render_timeline_svg(timeline, chart_id="c2")
    assert svg.startswith(_head("c2", "1 observations from 2026-01-01 10:00:00 UTC at 0 % to 2026-01-01 10:00:00 UTC "
                                      "at 0 % (&lt;b&gt;x&lt;/b&gt;)."))
    assert svg.endswith(
        '<line class="grid guide" x1="48" x2="316.0" y1="186.0" y2="186.0"/>'
        '<text class="label" x="306.0" y="176.0" text-anchor="end">&lt;b&gt;x&lt;/b&gt;, 0 % at 10:00:00 UTC</text>'
        '<circle class="dot" cx="316.0" cy="186.0" r="7"/></svg>')
    assert "<b>" not in svg and "polyline" not in svg


def test_unreadable_entries_are_left_out_and_an_unknown_status_is_said_so() -> None:
    timeline: list[object] = [
        "junk", 7, {"polledAtUtc": "2026-01-01T10:00:00Z", "progress": True},  # a bool is not a progress
        {"polledAtUtc": "2026-01-01T10:00:00Z", "progress": "50"}, {"progress": 5},
        {"polledAtUtc": "2026-01-01T10:00:00Z", "progress": -20, "status": 42},  # clamped to 0, no status
        {"polledAtUtc": "2026-01-01T10:00:02Z", "progress": 10, "status": "Cancelled"},
    ]
    drawn = points(timeline)
    assert [(p.at.second, p.progress, p.status) for p in drawn] == [(0, 0, ""), (2, 10, "cancelled")]
    svg = render_timeline_svg(timeline)
    assert '<circle class="dot" cx="48.0" cy="186.0" r="3.5"/>' in svg
    assert '<circle class="dot end-cancelled" cx="584.0" cy="168.8" r="3.5"/>' in svg  # 10 %: 14 + 172 * 0.9
    assert render_timeline_svg([{"polledAtUtc": "2026-01-01T10:00:00Z", "progress": 5, "status": 1}]).count(
        "(unknown).") == 1
    assert render_timeline_svg("not a list") == '<p class="muted">No progress was recorded for this job.</p>'
    assert points({"polledAtUtc": "2026-01-01T10:00:00Z", "progress": 5}) == []


def test_the_table_beside_the_chart_keeps_every_object_entry() -> None:
    entry = {"polledAtUtc": "x"}
    assert timeline_rows([1, entry, "x", entry]) == [entry, entry]
    assert timeline_rows({"a": entry}) == []


def test_two_points_a_second_apart_span_the_plot_with_a_line() -> None:
    timeline = [{"polledAtUtc": "2026-01-01T10:00:00Z", "progress": 10},
                {"polledAtUtc": "2026-01-01T10:00:01Z", "progress": 20}]
    svg = render_timeline_svg(timeline)
    assert '<polyline class="line" points="48.0,168.8 584.0,151.6"/>' in svg  # 20 %: 14 + 172 * 0.8 = 151.6
    assert '<text x="584" y="210" text-anchor="end">10:00:01 UTC</text>' in svg


def test_what_is_not_a_list_draws_nothing_and_a_nan_skips_only_itself() -> None:
    for value in (None, 5, 2.5):
        assert points(value) == [] and timeline_rows(value) == []
    timeline = [{"polledAtUtc": "2026-01-01T10:00:00Z", "progress": float("nan")},
                {"polledAtUtc": "2026-01-01T10:00:01Z", "progress": 20}]
    assert [p.progress for p in points(timeline)] == [20]


def test_exactly_max_points_are_all_kept_and_more_are_thinned_evenly() -> None:
    def entries(count: int) -> list[dict[str, object]]:
        return [{"polledAtUtc": f"2026-01-01T{n // 3600:02d}:{n // 60 % 60:02d}:{n % 60:02d}Z", "progress": 1}
                for n in range(count)]

    def seconds(drawn: list[Point]) -> list[int]:
        return [p.at.hour * 3600 + p.at.minute * 60 + p.at.second for p in drawn]

    assert seconds(points(entries(MAX_POINTS))) == list(range(MAX_POINTS))
    count = 5 * MAX_POINTS + 3
    step = count / (MAX_POINTS - 1)
    assert seconds(points(entries(count))) == [int(i * step) for i in range(MAX_POINTS - 1)] + [count - 1]
