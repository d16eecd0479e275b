"""Behaviours of big real Close accounts (issue 12, sections 1 and 2), each with its sandbox knob on, over HTTP.

Search cursors end (deep in a result set, or expired), `_fields` has a selector ceiling, shared custom fields
live at custom_field/shared/, and records may nest their custom values. Every test compares what was read
with the sandbox's ground truth: every record exactly once, every custom field a column with all its values.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest

import closesync
from closesync.close import CloseClient
from closesync.sandbox import Sandbox
from sandbox_expect import NESTED_BY_POSITION, expected_ids

TIE = "2026-01-10T12:00:00.000000+00:00"  # a bulk edit: many records share one date_updated
CUSTOM_REPORTS = {"leads": "lead", "contacts": "contact", "opportunities": "opportunity",
                  "custom_activity_instances": "activity/custom"}


def _client(sb: Sandbox) -> CloseClient:
    return CloseClient(sb.api_key, base_url=sb.base_url)


def _bulk_edit(sb: Sandbox, collection: str, count: int) -> None:
    sb.mutate(collection, "edit", count, fields={"date_updated": TIE})


def _walk_ids(sb: Sandbox, collection: str, page_size: int, bodies: list[dict[str, Any]] | None = None) -> list[str]:
    client = _client(sb)
    if bodies is not None:
        post = client.post
        client.post = lambda path, body=None, **kw: (bodies.append(body), post(path, body, **kw))[1]  # type: ignore[method-assign]
    with client:
        return [r["id"] for r in client.search_by_date(collection, field="date_updated", fields=["name"],
                                                       page_size=page_size)]


def _assert_each_once(ids: list[str], truth: list[dict[str, Any]]) -> None:
    counts = Counter(ids)
    assert [i for i, n in counts.items() if n > 1] == []
    assert set(counts) == {r["id"] for r in truth}


# -- 1. search cursors end ------------------------------------------------------------------------------------


@pytest.mark.parametrize("knob", [{"search_cursor_depth": 7}, {"search_cursor_ttl": 0}], ids=["depth", "expiry"])
def test_a_refused_cursor_restarts_the_keyset_walk(make_sandbox, knob: dict[str, Any]) -> None:
    sb = make_sandbox(leads=40)
    _bulk_edit(sb, "lead", 33)  # 33 leads in one second: pages of 5 must follow cursors through them
    sb.real_close(**knob)
    bodies: list[dict[str, Any]] = []
    ids = _walk_ids(sb, "lead", 5, bodies)
    _assert_each_once(ids, sb.truth("lead"))
    assert sb.stats()["requests"]["by_status"].get("400", 0) > 0, "the knob never refused a cursor"
    assert all("cursor" not in b or b["cursor"] for b in bodies), "a first page sent `cursor: null`"


def test_the_sandbox_refuses_deep_and_expired_cursors_with_a_cursor_field_error(sandbox: Sandbox) -> None:
    query = {"query": {"type": "object_type", "object_type": "lead"}, "_limit": 5}
    with httpx.Client(base_url=sandbox.base_url, auth=(sandbox.api_key, "")) as http:
        cursor = http.post("data/search/", json=query).json()["cursor"]
        assert http.post("data/search/", json={**query, "cursor": cursor}).status_code == 200
        for knob in ({"search_cursor_depth": 5}, {"search_cursor_ttl": 0}):
            sandbox.real_close(**knob)
            answer = http.post("data/search/", json={**query, "cursor": cursor})
            assert answer.status_code == 400 and "cursor" in answer.json()["field-errors"]
            sandbox.real_close(search_cursor_depth=None, search_cursor_ttl=None)


# -- 2. `_fields` has a ceiling -------------------------------------------------------------------------------


def test_the_sandbox_refuses_too_many_selectors(sandbox: Sandbox) -> None:
    sandbox.real_close(search_selector_ceiling=3)
    query = {"query": {"type": "object_type", "object_type": "lead"}, "_limit": 5}
    with httpx.Client(base_url=sandbox.base_url, auth=(sandbox.api_key, "")) as http:
        assert http.post("data/search/", json={**query, "_fields": {"lead": ["id", "name", "url"]}}).is_success
        assert http.post("data/search/", json={**query, "_fields": {"lead": ["id", "name", "url", "x"]}}
                         ).status_code == 400


def test_many_custom_fields_split_across_requests(make_sandbox, tmp_path: Path) -> None:
    sb = make_sandbox(leads=30, generated_lead_fields=150, activities_per_lead=1)
    sb.real_close(search_selector_ceiling=20)
    db = _sync(sb, tmp_path, ["leads"])
    assert sb.stats()["requests"]["by_status"].get("400", 0) > 0  # the first guess (80) was refused
    _assert_custom_columns(sb, db, "leads", "lead", minimum=150)


@pytest.mark.parametrize("ceiling", [None, 20], ids=["first-guess", "ceiling-20"])
def test_a_selector_refused_even_alone_is_dropped_with_a_note(make_sandbox, tmp_path: Path,
                                                              ceiling: int | None) -> None:
    """Close refusing one custom field's selector even alone costs that column (null, with a note naming
    the field), never the walk: every record and every other custom value still arrive. Two fields are
    refused: one the walk's own first page would carry, one a follow-up search by id would."""
    sb = make_sandbox(leads=30, generated_lead_fields=150, activities_per_lead=1)
    refused = _refusable_selectors(sb)
    sb.real_close(search_selector_ceiling=ceiling, search_refused_selectors=refused)
    db = tmp_path / "close.duckdb"
    result = closesync.sync(["leads"], api_key=sb.api_key, base_url=sb.base_url, destination=f"duckdb:{db}")
    assert [r.error for r in result.failed] == []
    notes = result.reports[0].notes
    for selector in refused:
        assert any(selector in n and "refused" in n for n in notes), notes
    assert sorted(_ids(db, "leads")) == sorted(r["id"] for r in sb.truth("lead"))
    with duckdb.connect(str(db), read_only=True) as con:
        mapping = dict(con.execute("SELECT field_id, \"column\" FROM _closesync_custom_fields WHERE report = 'leads'"
                                   ).fetchall())
        for selector in refused:
            column = mapping[selector.removeprefix("custom.")]
            assert con.execute(f'SELECT count("{column}") FROM leads').fetchall() == [(0,)], selector
    _assert_custom_columns(sb, db, "leads", "lead", minimum=100, skip={s.removeprefix("custom.") for s in refused})


