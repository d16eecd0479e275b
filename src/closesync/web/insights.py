"""The Insights pages: the analytics marts of a destination as charts, their CSVs, and building the models.

`/insights` lists the DuckDB and PostgreSQL destinations of the DataSets; `/insights/{key}` shows one
(filters by date range and user in the query string). The marts are read through
:mod:`closesync.datacenter.marts`; before the models are built the page offers a button that builds
them in the background (`model_builds`): while it runs the page says so and refreshes itself (a `Refresh`
header, no script), then shows the charts or the build's error.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from closesync.datacenter import DataCenter, DataCenterError, ValidationError
from closesync.datacenter import marts as marts_module
from closesync.datacenter.marts import CHARTS, InsightsDestination, InsightsFilters
from closesync.web import charts, insight_charts
from closesync.web.model_builds import ModelBuilds
from closesync.web.rendering import flash, render
from closesync.web.svg import charts_available

router = APIRouter(include_in_schema=False)
#: Seconds between the page's reloads while a build runs.
REFRESH_S = 3


def _dc(request: Request) -> DataCenter:
    return request.app.state.dc


def _builds(request: Request) -> ModelBuilds:
    return request.app.state.model_builds


def _destination(dc: DataCenter, key: str) -> InsightsDestination:
    return marts_module.find_destination(dc.list_datasets(), key)


@router.get("/insights", response_class=HTMLResponse)
async def insights_index(request: Request, dataset: str = "") -> Response:
    """The destinations to look at; `?dataset=ID` (the DataSet page's link) goes to that one's page."""
    datasets = await run_in_threadpool(_dc(request).list_datasets)
    destinations = marts_module.insights_destinations(datasets)
    chosen = next((d for d in datasets if str(d.id) == dataset.strip()), None)
    if chosen is not None:
        key = marts_module.destination_key(chosen.destination)
        if any(d.key == key for d in destinations):
            return RedirectResponse(f"/insights/{key}", status_code=303)
    return render(request, "insights_index.html", {"section": "insights", "destinations": destinations})


def _page(dc: DataCenter, dest: InsightsDestination, query: dict[str, str]) -> dict[str, Any]:
    """The page's data (blocking): the build offer, or the filters' error, or each chart with its table."""
    ctx: dict[str, Any] = {
        "missing": [],
        "dbt_missing": None,
        "error": None,
        "error_field": None,
        "users": [],
        "cards": [],
    }
    try:
        ctx["missing"] = marts_module.missing_marts(dc.home, dest.destination)
        if ctx["missing"]:
            ctx["dbt_missing"] = marts_module.dbt_missing(dest.destination)
            return ctx
        filters = marts_module.parse_filters(**query)
        found = marts_module.read_insights(dc.home, dest.destination, filters)
    except ValidationError as exc:
        ctx.update(error=str(exc), error_field=exc.field)
        if exc.field == "user":  # the list to pick from is still worth showing
            ctx["users"] = marts_module.read_insights(dc.home, dest.destination, InsightsFilters()).users
        return ctx
    except DataCenterError as exc:
        ctx.update(error=str(exc), error_field="destination")
        return ctx
    kept = urlencode({k: v for k, v in query.items() if v})
    ctx["users"] = found.users
    for name in CHARTS:
        data = found.charts[name]
        title, about = insight_charts.TITLES[name]
        ctx["cards"].append({
            "name": name, "title": title, "about": about, "data": data,
            "chart": charts.render(insight_charts.chart_spec(data)),
            "csv": f"/insights/{dest.key}/{name}.csv" + (f"?{kept}" if kept else ""),
        })  # fmt: skip
    return ctx


@router.get("/insights/{key}", response_class=HTMLResponse)
async def insights_page(
    request: Request, key: str, since: str = "", until: str = "", user: str = ""
) -> Response:
    dc = _dc(request)
    dest = await run_in_threadpool(_destination, dc, key)  # unknown: app.py's 404 page
    query = {"since": since.strip(), "until": until.strip(), "user": user.strip()}
    base = {"section": "insights", "dest": dest, "filters": query, "charts_available": charts_available()}
    build = _builds(request).current(dest.key)
    if build is not None and build.running:  # dbt holds the file: show the build, not the marts
        answer = render(request, "insights.html", {**base, "building": build})
        answer.headers["Refresh"] = str(REFRESH_S)
        return answer
    if build is not None:
        flash(request, "ok" if build.ok else "error", build.message)
    ctx = await run_in_threadpool(_page, dc, dest, query)
    return render(
        request,
        "insights.html",
        {**base, **ctx},
        status=422 if ctx["error_field"] in ("since", "until", "user") else 200,
    )


@router.get("/insights/{key}/{chart}.csv")
def insights_csv(
    request: Request, key: str, chart: str, since: str = "", until: str = "", user: str = ""
) -> Response:
    """One chart's data as CSV (a bad filter or chart name is the app's error page, never a 500)."""
    dc = _dc(request)
    dest = _destination(dc, key)
    filters = marts_module.parse_filters(since, until, user)
    data = marts_module.read_insights(dc.home, dest.destination, filters, [chart]).charts[chart]
    filename = f"closesync-{chart}.csv"
    return Response(
        data.to_csv(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}"},
    )


@router.post("/insights/{key}/build")
async def build_models(request: Request, key: str) -> Response:
    """Start building the models in the background (one build per destination); the page shows it."""
    dc = _dc(request)
    dest = await run_in_threadpool(_destination, dc, key)
    if not _builds(request).start(dc.home, dest.key, dest.destination):
        flash(request, "info", "The models are being built already; this page shows when they are done.")
    return RedirectResponse(f"/insights/{dest.key}", status_code=303)
