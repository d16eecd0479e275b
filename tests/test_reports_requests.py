"""The reporting requests have the shapes Close documents, and the reports' columns the types Close's values
have: over HTTP against the sandbox, which validates the bodies as Close's reference describes them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

import closesync
from closesync.sandbox import Sandbox
from fixtures_sandbox import sandbox_client

EXAMPLES = Path(__file__).parent / "data" / "close_examples"


def documented_request() -> dict:
    """The body of Close's own example for POST /report/activity/ (developer.close.com)."""
    return json.loads((EXAMPLES / "report_activity_request.json").read_text())


def test_close_documented_activity_report_body_is_accepted(sandbox: Sandbox) -> None:
    with sandbox_client(sandbox) as http:
        answer = http.post("report/activity/", json=documented_request())
        assert answer.status_code == 200, answer.text
        rows = answer.json()["data"]
        assert rows and all(isinstance(r["calls.outbound.all.count"], int) for r in rows)
        relative = {**documented_request(), "relative_range": "last-month"}
        del relative["datetime_range"]
        assert http.post("report/activity/", json=relative).status_code == 200


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"relative_range": "last-fortnight", "datetime_range": None}, "relative_range"),
        ({"datetime_range": {"start": "2019-01-08T00:00:00Z", "end": "2019-01-01T00:00:00Z"}}, "datetime_range"),
        ({"datetime_range": None}, "datetime_range"),
        ({"users": "user_abc"}, "users"),
        ({"query": {"type": "search", "query": "x"}}, "query"),
        ({"metrics": []}, "metrics"),
        ({"type": None}, "type"),
    ],
)
def test_malformed_activity_report_bodies_are_refused_like_close(sandbox: Sandbox, change: dict, field: str) -> None:
    body = {**documented_request(), **change}
    body = {k: v for k, v in body.items() if v is not None}
    with sandbox_client(sandbox) as http:
        answer = http.post("report/activity/", json=body)
    assert answer.status_code == 400
    assert field in answer.json()["field-errors"]


def test_reporting_requests_and_column_types(sandbox: Sandbox, tmp_path: Path) -> None:
    """The client's bodies pass the sandbox's checks (with and without a window and a user); counts land as
    integers, sums as numbers, call cost as a number and date_won/date_lost as the same (date) type."""
    db = tmp_path / "close.duckdb"
    user = sandbox.data.catalog.active_user_ids[0]
    reports = ["reporting_activity", "reporting_sent_emails", "activities_call", "opportunities"]
    first = closesync.sync(reports, api_key=sandbox.api_key, base_url=sandbox.base_url, destination=f"duckdb:{db}")
    assert first.ok, [r.error for r in first.failed]
    windowed = closesync.sync(
        ["reporting_activity", "reporting_sent_emails"],
        api_key=sandbox.api_key,
        base_url=sandbox.base_url,
        destination=f"duckdb:{tmp_path / 'windowed.duckdb'}",
        user_id=user,
        since=datetime(2024, 1, 1, tzinfo=UTC),
        until=datetime(2024, 3, 1, tzinfo=UTC),
    )
    assert windowed.ok, [r.error for r in windowed.failed]
    assert all(r.rows > 0 for r in windowed.reports)

    with duckdb.connect(str(db), read_only=True) as con:
        def types(table: str) -> dict[str, str]:
            return {name: kind for name, kind, *_ in con.execute(f"DESCRIBE {table}").fetchall()}

        activity = types("reporting_activity")
        assert activity["calls_outbound_all_count"] == "BIGINT"
        assert activity["emails_sent_all_count"] == "BIGINT"
        assert activity["calls_outbound_all_sum_duration"] == "DOUBLE"
        assert types("reporting_sent_emails")["total"] == "BIGINT"
        assert types("activities_call")["cost"] == "DOUBLE"
        opportunity = types("opportunities")
        assert opportunity["date_won"] == opportunity["date_lost"] == "DATE"
        lost = con.execute("SELECT count(*) FROM opportunities WHERE date_lost IS NOT NULL").fetchone()[0]
        costs = con.execute("SELECT count(cost) FROM activities_call").fetchone()[0]
    assert lost > 0 and costs > 0