def test_a_search_refused_for_another_reason_still_fails(make_sandbox, tmp_path: Path) -> None:
    """Dropping selectors is for selectors alone: when Close refuses the search even without them (the probe
    fails too), the report fails as before instead of losing its columns one by one."""
    sb = make_sandbox(leads=30, generated_lead_fields=20, activities_per_lead=1)
    sb.add_fault("400", path="data/search/", count=1000)
    result = closesync.sync(["leads"], api_key=sb.api_key, base_url=sb.base_url,
                            destination=f"duckdb:{tmp_path / 'close.duckdb'}")
    assert [r.slug for r in result.failed] == ["leads"]
    assert not any("refused the search selector" in n for r in result.reports for n in r.notes)
    assert sb.stats()["requests"]["by_group"]["POST data/search"] < 20  # halvings, then one probe


def test_the_sandbox_refuses_a_named_selector_even_alone(sandbox: Sandbox) -> None:
    field_id = sandbox.data.catalog.custom_fields["lead"][0]["id"]
    sandbox.real_close(search_refused_selectors=[f"custom.{field_id}"])
    query = {"query": {"type": "object_type", "object_type": "lead"}, "_limit": 5}
    with httpx.Client(base_url=sandbox.base_url, auth=(sandbox.api_key, "")) as http:
        assert http.post("data/search/", json={**query, "_fields": {"lead": ["id", f"custom.{field_id}"]}}
                         ).status_code == 400
        served = http.post("data/search/", json={**query, "_fields": {"lead": ["id", "custom"]}}).json()["data"]
    assert served and not any(f"custom.{field_id}" in r for r in served)


# -- 3. shared custom fields ----------------------------------------------------------------------------------


def test_shared_custom_fields_are_named_typed_columns(make_sandbox, tmp_path: Path) -> None:
    sb = make_sandbox(leads=20, shared_custom_fields=True, activities_per_lead=5)
    with httpx.Client(base_url=sb.base_url, auth=(sb.api_key, "")) as http:
        shared = http.get("custom_field/shared/").json()["data"]
        schema = http.get("custom_field_schema/lead/").json()["fields"]
    assert shared and all(f["associations"] for f in shared)
    lead_shared = {f["id"] for f in shared if any(a["object_type"] == "lead" for a in f["associations"])}
    assert lead_shared <= {f["id"] for f in schema}
    db = _sync(sb, tmp_path, list(CUSTOM_REPORTS))
    for report, collection in CUSTOM_REPORTS.items():
        _assert_custom_columns(sb, db, report, collection)
    with duckdb.connect(str(db), read_only=True) as con:
        columns = {r[0] for r in con.execute("DESCRIBE leads").fetchall()}
        extras = [r[0] for r in con.execute("SELECT extra FROM leads WHERE extra IS NOT NULL").fetchall()]
    assert {"customer_tier", "partner_code", "languages", "follow_up_score"} <= columns
    assert not any("cf_" in e for e in extras)


def test_custom_fields_created_and_deleted_mid_run_do_not_fail_it(make_sandbox, tmp_path: Path) -> None:
    sb = make_sandbox(leads=450, shared_custom_fields=True, activities_per_lead=1)
    gone = sb.data.catalog.custom_fields["lead"][1]["id"]
    sb.schedule_mutation("custom_field/lead", "delete", ids=(gone,), after=2, group="POST data/search")
    sb.schedule_mutation("custom_field/lead", "create", fields={"name": "Added Mid Run", "type": "text"},
                         after=2, group="POST data/search")
    sb.schedule_mutation("custom_field/shared", "delete", after=3, group="POST data/search")
    db = _sync(sb, tmp_path, ["leads"])
    assert not sb.mutations()["pending"]
    assert sorted(_ids(db, "leads")) == sorted(r["id"] for r in sb.truth("lead"))


