"""Reading the analytics marts (docs/analytics.md) for the Insights page: read-only, five small tables.

Each chart of the page is one query over a mart in the destination's models schema, filtered by a date
range and a user, and comes back as a :class:`ChartData` (named columns, plain rows) that the page draws
and offers as CSV. DuckDB files are opened read-only (or share this process's instance, as every read in
the Data Center does, under the home's `destlock`); PostgreSQL through the sink's own connection, in a
read-only transaction. Building the marts goes through :func:`closesync.analytics.build_models`.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import importlib.util
import io
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from closesync.analytics import models_schema
from closesync.analytics.errors import INSTALL_HINT
from closesync.datacenter import destlock
from closesync.datacenter.errors import DatasetBusyError, NotFoundError, ValidationError
from closesync.datacenter.models import Dataset
from closesync.datacenter.tables import _defused
from closesync.sinks.destination import parse_destination, redact_destination

if TYPE_CHECKING:
    from closesync.analytics import BuildResult

#: The destinations the models can live in (files cannot hold them).
KINDS = ("duckdb", "postgres")
#: The marts the Insights page reads.
USED_MARTS = (
    "close_pipeline_now",
    "close_won_lost_by_month",
    "close_activity_by_user_day",
    "close_lead_status_funnel",
    "close_lead_time_in_status",
    "close_task_backlog",
)
CHARTS = ("pipeline", "won_lost", "activity", "funnel", "tasks")
MAX_USER_ID = 200
#: How long a build waits for a sync writing its DuckDB file.
BUILD_WAIT_S = 600.0


@dataclass(frozen=True)
class InsightsDestination:
    """A destination of some datasets that could hold the models; `key` names it in URLs (no password)."""

    key: str
    destination: str
    display: str
    kind: str
    datasets: list[str]


@dataclass(frozen=True)
class InsightsFilters:
    """The page's filters: a range of UTC days (either end open) and one user id."""

    since: date | None = None
    until: date | None = None
    user: str | None = None

    @property
    def narrowed(self) -> bool:
        return bool(self.since or self.until or self.user)


@dataclass(frozen=True)
class ChartData:
    """One chart's data: what it draws, the table under it and its CSV are these rows."""

    name: str
    columns: list[str]
    rows: list[tuple[Any, ...]]

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]

    def to_csv(self) -> str:
        """CSV with a header; text that a spreadsheet would run as a formula gets a leading '."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(self.columns)
        for row in self.rows:
            writer.writerow(["" if v is None else _defused(v) if isinstance(v, str) else v for v in row])
        return out.getvalue()


@dataclass(frozen=True)
class Insights:
    """What the page shows: the users to filter by (id, name) and each chart's data by name."""

    users: list[tuple[str, str]]
    charts: dict[str, ChartData] = field(default_factory=dict)


def destination_key(destination: str) -> str:
    return hashlib.sha256(redact_destination(destination).encode()).hexdigest()[:12]


def insights_destinations(datasets: Sequence[Dataset]) -> list[InsightsDestination]:
    """The DuckDB and PostgreSQL destinations the datasets load, in the order of their first dataset."""
    found: dict[str, InsightsDestination] = {}
    for ds in datasets:
        kind = parse_destination(ds.destination).kind
        if kind not in KINDS:
            continue
        key = destination_key(ds.destination)
        if key not in found:
            found[key] = InsightsDestination(key, ds.destination, ds.destination_display, kind, [])
        found[key].datasets.append(ds.name)
    return list(found.values())


def find_destination(datasets: Sequence[Dataset], key: str) -> InsightsDestination:
    for dest in insights_destinations(datasets):
        if dest.key == key:
            return dest
    raise NotFoundError("No DuckDB or PostgreSQL destination of a DataSet has that key.")


