"""Charts as SVG, drawn when the site is built: no chart library, no script needed to see them.

Every point of a run carries `data-r` (the run's index in runs.js) and `data-v` (its value as
shown), which the page's small script turns into a tooltip (run, value, `git testlog replay
<sha>`) and a link to the run's page. Colours come from CSS classes (site.css), so one chart
reads in light and dark mode alike. Numbers are written with fixed decimals: the same log
draws the same bytes.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from testlog.site.html import esc

WIDTH, HEIGHT = 860, 220
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 12, 28
STRIP_HEIGHT = 18
POINT_R = 2.6


class Point(NamedTuple):
    """One point (a tuple: a test page draws thousands)."""
    x: int                       # position along the run axis (0 .. count-1)
    y: float
    cls: str                     # CSS class: a status code (P F E S x X) or a series name
    run: int | None              # index into runs.js (None: not a run, e.g. a ledger line)
    value: str                   # what the tooltip shows


def nice_ticks(low: float, high: float, count: int = 4) -> list[float]:
    """Round tick values covering [low, high]."""
    if high <= low:
        high = low + 1.0
    raw = (high - low) / count
    step = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * step:
            step *= factor
            break
    value = math.floor(low / step) * step
    ticks = [round(value, 10)]
    while ticks[-1] < high - step * 1e-9:           # the last tick is at or above `high`
        value += step
        ticks.append(round(value, 10))
    return ticks


def _x_positions(count: int) -> Callable[[int], float]:
    span = WIDTH - LEFT - RIGHT
    if count <= 1:
        return lambda i: LEFT + span / 2
    return lambda i: LEFT + span * i / (count - 1)


@functools.lru_cache(maxsize=64)
def _x_texts(count: int) -> tuple[str, ...]:
    """Each run's x, formatted once (the test pages of one log mostly share a count)."""
    x_of = _x_positions(count)
    return tuple(f"{x_of(i):.1f}" for i in range(count))


def _axis_labels(labels: Sequence[str], count: int, x_of: Callable[[int], float],
                 y: float) -> list[str]:
    """Up to five labels under the run axis (dates of the runs there)."""
    if not labels or count == 0:
        return []
    picks = sorted({round(k * (count - 1) / 4) for k in range(5)}) if count > 1 else [0]
    last = picks[-1]

    def anchor(i: int) -> str:
        return "start" if i == 0 and count > 1 else "end" if i == last and count > 1 else "middle"
    return [f'<text class="axis" x="{x_of(i):.1f}" y="{y:.1f}" text-anchor="{anchor(i)}">'
            f'{esc(labels[i])}</text>' for i in picks if i < len(labels)]


@dataclass(frozen=True)
class Columns:
    """Points as columns, one entry a point (a test page draws thousands: no object each)."""
    xs: Sequence[int]            # positions along the run axis (0 .. count-1)
    ys: Sequence[float]
    classes: Sequence[str]       # CSS class: a status code (P F E S x X) or a series name
    runs: Sequence[int | None]   # index into runs.js (None: not a run, e.g. a ledger line)
    values: Sequence[str]        # what the tooltip shows


def points_chart(points: Sequence[Point], count: int, *, title: str, unit: str,
                 labels: Sequence[str] = (), low: float | None = 0.0,
                 high: float | None = None, lines: Sequence[str] = (),
                 y_format: str = "{:g}", css: str = "chart", escaped: bool = False) -> str:
    """A chart of one point per run along the x axis (runs in time order), with a polyline
    per class named in `lines` (a trend, "*": all points), y ticks and date labels."""
    return columns_chart(Columns([p.x for p in points], [p.y for p in points],
                                 [p.cls for p in points], [p.run for p in points],
                                 [p.value for p in points]), count, title=title, unit=unit,
                         labels=labels, low=low, high=high, lines=lines, y_format=y_format,
                         css=css, escaped=escaped)


