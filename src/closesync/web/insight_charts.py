"""The Insights page's charts, as Vega-Lite specs over a mart's :class:`ChartData` (drawn by web/svg.py).

Each spec's data is exactly the chart's rows (what the table under it and its CSV hold); derived numbers
(open-but-not-overdue tasks, the long form of several measures) are Vega transforms, so the download and
the picture never disagree. Money is in the account's currency units (the marts keep cents).
"""

from __future__ import annotations

from typing import Any

from closesync.datacenter.marts import ChartData
from closesync.web.charts import CONFIG, SCHEMA, WIDTH

STATUS_TYPE_COLOURS = {"active": "#2f5bea", "won": "#17803d", "lost": "#c0262d"}
WON_LOST_COLOURS = {"won": "#17803d", "lost": "#c0262d"}
TASK_COLOURS = {"overdue": "#c0262d", "open, not overdue": "#e0a526", "completed": "#17803d"}

#: Title and one-line description of each chart, in the page's order.
TITLES = {
    "pipeline": ("Pipeline by status", "opportunities now, value by status (open statuses first)"),
    "won_lost": ("Won and lost by month", "opportunities closed each month, and the win rate"),
    "activity": (
        "Activity per user per week",
        "calls, emails, notes, meetings and SMS, weeks from Monday (UTC)",
    ),
    "funnel": ("Lead funnel", "leads that entered each status, and those in it now"),
    "tasks": ("Task backlog", "tasks by assignee"),
}


#: Room for category labels (status and user names): the browser's font is wider than the one vl-convert
#: measures with, so labels get a fixed band rather than the measured one, and legends more space.
LABELS = {"labelLimit": 140, "minExtent": 200}
#: Counts: whole ticks only.
COUNT_AXIS = {"tickMinStep": 1, "format": "d"}
_INSIGHT_CONFIG = {**CONFIG, "legend": {**CONFIG["legend"], "columnPadding": 28, "symbolOffset": 4}}


def _base(data: ChartData, height: int) -> dict[str, Any]:
    return {
        "$schema": SCHEMA,
        "config": _INSIGHT_CONFIG,
        "width": WIDTH,
        "height": height,
        "data": {"values": data.records()},
    }


def _scale(colours: dict[str, str]) -> dict[str, Any]:
    return {"domain": list(colours), "range": list(colours.values())}


def _bar_height(rows: int) -> int:
    return max(60, 26 * rows)


def pipeline_spec(data: ChartData) -> dict[str, Any]:
    return {
        **_base(data, _bar_height(len(data.rows))),
        "mark": {"type": "bar"},
        "encoding": {
            "y": {"field": "status", "type": "nominal", "title": None, "sort": None, "axis": LABELS},
            "x": {"field": "value", "type": "quantitative", "title": "value", "axis": {"format": "~s"}},
            "color": {
                "field": "status_type",
                "type": "nominal",
                "title": None,
                "scale": _scale(STATUS_TYPE_COLOURS),
            },
        },
    }


def won_lost_spec(data: ChartData) -> dict[str, Any]:
    top = max(1, *(max(r["won"], r["lost"]) for r in data.records()))
    month = {
        "field": "month",
        "type": "ordinal",
        "timeUnit": "utcyearmonth",
        "title": None,
        "axis": {"format": "%b %Y", "labelAngle": -40},
    }
    return {
        **_base(data, 200),
        "layer": [
            {
                "transform": [{"fold": ["won", "lost"], "as": ["outcome", "opportunities"]}],
                "mark": {"type": "bar"},
                "encoding": {
                    "x": month,
                    "xOffset": {"field": "outcome", "sort": list(WON_LOST_COLOURS)},
                    "y": {
                        "field": "opportunities",
                        "type": "quantitative",
                        "title": "opportunities",
                        # in a layer Vega ignores tickMinStep: ask for no more ticks than whole numbers
                        "axis": {**COUNT_AXIS, "tickCount": min(5, top)},
                    },
                    "color": {
                        "field": "outcome",
                        "type": "nominal",
                        "title": None,
                        "scale": _scale(WON_LOST_COLOURS),
                    },
                },
            },
            {
                "mark": {"type": "line", "point": True, "color": "#1d2330", "strokeDash": [4, 3]},
                "encoding": {
                    "x": month,
                    "y": {
                        "field": "win_rate",
                        "type": "quantitative",
                        "title": "win rate (line)",
                        "scale": {"domain": [0, 1]},
                        "axis": {"format": "%", "orient": "right"},
                    },
                },
            },
        ],
        "resolve": {"scale": {"y": "independent"}},
    }


def activity_spec(data: ChartData) -> dict[str, Any]:
    return {
        **_base(data, 220),
        "mark": {"type": "bar"},
        "encoding": {
            "x": {
                "field": "week",
                "type": "temporal",
                "timeUnit": {"unit": "utcyearmonthdate", "step": 7},  # a bar is the week's width
                "title": "week",
                "axis": {"format": "%b %d, %Y", "labelOverlap": True, "grid": False},
            },
            "y": {
                "aggregate": "sum",
                "field": "total",
                "type": "quantitative",
                "title": "activities",
                "axis": COUNT_AXIS,
                "stack": "zero",
            },
            "color": {"field": "user", "type": "nominal", "title": None},
        },
    }


def funnel_spec(data: ChartData) -> dict[str, Any]:
    measures = {"leads_entered": "#2f5bea", "leads_now": "#9db1f5"}
    return {
        **_base(data, _bar_height(2 * len(data.rows))),
        "transform": [{"fold": list(measures), "as": ["measure", "leads"]}],
        "mark": {"type": "bar"},
        "encoding": {
            "y": {"field": "status", "type": "nominal", "title": None, "sort": None, "axis": LABELS},
            "yOffset": {"field": "measure", "sort": list(measures)},
            "x": {"field": "leads", "type": "quantitative", "title": "leads", "axis": COUNT_AXIS},
            "color": {"field": "measure", "type": "nominal", "title": None, "scale": _scale(measures)},
        },
    }


def tasks_spec(data: ChartData) -> dict[str, Any]:
    return {
        **_base(data, _bar_height(len(data.rows))),
        "transform": [
            {"calculate": "datum.open - datum.overdue", "as": "open, not overdue"},
            {"fold": list(TASK_COLOURS), "as": ["state", "tasks"]},
        ],
        "mark": {"type": "bar"},
        "encoding": {
            "y": {"field": "user", "type": "nominal", "title": None, "sort": None, "axis": LABELS},
            "x": {
                "field": "tasks",
                "type": "quantitative",
                "title": "tasks",
                "stack": "zero",
                "axis": COUNT_AXIS,
            },
            "color": {"field": "state", "type": "nominal", "title": None, "scale": _scale(TASK_COLOURS)},
            "order": {"field": "state", "sort": "descending"},
        },
    }


SPECS = {
    "pipeline": pipeline_spec,
    "won_lost": won_lost_spec,
    "activity": activity_spec,
    "funnel": funnel_spec,
    "tasks": tasks_spec,
}


def chart_spec(data: ChartData) -> dict[str, Any] | None:
    """The chart of `data`, or None when it has no rows (the page says so instead)."""
    return SPECS[data.name](data) if data.rows else None
