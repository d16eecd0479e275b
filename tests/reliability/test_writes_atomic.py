"""Issue 10 §2: the tables of one read are published together, and a retried append adds nothing twice.

The disk fills while the leads tables are published: the fault strikes the publish of one table (DuckDB and
PostgreSQL: the engine's disk-full error inside its publish step; Parquet: ENOSPC when the table's staging
file is flushed). Every leads table must stay exactly as it was, and the retry must leave no record version
twice (the field report: 92 rows became 130 where 111 was right).
"""

from __future__ import annotations

import errno
from pathlib import Path

import duckdb
import psycopg
import pytest
from writes_helpers import KINDS, LEADS, duplicated_versions, make_destination, rows, run, snapshot

from closesync.sandbox import Sandbox
from closesync.sinks.duckdb import DuckDBTableWriter
from closesync.sinks.files import _FileWriter
from closesync.sinks.postgres import PostgresTableWriter

FAILING = "leads"  # published last by a writer-per-table pipeline, first by a group


@pytest.fixture(params=KINDS)
def destination(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return make_destination(request, tmp_path)


def fill_the_disk_at(monkeypatch: pytest.MonkeyPatch, table: str) -> None:
    """Make publishing ``table`` fail the way a full disk does, in every destination."""

    def duck(original):  # noqa: ANN001, ANN202
        def publish(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
            if self.table == table:
                raise duckdb.IOException("Could not write file: No space left on device")
            return original(self, *args, **kwargs)

        return publish

    def pg(original):  # noqa: ANN001, ANN202
        def publish(self, cur, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
            if self.table == table:
                raise psycopg.errors.DiskFull("could not extend file: No space left on device")
            return original(self, cur, *args, **kwargs)

        return publish

    original_close = _FileWriter.close

    def close(self: _FileWriter) -> None:
        if self.path.name.startswith(f".{table}.tmp-"):
            raise OSError(errno.ENOSPC, "No space left on device", str(self.path))
        original_close(self)

    monkeypatch.setattr(DuckDBTableWriter, "_publish", duck(DuckDBTableWriter._publish))
    monkeypatch.setattr(PostgresTableWriter, "_publish_replace", pg(PostgresTableWriter._publish_replace))
    monkeypatch.setattr(PostgresTableWriter, "_publish_merge", pg(PostgresTableWriter._publish_merge))
    monkeypatch.setattr(_FileWriter, "close", close)


def change_leads(sb: Sandbox) -> None:
    """Three edited leads (one with every nested record edited too) and two new ones, so each leads table
    gets new rows, or new versions of rows, on the next read."""
    data = sb.data
    nested = ("addresses", "contacts", "opportunities", "tasks")
    full = next(lead for lead in data.records("lead") if all(lead.get(k) for k in nested))
    stamp = data.update("lead", full["id"], description="edited")["date_updated"]
    data.update(
        "lead",
        full["id"],
        addresses=[{**a, "city": "Elsewhere"} for a in full["addresses"]],
        contacts=[{**c, "title": "Buyer", "date_updated": stamp} for c in full["contacts"]],
        opportunities=[{**o, "note": "renegotiated", "date_updated": stamp} for o in full["opportunities"]],
        tasks=[{**t, "text": "call back", "date_updated": stamp} for t in full["tasks"]],
    )
    for lead in [lead for lead in data.records("lead") if lead["id"] != full["id"]][:2]:
        data.update("lead", lead["id"], description="edited")
    for _ in range(2):
        data.add("lead")


@pytest.mark.parametrize("method", ["append", "upsert", "replace"])
def test_a_full_disk_while_publishing_leaves_every_table_of_the_read_as_it_was(
    sandbox: Sandbox, destination: str, monkeypatch: pytest.MonkeyPatch, method: str
) -> None:
    assert run(sandbox, destination, LEADS, method=method).ok
    before = snapshot(destination, LEADS)
    change_leads(sandbox)

    with monkeypatch.context() as patch:
        fill_the_disk_at(patch, FAILING)
        failed = run(sandbox, destination, LEADS, method=method)

    assert [r.status for r in failed.reports] == ["failed"] * len(LEADS)
    assert all("space" in (r.error or "").lower() for r in failed.reports), [r.error for r in failed.reports]
    assert snapshot(destination, LEADS) == before  # not one table changed

    assert run(sandbox, destination, LEADS, method=method).ok
    for slug in LEADS:
        assert duplicated_versions(destination, slug) == 0, slug
    ids = {r["id"] for r in rows(destination, "leads")}
    assert ids == {lead["id"] for lead in sandbox.data.records("lead")}


def test_a_retried_append_adds_each_version_once(sandbox: Sandbox, destination: str) -> None:
    """A run whose cursors were never saved (killed after publishing) is read again: nothing doubles."""
    assert run(sandbox, destination, LEADS, method="append").ok
    change_leads(sandbox)
    state = {}  # a state store that forgets: every run re-reads everything, like a retry after a lost cursor

    class Forgetful:
        def get(self, key: str) -> dict | None:
            return None

        def put(self, key: str, value: dict) -> None:
            state[key] = value

    for _ in range(2):
        assert run(sandbox, destination, LEADS, method="append", state=Forgetful()).ok
    for slug in LEADS:
        assert duplicated_versions(destination, slug) == 0, slug
    leads = rows(destination, "leads")
    assert len(leads) == len(sandbox.data.records("lead")) + 3  # three edited leads: one new version each