def parse_filters(since: str = "", until: str = "", user: str = "") -> InsightsFilters:
    """The filters from query text; ValidationError naming the field for a bad date, range or user id."""
    days: dict[str, date | None] = {}
    for name, text in (("since", since.strip()), ("until", until.strip())):
        try:
            days[name] = date.fromisoformat(text) if text else None
        except ValueError:
            raise ValidationError(
                f"{'From' if name == 'since' else 'To'} must be a date like 2026-01-31, not {text[:40]!r}.",
                field=name,
            ) from None
    if days["since"] and days["until"] and days["since"] > days["until"]:
        raise ValidationError("The range ends before it starts: pick a To date after From.", field="until")
    user = user.strip()
    if len(user) > MAX_USER_ID or not user.isprintable():
        raise ValidationError("That is not a user id of this account.", field="user")
    return InsightsFilters(days["since"], days["until"], user or None)


def dbt_missing(destination: str) -> str | None:
    """What to install when dbt or the destination's adapter is missing, else None (nothing imported)."""
    kind = parse_destination(destination).kind
    for module in ("dbt.cli", f"dbt.adapters.{kind}"):
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            return f"Building the models needs dbt: {INSTALL_HINT}"
    return None


@contextlib.contextmanager
def _locked(home: Path, destination: str) -> Iterator[None]:
    if not destlock.try_acquire(home, destination):
        raise DatasetBusyError(
            "Another closesync process is writing this destination; try again when it ends."
        )
    try:
        yield
    finally:
        destlock.release(home, destination)


def build_marts(
    home: Path,
    destination: str,
    *,
    wait_s: float = BUILD_WAIT_S,
    on_wait: Callable[[str], None] | None = None,
    **options: Any,
) -> BuildResult:
    """`dbt build` of the models on `destination` (blocking), with dbt's files under the home.

    On a DuckDB file it first takes the home's destination lock, exclusive (dbt opens the file its own way):
    a sync writing the file, in this process or another, is waited for up to `wait_s`, `on_wait` told why,
    and a sync that starts meanwhile waits for the build, instead of either failing on DuckDB's own lock.
    `options` go to build_models.
    """
    from closesync.analytics.runner import build_models, default_work_dir

    if not destlock.try_acquire(home, destination, exclusive=True):
        if on_wait is not None:
            on_wait("Waiting for a sync (or another use) of this DuckDB file to finish…")
        if not destlock.acquire(home, destination, wait_s, exclusive=True):
            raise DatasetBusyError(
                f"A sync (or another use) of this DuckDB file kept it for {wait_s:.0f} s; "
                "build the models when it ends."
            )
    try:
        return build_models(destination, work_dir=default_work_dir(destination, home), **options)
    finally:
        destlock.release(home, destination)


class _Reader:
    """Runs SELECTs on one destination; `%s` placeholders in both dialects."""

    def __init__(self, destination: str) -> None:
        self.destination = destination
        self.schema = models_schema(destination)

    @contextlib.contextmanager
    def open(self) -> Iterator[Any]:
        """A function `rows(sql, params)`; None when there is no DuckDB file yet."""
        dest = parse_destination(self.destination)
        if dest.kind == "duckdb":
            if not Path(dest.target).exists():
                yield None
                return
            from closesync.sinks.duckdb.database import DEFAULT_MEMORY_LIMIT, acquire, release

            limit = os.environ.get("CLOSESYNC_DUCKDB_MEMORY_LIMIT") or DEFAULT_MEMORY_LIMIT
            db = acquire(dest.target, True, {"memory_limit": limit}, wait=10.0)
            cur = db.cursor()
            try:
                yield lambda sql, params=(): cur.execute(sql.replace("%s", "?"), list(params)).fetchall()
            finally:
                cur.close()
                release(db)
            return
        from closesync.sinks.postgres import PostgresSink

        sink = PostgresSink(dest.target)
        try:
            conn = sink.connect()
            conn.read_only = True
            try:
                yield lambda sql, params=(): conn.execute(sql, list(params)).fetchall()
            finally:
                conn.rollback()
                conn.close()
        finally:
            sink.close()

    def table(self, name: str) -> str:
        return f'"{self.schema}"."{name}"'


