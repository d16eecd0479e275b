"""DataCenter.list_runs and run_stats_by_day: filters validated once, SQL with bound values only."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from closesync.datacenter import NotFoundError, RunDay, ValidationError
from closesync.datacenter.run_filters import RunFilter
from runs_helpers import XSS_NAME, History, make_history


@pytest.fixture
def history(home: Path, sandbox: Any) -> History:
    return make_history(home, sandbox)


def test_list_runs_filters_and_pages(history: History) -> None:
    dc = history.dc
    assert [r.id for r in dc.list_runs()] == [6, 5, 4, 3, 2, 1]
    assert [r.id for r in dc.list_runs("Users")] == [6, 5, 3, 1]
    assert [r.id for r in dc.list_runs(history.datasets["Broken"].id)] == [2]
    assert [r.id for r in dc.list_runs(status="failed")] == [5, 2]
    assert [r.id for r in dc.list_runs(since=date(2026, 11, 21))] == [6, 5, 4, 3]
    assert [r.id for r in dc.list_runs(until=date(2026, 11, 20))] == [2, 1]  # the whole day
    assert [r.id for r in dc.list_runs(until=datetime(2026, 11, 20, 9, 20, tzinfo=UTC))] == [1]  # a moment: before it
    assert [r.id for r in dc.list_runs(since="2026-11-21T09:10:00Z")] == [6, 5, 4]
    assert [r.id for r in dc.list_runs(limit=2, offset=3)] == [3, 2]
    assert [r.id for r in dc.history("Users", status="success", limit=2)] == [6, 3]
    assert dc.list_runs(XSS_NAME)[0].dataset_name == XSS_NAME


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"status": "done"}, "status"),
        ({"since": "soon"}, "since"),
        ({"until": "2026-02-30"}, "until"),
        ({"limit": 0}, "limit"),
        ({"offset": -1}, "offset"),
    ],
)
def test_list_runs_refuses_bad_filters(history: History, kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        history.dc.list_runs(**kwargs)
    assert caught.value.field == field


def test_an_unknown_dataset_is_not_found(history: History) -> None:
    with pytest.raises(NotFoundError):
        history.dc.list_runs("nope")


def test_run_stats_by_day(history: History) -> None:
    dc = history.dc
    assert dc.run_stats_by_day() == [
        RunDay(date(2026, 11, 20), "failed", 1),
        RunDay(date(2026, 11, 20), "success", 1),
        RunDay(date(2026, 11, 21), "success", 2),
        RunDay(date(2026, 11, 22), "failed", 1),
        RunDay(date(2026, 11, 22), "success", 1),
    ]
    assert dc.run_stats_by_day("Users", status="success", since="2026-11-21", until="2026-11-21") == [
        RunDay(date(2026, 11, 21), "success", 1)
    ]


def test_filter_values_are_bound_not_written_into_the_sql() -> None:
    where, params = RunFilter(dataset_id=3, status="failed' OR 1=1 --").where()
    assert where == " WHERE r.dataset_id = ? AND r.status = ?" and params == [3, "failed' OR 1=1 --"]
    assert RunFilter().where() == ("", [])