def columns_chart(points: Columns, count: int, *, title: str, unit: str,
                  labels: Sequence[str] = (), low: float | None = 0.0,
                  high: float | None = None, lines: Sequence[str] = (),
                  y_format: str = "{:g}", css: str = "chart", escaped: bool = False) -> str:
    """points_chart of columns. `escaped`: the points' classes and values are the caller's
    own text, safe in HTML as they are (numbers, status words); otherwise each is escaped."""
    ys = points.ys
    lo = min(ys) if low is None and ys else (low or 0.0)
    hi = high if high is not None else (max(ys) if ys else 1.0)
    if hi <= lo:
        hi = lo + (abs(lo) or 1.0)
    ticks = nice_ticks(lo, hi)
    lo, hi = min(lo, ticks[0]), max(hi, ticks[-1])
    inner = HEIGHT - TOP - BOTTOM
    x_of = _x_positions(count)
    at = _x_texts(count)
    xs = [at[x] for x in points.xs]
    scale, base = inner / (hi - lo), TOP + inner
    ys_text = [f"{base - (v - lo) * scale:.1f}" for v in ys]
    out = [f'<svg class="{esc(css)}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
           f'aria-label="{esc(title)}" data-points="{len(ys)}" data-count="{count}" '
           f'data-x0="{LEFT}" data-x1="{WIDTH - RIGHT}"><title>{esc(title)}</title>']
    for tick in ticks:
        tick_y = base - (tick - lo) * scale
        out.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{tick_y:.1f}" '
                   f'y2="{tick_y:.1f}"/><text class="axis" x="{LEFT - 6}" y="{tick_y + 4:.1f}" '
                   f'text-anchor="end">{esc(y_format.format(tick))}{esc(unit)}</text>')
    out += _axis_labels(labels, count, x_of, HEIGHT - 8)
    classes = points.classes if escaped else [esc(c) for c in points.classes]
    values = points.values if escaped else [esc(v) for v in points.values]
    for cls in lines:
        trend = [k for k, c in enumerate(points.classes) if c == cls or cls == "*"]
        if len(trend) > 1:
            path = " ".join([f"{xs[k]},{ys_text[k]}" for k in trend])
            out.append(f'<polyline class="trend t-{esc(cls)}" points="{path}"/>')
    out.append('<g class="pts">')
    runs = ["" if r is None else f' data-r="{r}"' for r in points.runs]
    out += [f'<circle cx="{x}" cy="{y}" r="{POINT_R}" class="{c}"{r} data-v="{v}"/>'
            for x, y, c, r, v in zip(xs, ys_text, classes, runs, values)]
    out.append("</g></svg>")
    return "".join(out)


def strip(codes: Sequence[str], title: str) -> str:
    """An outcome strip: one cell a run, oldest first, coloured by its status code, each
    centred where the duration chart draws the same run's point. Cells of the same status
    side by side are drawn as one rectangle, one path per status (a strip of 3,000 runs that
    mostly passed is a few dozen bytes); hovering a cell shows its run, as that point (the
    page's script matches them by position)."""
    count = len(codes)
    x_of = _x_positions(count)
    width = (WIDTH - LEFT - RIGHT) / (count - 1) if count > 1 else float(WIDTH - LEFT - RIGHT)
    low, high = LEFT - POINT_R, WIDTH - RIGHT + POINT_R
    by_code: dict[str, list[str]] = {}
    first = 0
    for i in range(1, count + 1):
        if i < count and codes[i] == codes[first]:
            continue
        start = max(low, x_of(first) - width / 2)
        end = min(high, x_of(i - 1) + width / 2)
        cell = max(end - start, 0.6)
        by_code.setdefault(codes[first], []).append(f"M{start:.2f} 0h{cell:.2f}v{STRIP_HEIGHT}"
                                                    f"h-{cell:.2f}z")
        first = i
    paths = "".join(f'<path class="cell {esc(code)}" d="{"".join(parts)}"/>'
                    for code, parts in sorted(by_code.items()))
    return (f'<svg class="strip" viewBox="0 0 {WIDTH} {STRIP_HEIGHT}" preserveAspectRatio="none" '
            f'role="img" aria-label="{esc(title)}" data-cells="{count}" data-x0="{LEFT}" '
            f'data-x1="{WIDTH - RIGHT}"><title>{esc(title)}</title>{paths}</svg>')


def legend(items: Sequence[tuple[str, str]]) -> str:
    """(CSS class, label) swatches under a chart."""
    return '<p class="legend">' + "".join(
        f'<span class="key"><svg width="12" height="12"><circle cx="6" cy="6" r="5" '
        f'class="{esc(cls)}"/></svg>{esc(label)}</span>' for cls, label in items) + "</p>"