def missing_marts(home: Path, destination: str) -> list[str]:
    """The marts the page reads that the destination lacks (all of them before the first build)."""
    reader = _Reader(destination)
    with _locked(home, destination), _errors(), reader.open() as rows:
        if rows is None:
            return list(USED_MARTS)
        present = {
            r[0]
            for r in rows(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", [reader.schema]
            )
        }
    return [m for m in USED_MARTS if m not in present]


@contextlib.contextmanager
def _errors() -> Iterator[None]:
    """Destination errors as a message for the page (the sink's messages carry no password)."""
    from closesync.sinks.errors import SinkError, SinkLockedError

    try:
        yield
    except SinkLockedError as exc:
        raise DatasetBusyError(f"The destination cannot be read right now: {exc}") from None
    except SinkError as exc:
        raise NotFoundError(f"Cannot read the destination: {exc}") from None


def read_insights(
    home: Path, destination: str, filters: InsightsFilters, charts: Sequence[str] = CHARTS
) -> Insights:
    """The data of `charts` (all by default) under `filters`; ValidationError for a user the marts do not
    know, NotFoundError for a chart that does not exist."""
    if unknown := [name for name in charts if name not in CHARTS]:
        raise NotFoundError(f"No chart called {unknown[0][:40]!r}; the charts are {', '.join(CHARTS)}.")
    reader = _Reader(destination)
    with _locked(home, destination), _errors(), reader.open() as rows:
        if rows is None:
            raise NotFoundError("This destination has no data yet: run a DataSet first.")
        users = [(str(i), str(n or i)) for i, n in rows(_USERS.format(**_tables(reader)))]
        if filters.user and filters.user not in {i for i, _ in users}:
            raise ValidationError("No user with that id in the analytics models.", field="user")
        return Insights(users, {name: _QUERIES[name](reader, rows, filters) for name in charts})


def _tables(reader: _Reader) -> dict[str, str]:
    return {m.removeprefix("close_"): reader.table(m) for m in USED_MARTS}


_USERS = """
SELECT user_id, max(user_name) FROM (
  SELECT user_id, user_name FROM {pipeline_now} UNION ALL
  SELECT user_id, user_name FROM {won_lost_by_month} UNION ALL
  SELECT user_id, user_name FROM {activity_by_user_day} UNION ALL
  SELECT user_id, user_name FROM {task_backlog}
) AS u WHERE user_id IS NOT NULL GROUP BY user_id ORDER BY 2, 1
"""


def _where(conditions: list[tuple[str, Any]]) -> tuple[str, list[Any]]:
    """A WHERE clause of the conditions whose value is set (each holds one %s)."""
    chosen = [(sql, value) for sql, value in conditions if value is not None]
    clause = " WHERE " + " AND ".join(sql for sql, _ in chosen) if chosen else ""
    return clause, [value for _, value in chosen]


