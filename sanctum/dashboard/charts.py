"""Per-day counts and the geometry of a server-rendered SVG bar chart.

The SVG itself is `templates/macros/charts.html`; colours come from CSS classes
(`chart-series-N`) whose values follow the light or dark theme.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import func, select

from sanctum.database import day_of
from sanctum.extensions import db

Series = dict[str, list[tuple[date, int]]]


def count_per_day(column, since: date, until: date, *where) -> list[tuple[date, int]]:
    """How many rows per UTC day of `column` in [since, until], zero days included. One query."""
    day = day_of(column).label("day")
    start = datetime.combine(since, time.min, tzinfo=timezone.utc)
    end = datetime.combine(until + timedelta(days=1), time.min, tzinfo=timezone.utc)
    rows = db.session.execute(select(day, func.count()).where(column >= start, column < end, *where).group_by(day))
    counted = {_as_date(d): n for d, n in rows}
    return [(since + timedelta(days=i), counted.get(since + timedelta(days=i), 0))
            for i in range((until - since).days + 1)]


def _as_date(value) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    series: int
    name: str
    day: date
    value: int


@dataclass
class BarChart:
    width: int
    height: int
    plot_left: float
    plot_right: float
    plot_bottom: float
    bars: list[Bar] = field(default_factory=list)
    y_ticks: list[tuple[float, str]] = field(default_factory=list)
    x_labels: list[tuple[float, str]] = field(default_factory=list)
    legend: list[tuple[int, str, int]] = field(default_factory=list)  # (series index, name, total)
    days: list[date] = field(default_factory=list)
    table: list[tuple[date, list[int]]] = field(default_factory=list)  # the same data, for screen readers

    @property
    def total(self) -> int:
        return sum(total for _, _, total in self.legend)


def bar_chart(series: Series, *, width: int = 720, height: int = 190) -> BarChart:
    """Stacked bars, one per day; series keep their order (and so their colours)."""
    left, right, top, bottom = 40.0, 8.0, 10.0, 24.0
    names = list(series)
    days = [d for d, _ in series[names[0]]] if names else []
    values = {name: dict(points) for name, points in series.items()}
    totals = [sum(values[name].get(d, 0) for name in names) for d in days]
    ceiling = nice_ceiling(max(totals, default=0))
    chart = BarChart(width, height, left, width - right, height - bottom, days=days)
    chart.legend = [(i, name, sum(values[name].values())) for i, name in enumerate(names)]
    chart.table = [(d, [values[name].get(d, 0) for name in names]) for d in days]
    plot_h = height - top - bottom
    for tick in (0, ceiling / 2, ceiling):
        if tick != int(tick):
            continue  # counts are whole numbers: no "2.5" on the axis
        chart.y_ticks.append((height - bottom - plot_h * tick / ceiling, _short(tick)))
    if not days:
        return chart
    slot = (width - left - right) / len(days)
    gap = min(4.0, slot * 0.25)
    for i, day in enumerate(days):
        x, base = left + i * slot + gap / 2, height - bottom
        for s, name in enumerate(names):
            value = values[name].get(day, 0)
            if value <= 0:
                continue
            h = plot_h * value / ceiling
            base -= h
            chart.bars.append(Bar(round(x, 2), round(base, 2), round(slot - gap, 2), round(h, 2), s, name, day, value))
        if i % 7 == (len(days) - 1) % 7:  # label every seventh day, ending on the last
            chart.x_labels.append((round(x + (slot - gap) / 2, 2), day.strftime("%b %-d")))
    return chart


def nice_ceiling(value: float) -> float:
    """The next 1, 2 or 5 × 10ⁿ at or above `value` (at least 2): round numbers on the axis."""
    if value <= 2:
        return 2
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power


def _short(value: float) -> str:
    if value >= 1_000_000:
        return f"{value / 1_000_000:g}M"
    if value >= 1000:
        return f"{value / 1000:g}k"
    return f"{value:g}"
