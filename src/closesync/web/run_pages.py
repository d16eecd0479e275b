"""The pages of run history: every run across datasets (filtered, paged, charted per day) and one run.

A history row anywhere in the app links to its run's page, which shows what the CLI's `runs show` does:
each report's counts, the throttle waits, the error in full and the notes.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from closesync.datacenter import RUN_STATUSES, DataCenter, DataCenterError, Run, ValidationError
from closesync.web import charts
from closesync.web.rendering import render
from closesync.web.svg import charts_available

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50


def _dc(request: Request) -> DataCenter:
    return request.app.state.dc


def dataset_chart(dc: DataCenter, dataset_id: int) -> dict[str, Any]:
    """What the dataset page's chart card needs (blocking: call it in a worker thread)."""
    spec = charts.dataset_runs_spec(dc.history(dataset_id, limit=charts.CHART_RUNS))
    return {"chart": charts.render(spec), "chart_has_runs": spec is not None,
            "charts_available": charts_available()}


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _chart_title(first: date, last: date, dataset: str | None, status: str | None) -> str:
    span = f"{first:%b %d} – {last:%b %d, %Y}"
    return " · ".join(filter(None, ("Runs per day", span, dataset, status)))


def _runs_page(dc: DataCenter, filters: dict[str, str], page: int) -> dict[str, Any]:
    """The Runs page's data: a page of runs and the per-day chart, or the error a filter gave."""
    datasets = dc.list_datasets()
    ctx: dict[str, Any] = {"datasets": datasets, "runs": [], "has_more": False, "chart": None, "error": None}
    query = {"dataset": filters["dataset"] or None, "status": filters["status"] or None,
             "since": filters["since"] or None, "until": filters["until"] or None}
    try:
        runs = dc.list_runs(**query, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE)
        first, last = charts.chart_span(_day(filters["since"]), _day(filters["until"]), dc.clock().date())
        days = dc.run_stats_by_day(**{**query, "since": first, "until": last})
    except DataCenterError as exc:
        ctx["error"] = str(exc)
        ctx["error_field"] = exc.field if isinstance(exc, ValidationError) else "dataset"
        return ctx
    chosen = next((d.name for d in datasets if str(d.id) == filters["dataset"]), filters["dataset"] or None)
    spec = charts.runs_per_day_spec(days, first, last, _chart_title(first, last, chosen, query["status"]))
    ctx.update(runs=runs[:PAGE_SIZE], has_more=len(runs) > PAGE_SIZE, chart=charts.render(spec),
               chart_has_runs=bool(days))
    return ctx


@router.get("/runs", response_class=HTMLResponse)
async def runs_page(
    request: Request, dataset: str = "", status: str = "", since: str = "", until: str = "", page: int = 1
) -> Response:
    filters = {"dataset": dataset.strip(), "status": status.strip(), "since": since.strip(),
               "until": until.strip()}
    page = max(page, 1)
    ctx = await run_in_threadpool(_runs_page, _dc(request), filters, page)
    kept = {k: v for k, v in filters.items() if v}
    ctx.update(
        section="runs",
        filters=filters,
        statuses=RUN_STATUSES,
        page=page,
        newer=urlencode({**kept, "page": page - 1}) if page > 1 else None,
        older=urlencode({**kept, "page": page + 1}) if ctx["has_more"] else None,
        charts_available=charts_available(),
    )
    return render(request, "runs.html", ctx, status=422 if ctx["error"] else 200)


@router.get("/runs/{run_id}", response_class=HTMLResponse)
async def run_page(request: Request, run_id: int) -> Response:
    run: Run = await run_in_threadpool(_dc(request).get_run, run_id)  # unknown: app.py's 404 page
    return render(request, "run.html", {"section": "runs", "run": run})
