"""Records deleted in Close leave the tables of issue 14's incremental reports (the seven newer activity
types and the per-type custom object tables), from Close's event log or, when the log refuses the query,
from the full id comparison: full sync, delete in the sandbox, incremental sync, compare with the truth."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

import closesync
from closesync.close.events import EVENT_OBJECT_TYPES
from closesync.sandbox import Sandbox
from closesync.sandbox.event_types import OBJECT_TYPES
from fixtures_sandbox import sandbox_client
from sandbox_expect import custom_object_types, expected_ids

ACTIVITIES = {
    "activities_sms": "activity/sms",
    "activities_meetings": "activity/meeting",
    "activities_whatsapp_messages": "activity/whatsapp_message",
    "activities_task_completed": "activity/task_completed",
    "activities_created": "activity/created",
    "activities_form_submissions": "activity/form_submission",
    "activities_lead_merges": "activity/lead_merge",
}
REPORTS = [*ACTIVITIES, "custom_objects"]
TYPE_TABLES = ("custom_objects_support_contract", "custom_objects_vehicle")


def _sync(sb: Sandbox, db: Path) -> closesync.SyncResult:
    result = closesync.sync(REPORTS, api_key=sb.api_key, base_url=sb.base_url, destination=f"duckdb:{db}")
    assert result.ok, [r.error for r in result.failed]
    return result


def _ids(db: Path, table: str) -> set[str]:
    with duckdb.connect(str(db), read_only=True) as con:
        return {row[0] for row in con.execute(f'SELECT id FROM "{table}"').fetchall()}


def _delete_one_of_each(sb: Sandbox) -> dict[str, str]:
    """One record of every new incremental kind deleted through the sandbox's HTTP API: table -> id."""
    gone: dict[str, str] = {}
    types = custom_object_types(sb)
    with sandbox_client(sb) as http:
        for table, collection in ACTIVITIES.items():
            record_id = sb.data.records(collection)[0]["id"]
            assert http.delete(f"{collection}/{record_id}/").status_code == 200, collection
            gone[table] = record_id
        for table in TYPE_TABLES:
            record = next(r for r in sb.data.records("custom_object") if r["custom_object_type_id"] == types[table])
            answer = http.post(f"http://127.0.0.1:{sb.port}/_sandbox/mutate", json={"collection": "custom_object", "action": "delete",
                                                         "ids": [record["id"]]})
            assert answer.status_code == 200 and answer.json()["ids"] == [record["id"]], answer.text
            gone[table] = record["id"]
    return gone


def _assert_only_the_deleted_are_gone(sb: Sandbox, db: Path, before: dict[str, set[str]], gone: dict[str, str]):
    for table, record_id in gone.items():
        after = _ids(db, table)
        assert after == before[table] - {record_id}, table  # nothing else removed
        assert sorted(after) == sorted(expected_ids(sb, table)), table


def test_client_and_sandbox_name_the_new_kinds_alike_in_the_event_log() -> None:
    for collection in [*ACTIVITIES.values(), "custom_object"]:
        assert EVENT_OBJECT_TYPES[collection] == OBJECT_TYPES[collection], collection
    assert EVENT_OBJECT_TYPES["activity/sms"] == "activity.sms"
    assert EVENT_OBJECT_TYPES["custom_object"] == "custom_object"


def test_the_sandbox_logs_deleted_events_for_the_new_kinds(sandbox: Sandbox) -> None:
    gone = _delete_one_of_each(sandbox)
    with sandbox_client(sandbox) as http:
        for table, collection in [*ACTIVITIES.items(), *((t, "custom_object") for t in TYPE_TABLES)]:
            page = http.get("event/", params={"object_type": OBJECT_TYPES[collection], "action": "deleted"})
            assert page.status_code == 200, page.text
            assert [e["object_id"] for e in page.json()["data"] if e["object_id"] == gone[table]], table


def test_deleted_activities_and_custom_objects_leave_their_tables(sandbox: Sandbox, tmp_path: Path) -> None:
    db = tmp_path / "close.duckdb"
    _sync(sandbox, db)
    tables = [*ACTIVITIES, *TYPE_TABLES]
    before = {table: _ids(db, table) for table in tables}
    gone = _delete_one_of_each(sandbox)

    second = _sync(sandbox, db)
    assert sorted(r.table for r in second.reports) == sorted(tables)
    assert all(r.incremental for r in second.reports)
    _assert_only_the_deleted_are_gone(sandbox, db, before, gone)


def test_a_refused_event_log_falls_back_to_comparing_ids(sandbox: Sandbox, tmp_path: Path) -> None:
    db = tmp_path / "close.duckdb"
    _sync(sandbox, db)
    before = {table: _ids(db, table) for table in (*ACTIVITIES, *TYPE_TABLES)}
    gone = _delete_one_of_each(sandbox)
    sandbox.event_filters = "none"  # Close's event log takes none of the deletion queries

    second = _sync(sandbox, db)
    for report in second.reports:
        notes = [n for n in report.notes if "full id comparison" in n]
        assert notes and re.search(r"\d+ requests?", notes[0]), (report.table, report.notes)
    _assert_only_the_deleted_are_gone(sandbox, db, before, gone)