def _plain(value: Any) -> Any:
    """Database numbers and days as JSON-friendly values (sums come back as Decimal from PostgreSQL)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def _money(cents: Any) -> float:
    return round(float(cents or 0) / 100, 2)


def _pipeline(reader: _Reader, rows: Any, f: InsightsFilters) -> ChartData:
    where, params = _where([("user_id = %s", f.user)])
    found = rows(
        "SELECT status_label, status_type, sum(opportunity_count), sum(total_value), sum(expected_value) "
        f"FROM {reader.table('close_pipeline_now')}{where} GROUP BY status_label, status_type",
        params,
    )
    order = {"active": 0, "won": 1, "lost": 2}
    out = [
        (label, kind, int(n), _money(value), _money(expected)) for label, kind, n, value, expected in found
    ]
    out.sort(key=lambda r: (order.get(r[1], 3), -r[3], str(r[0])))
    return ChartData("pipeline", ["status", "status_type", "opportunities", "value", "expected_value"], out)


def _won_lost(reader: _Reader, rows: Any, f: InsightsFilters) -> ChartData:
    where, params = _where([
        ("close_month >= %s", f.since.replace(day=1) if f.since else None),
        ("close_month <= %s", f.until), ("user_id = %s", f.user),
    ])  # fmt: skip
    found = rows(
        "SELECT close_month, sum(won_count), sum(lost_count), sum(won_value), sum(lost_value) "
        f"FROM {reader.table('close_won_lost_by_month')}{where} GROUP BY close_month ORDER BY close_month",
        params,
    )
    out = []
    for month, won, lost, won_value, lost_value in found:
        won, lost = int(won or 0), int(lost or 0)
        rate = round(won / (won + lost), 4) if won + lost else None
        out.append((_plain(month), won, lost, _money(won_value), _money(lost_value), rate))
    return ChartData("won_lost", ["month", "won", "lost", "won_value", "lost_value", "win_rate"], out)


def _day_bounds(f: InsightsFilters, column: str) -> list[tuple[str, Any]]:
    return [(f"{column} >= %s", f.since), (f"{column} <= %s", f.until), ("user_id = %s", f.user)]


def _activity(reader: _Reader, rows: Any, f: InsightsFilters) -> ChartData:
    where, params = _where(_day_bounds(f, "activity_date"))
    found = rows(
        "SELECT CAST(date_trunc('week', activity_date) AS DATE) AS week, user_id, max(user_name), "
        "sum(calls), sum(emails_sent), sum(emails_received), sum(notes), sum(meetings), "
        "sum(sms_sent) + sum(sms_received), sum(total_activities) "
        f"FROM {reader.table('close_activity_by_user_day')}{where} "
        "GROUP BY 1, user_id ORDER BY 1, 3, user_id",
        params,
    )
    out = [(_plain(week), name or uid, *(int(v or 0) for v in counts)) for week, uid, name, *counts in found]
    columns = ["week", "user", "calls", "emails_sent", "emails_received", "notes", "meetings", "sms", "total"]
    return ChartData("activity", columns, out)


def _funnel(reader: _Reader, rows: Any, f: InsightsFilters) -> ChartData:
    """Unfiltered: the funnel mart as it is. With a range or a user: the stays that began in it (entered
    by that user's change), how many are still current, and the mean length of those that ended."""
    columns = ["status", "leads_entered", "leads_now", "avg_days_in_status"]
    if not f.narrowed:
        found = rows(
            f"SELECT status_label, leads_entered, leads_now, avg_days_in_status "
            f"FROM {reader.table('close_lead_status_funnel')}"
        )
    else:
        until = datetime.combine(f.until + timedelta(days=1), time()) if f.until else None
        where, params = _where([
            ("entered_at >= %s", datetime.combine(f.since, time()) if f.since else None),
            ("entered_at < %s", until), ("user_id = %s", f.user),
        ])  # fmt: skip
        found = rows(
            "SELECT status_label, count(DISTINCT lead_id), "
            "sum(CASE WHEN is_current THEN 1 ELSE 0 END), avg(CASE WHEN is_current THEN NULL ELSE days_in_status END) "
            f"FROM {reader.table('close_lead_time_in_status')}{where} GROUP BY status_label",
            params,
        )
    out = [
        (label, int(entered or 0), int(now or 0), None if avg is None else round(float(avg), 1))
        for label, entered, now, avg in found
    ]
    out.sort(key=lambda r: (-r[1], -r[2], str(r[0])))
    return ChartData("funnel", columns, out)


def _tasks(reader: _Reader, rows: Any, f: InsightsFilters) -> ChartData:
    where, params = _where([("user_id = %s", f.user)])
    found = rows(
        f"SELECT user_id, user_name, open_tasks, overdue_tasks, completed_tasks "
        f"FROM {reader.table('close_task_backlog')}{where}",
        params,
    )
    out = [(name or uid, int(o or 0), int(od or 0), int(c or 0)) for uid, name, o, od, c in found]
    out.sort(key=lambda r: (-r[1], -r[2], str(r[0])))
    return ChartData("tasks", ["user", "open", "overdue", "completed"], out)


_QUERIES = {
    "pipeline": _pipeline,
    "won_lost": _won_lost,
    "activity": _activity,
    "funnel": _funnel,
    "tasks": _tasks,
}