# -- 4. nested `custom` ---------------------------------------------------------------------------------------


def test_nested_custom_objects_land_in_the_same_columns(make_sandbox, tmp_path: Path) -> None:
    sb = make_sandbox(leads=20, shared_custom_fields=True, activities_per_lead=5)
    sb.real_close(nested_custom=True)
    with httpx.Client(base_url=sb.base_url, auth=(sb.api_key, "")) as http:
        lead = http.get("lead/", params={"_limit": 1}).json()["data"][0]
    assert not any(k.startswith("custom.") for k in lead)
    names = {f["name"] for f in sb.data.catalog.custom_fields["lead"]}
    assert any(k.startswith("cf_") for k in lead["custom"]) and any(k in names for k in lead["custom"])
    db = _sync(sb, tmp_path, list(CUSTOM_REPORTS))
    for report, collection in CUSTOM_REPORTS.items():
        _assert_custom_columns(sb, db, report, collection)


# -- everything at once ---------------------------------------------------------------------------------------


def test_every_report_with_every_knob_on_at_small_limits(make_sandbox, tmp_path: Path) -> None:
    sb = make_sandbox(leads=230, shared_custom_fields=True, generated_lead_fields=30, activities_per_lead=1)
    _bulk_edit(sb, "lead", 215)  # more leads in one second than a page holds: cursors are followed
    _bulk_edit(sb, "contact", 215)
    sb.real_close(search_cursor_depth=37, search_selector_ceiling=20, nested_custom=True)
    result = closesync.sync(None, api_key=sb.api_key, base_url=sb.base_url, destination=f"duckdb:{tmp_path / 'c.db'}")
    assert [r.error for r in result.failed] == []
    db = tmp_path / "c.db"
    assert sb.stats()["requests"]["by_status"].get("400", 0) > 0
    for report in result.reports:
        if report.slug in NESTED_BY_POSITION or report.slug.startswith("reporting_"):
            continue
        got = _ids(db, report.slug)
        assert len(got) == len(set(got)), f"{report.slug}: duplicate ids"
        assert sorted(got) == sorted(expected_ids(sb, report.slug)), report.slug
    for report, collection in CUSTOM_REPORTS.items():
        _assert_custom_columns(sb, db, report, collection)


# -- helpers --------------------------------------------------------------------------------------------------


def _sync(sb: Sandbox, tmp_path: Path, reports: list[str]) -> Path:
    db = tmp_path / "close.duckdb"
    result = closesync.sync(reports, api_key=sb.api_key, base_url=sb.base_url, destination=f"duckdb:{db}")
    assert [r.error for r in result.failed] == []
    return db


def _ids(db: Path, table: str) -> list[str]:
    with duckdb.connect(str(db), read_only=True) as con:
        return [r[0] for r in con.execute(f'SELECT id FROM "{table}"').fetchall()]


def _assert_custom_columns(sb: Sandbox, db: Path, report: str, collection: str, minimum: int = 1,
                           skip: set[str] = frozenset()) -> None:  # type: ignore[assignment]
    """Every custom field with a value in the sandbox (but those in `skip`) is a column of `report` holding
    every value."""
    with duckdb.connect(str(db), read_only=True) as con:
        mapping = dict(con.execute("SELECT field_id, \"column\" FROM _closesync_custom_fields WHERE report = ?",
                                   [report]).fetchall())
        cursor = con.execute(f'SELECT * FROM "{report}"')
        names = [d[0] for d in cursor.description]
        rows = {r["id"]: r for r in (dict(zip(names, row, strict=True)) for row in cursor.fetchall())}
    truth = sb.truth_custom(collection)
    used = {field_id for r in truth for field_id in r["custom"]}
    assert len(used) >= minimum
    assert used <= set(mapping), f"{report}: fields without a column: {sorted(used - set(mapping))}"
    wrong = [(r["id"], field_id) for r in truth for field_id, value in r["custom"].items()
             if field_id not in skip and not _same(rows[r["id"]][mapping[field_id]], value)]
    assert wrong == [], f"{report}: {len(wrong)} custom values differ, e.g. {wrong[:3]}"


def _refusable_selectors(sb: Sandbox) -> list[str]:
    """Two lead custom field selectors with values: the first and the last a leads search asks for."""
    from closesync.reports import get_report, open_read
    from closesync.reports.readers import search_fields

    with _client(sb) as client:
        read = open_read(client, [get_report("leads")])
    used = {f"custom.{field_id}" for r in sb.truth_custom("lead") for field_id in r["custom"]}
    asked = [f for f in search_fields(read.specs, read._shapers) if f in used]
    return [asked[0], asked[-1]]


def _same(stored: Any, sent: Any) -> bool:
    if isinstance(stored, dt.date):
        return stored.isoformat()[:10] == str(sent)[:10]
    if isinstance(stored, float):
        return stored == float(sent)
    if isinstance(stored, list):
        return stored == [str(v) for v in (sent if isinstance(sent, list) else [sent])]
    return stored == (sent if isinstance(sent, str) else str(sent))
