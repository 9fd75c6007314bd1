"""A report's timeline as a small inline SVG chart: progress (0-100 %) over the time the poller saw it.

Drawn from the stored report's `timeline` (what the poller observed, one entry per status/progress change), with
the standard library only. Every entry is untrusted: a point needs a readable time and a whole-number progress
(clamped to 0-100), anything else is left out, and at most MAX_POINTS points are drawn. Styled by classes (the
page's stylesheet) and presentation attributes: no `style=""`, which the page's Content-Security-Policy forbids.
The chart is an image for screen readers (role="img", a title and a description); the table beside it says the
same in full.
"""

from __future__ import annotations

import datetime
import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from shared.clock import parse_utc

WIDTH, HEIGHT = 600, 220
LEFT, RIGHT, TOP, BOTTOM = 48, 16, 14, 34  # margins for the axes' labels
MAX_POINTS = 500
_STATUS_CLASSES = frozenset({"completed", "failed", "cancelled"})


@dataclass(frozen=True)
class Point:
    at: datetime.datetime
    progress: int
    status: str


def points(timeline: object) -> list[Point]:
    """The drawable entries, in time order (at most MAX_POINTS, evenly thinned, the last one always kept)."""
    found: list[Point] = []
    for entry in timeline if isinstance(timeline, list) else []:
        if not isinstance(entry, Mapping):
            continue
        at = parse_utc(entry.get("polledAtUtc"))
        progress = entry.get("progress")
        if at is None or isinstance(progress, bool) or not isinstance(progress, (int, float)):
            continue
        if progress != progress:  # NaN
            continue
        status = entry.get("status")
        found.append(Point(at=at, progress=int(min(100, max(0, progress))),
                           status=status.lower() if isinstance(status, str) else ""))
    found.sort(key=lambda point: point.at)
    if len(found) > MAX_POINTS:
        step = len(found) / (MAX_POINTS - 1)
        found = [found[int(i * step)] for i in range(MAX_POINTS - 1)] + [found[-1]]
    return found


def _clock(moment: datetime.datetime) -> str:
    return moment.strftime("%H:%M:%S")


def render_timeline_svg(timeline: object, *, chart_id: str = "timeline") -> str:
    """The chart as an `<svg>` element, or a sentence when there is nothing to draw."""
    drawn = points(timeline)
    if not drawn:
        return '<p class="muted">No progress was recorded for this job.</p>'
    start, end = drawn[0].at, drawn[-1].at
    span = max((end - start).total_seconds(), 1.0)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(point: Point) -> float:
        return LEFT + plot_w * ((point.at - start).total_seconds() / span if len(drawn) > 1 else 0.5)

    def y(progress: int) -> float:
        return TOP + plot_h * (1 - progress / 100)

    title_id, desc_id = f"{chart_id}-title", f"{chart_id}-desc"
    first, last = drawn[0], drawn[-1]
    description = (f"{len(drawn)} observations from {first.at.strftime('%Y-%m-%d %H:%M:%S')} UTC at {first.progress} % "
                   f"to {last.at.strftime('%Y-%m-%d %H:%M:%S')} UTC at {last.progress} % ({last.status or 'unknown'}).")
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" '
        f'aria-labelledby="{title_id} {desc_id}" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{title_id}">Progress over time</title><desc id="{desc_id}">{html.escape(description)}</desc>',
    ]
    for level in (0, 50, 100):
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(level):.1f}" y2="{y(level):.1f}"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y(level) + 4:.1f}" text-anchor="end">{level} %</text>')
    parts.append(f'<line class="axis" x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{TOP + plot_h}"/>')
    parts.append(f'<text x="{LEFT}" y="{HEIGHT - 10}" text-anchor="start">{_clock(start)}</text>')
    if len(drawn) > 1:
        parts.append(f'<text x="{WIDTH - RIGHT}" y="{HEIGHT - 10}" text-anchor="end">{_clock(end)} UTC</text>')
        coordinates = " ".join(f"{x(point):.1f},{y(point.progress):.1f}" for point in drawn)
        parts.append(f'<polyline class="line" points="{coordinates}"/>')
    else:
        # One observation: a marker, a guide to its level and its label, not a lone dot in an empty chart.
        at_x, at_y = x(first), y(first.progress)
        parts.append(f'<line class="grid guide" x1="{LEFT}" x2="{at_x:.1f}" y1="{at_y:.1f}" y2="{at_y:.1f}"/>')
        label = f"{first.status or 'unknown'}, {first.progress} % at {_clock(first.at)} UTC"
        anchor = "start" if at_x < WIDTH / 2 else "end"
        parts.append(f'<text class="label" x="{at_x + (10 if anchor == "start" else -10):.1f}" '
                     f'y="{max(TOP + 12, at_y - 10):.1f}" text-anchor="{anchor}">{html.escape(label)}</text>')
    radius = 3.5 if len(drawn) > 1 else 7
    for point in drawn:
        ending = f" end-{point.status}" if point.status in _STATUS_CLASSES else ""
        parts.append(f'<circle class="dot{ending}" cx="{x(point):.1f}" cy="{y(point.progress):.1f}" r="{radius}"/>')
    parts.append("</svg>")
    return "".join(parts)


def timeline_rows(timeline: object) -> Sequence[Mapping[str, object]]:
    return [entry for entry in timeline if isinstance(entry, Mapping)] if isinstance(timeline, list) else []
