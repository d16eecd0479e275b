"""The charts of run history, as Vega-Lite specs (rendered to SVG by :mod:`closesync.web.svg`).

Two charts: one dataset's duration and rows per run over time, with failures in red, and runs per day
by status across datasets. Colours are the app's own (app.css); times are UTC, as everywhere in the app.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from markupsafe import Markup

from closesync.datacenter import Run, RunDay
from closesync.web.svg import render_svg

SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"
WIDTH = 1020  # the card's inner width on a wide screen; CSS scales the SVG down on narrow ones
STATUS_COLOURS = {"success": "#17803d", "failed": "#c0262d", "running": "#1d5fbf"}
#: One run per dot: a run that failed is a red cross, so it stands out without colour too.
RUN_MARKS = {"success": ("#2f5bea", "circle"), "failed": ("#c0262d", "cross")}
CHART_RUNS = 200  # the dataset chart shows at most this many of the newest runs
DEFAULT_DAYS = 30  # the Runs page chart's span when no date range is chosen

CONFIG: dict[str, Any] = {
    "font": "sans-serif",
    "view": {"stroke": None},
    "axis": {"labelColor": "#5f6b7a", "titleColor": "#5f6b7a", "gridColor": "#eef0f4", "domainColor": "#c9d0da",
             "tickColor": "#c9d0da", "labelFontSize": 11, "titleFontSize": 11, "titleFontWeight": 600},
    "legend": {"labelColor": "#1d2330", "titleColor": "#5f6b7a", "labelFontSize": 12, "orient": "top"},
    "title": {"anchor": "start", "fontSize": 13, "fontWeight": 600, "color": "#1d2330", "offset": 8},
}


def _utc_x(span: timedelta) -> dict[str, Any]:
    """The start time axis. Vega's own labels mix hours and days; over days, label days (one a day up to
    six weeks, then Vega's choice of days with the year)."""
    axis: dict[str, Any] = {"labelOverlap": True, "grid": False}
    if timedelta(days=2) <= span <= timedelta(days=45):
        axis.update(format="%b %d", tickCount={"interval": "day", "step": 1})
    elif span > timedelta(days=45):
        axis.update(format="%b %d, %Y")
    return {"field": "started", "type": "temporal", "scale": {"type": "utc"}, "title": None, "axis": axis}


def _run_panel(field: str, title: str, axis_title: str, span: timedelta) -> dict[str, Any]:
    """One panel of the dataset chart: a faint line through the successful runs, a mark per run."""
    statuses = list(RUN_MARKS)
    y = {"field": field, "type": "quantitative", "title": axis_title, "axis": {"tickCount": 4}}
    return {
        "width": WIDTH,
        "height": 130,
        "title": title,
        "layer": [
            {  # the trend of the runs that worked; a failure is a cross off the line
                "transform": [{"filter": "datum.status === 'success'"}],
                "mark": {"type": "line", "color": "#b8c4e6", "strokeWidth": 1.5},
                "encoding": {"x": _utc_x(span), "y": y},
            },
            {
                "mark": {"type": "point", "filled": True, "size": 70, "opacity": 1},
                "encoding": {
                    "x": _utc_x(span),
                    "y": y,
                    "color": {"field": "status", "type": "nominal", "title": None,
                              "scale": {"domain": statuses, "range": [RUN_MARKS[s][0] for s in statuses]}},
                    "shape": {"field": "status", "type": "nominal", "title": None,
                              "scale": {"domain": statuses, "range": [RUN_MARKS[s][1] for s in statuses]}},
                },
            },
        ],
    }


def dataset_runs_spec(runs: Sequence[Run]) -> dict[str, Any] | None:
    """Duration and rows loaded per finished run, oldest to newest; None before the first finished run.

    A failed run loaded nothing (its table kept the rows it had), so it is drawn at 0 rows.
    """
    values = [
        {
            "run": r.id,
            "started": r.started_at.astimezone(UTC).isoformat(),
            "status": r.status,
            "duration": round(r.duration_s or 0.0, 3),
            "rows": r.rows if r.status == "success" else 0,
        }
        for r in sorted(runs, key=lambda r: r.id)
        if r.status in RUN_MARKS
    ]
    if not values:
        return None
    starts = [r.started_at for r in runs if r.status in RUN_MARKS]
    span = max(starts) - min(starts)
    return {
        "$schema": SCHEMA,
        "config": CONFIG,
        "data": {"values": values},
        "vconcat": [
            _run_panel("duration", "Duration per run", "seconds", span),
            _run_panel("rows", "Rows loaded per run", "rows", span),
        ],
        "resolve": {"scale": {"x": "shared"}},
    }


def chart_span(since: date | None, until: date | None, today: date) -> tuple[date, date]:
    """The days the runs-per-day chart covers: the chosen range, else the last DEFAULT_DAYS days."""
    last = until or today
    first = since or last - timedelta(days=DEFAULT_DAYS - 1)
    return first, max(first, last)


def _ms(day: date) -> int:
    return int(datetime.combine(day, time(), UTC).timestamp() * 1000)


def runs_per_day_spec(days: Sequence[RunDay], first: date, last: date, title: str) -> dict[str, Any]:
    """Stacked bars: how many runs started each UTC day from `first` to `last`, by status."""
    statuses = list(STATUS_COLOURS)
    return {
        "$schema": SCHEMA,
        "config": CONFIG,
        "title": title,
        "width": WIDTH,
        "height": 180,
        "data": {"values": [{"day": d.day.isoformat(), "status": d.status, "runs": d.runs} for d in days]},
        "mark": {"type": "bar", "width": {"band": 0.8}},
        "encoding": {
            "x": {
                "field": "day", "type": "temporal", "timeUnit": "utcyearmonthdate", "title": None,
                "scale": {"domain": [_ms(first), _ms(last + timedelta(days=1))]},
                "axis": {"format": "%b %d", "labelOverlap": True, "grid": False},
            },
            "y": {"aggregate": "sum", "field": "runs", "type": "quantitative", "title": "runs",
                  "stack": "zero", "axis": {"tickMinStep": 1, "tickCount": 4}},
            "color": {"field": "status", "type": "nominal", "title": None,
                      "scale": {"domain": statuses, "range": [STATUS_COLOURS[s] for s in statuses]}},
            "order": {"field": "status", "sort": "descending"},
        },
    }


def render(spec: dict[str, Any] | None) -> Markup | None:
    """The spec as inline SVG, or None (no spec, or vl-convert missing: the page says so)."""
    return render_svg(spec) if spec is not None else None
