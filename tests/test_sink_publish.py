"""Publish groups, append by record version, upsert scopes and table owners, on every sink.

One parametrised test per behaviour over DuckDB, PostgreSQL, Parquet and CSV, so the destinations agree.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from closesync.sinks import SinkError, open_sink
from closesync.sinks.base import Sink
from closesync.sinks.errors import TableOwnedError
from closesync.sinks.ownership import TableClaim
from closesync.sinks.writespec import WriteSpec

SCHEMA = pa.schema([("id", pa.string()), ("user_id", pa.string()), ("version", pa.int64())])


@pytest.fixture(params=("duckdb", "postgres", "parquet", "csv"))
def sink(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Sink]:
    kind = request.param
    if kind == "postgres":
        destination = request.getfixturevalue("pg_sink_url")
    elif kind == "duckdb":
        destination = f"duckdb:{tmp_path / 'publish.duckdb'}"
    else:
        destination = f"{kind}:{tmp_path / kind}"
    s = open_sink(destination)
    yield s
    s.close()


def batch(*rows: tuple[str, str, int]) -> pa.RecordBatch:
    ids, users, versions = zip(*rows, strict=True)
    return pa.RecordBatch.from_pydict({"id": ids, "user_id": users, "version": versions}, schema=SCHEMA)


def content(sink: Sink, table: str) -> list[tuple]:
    return sorted(tuple(r.values()) for b in sink.iter_batches(table) for r in b.to_pylist())


def load(sink: Sink, table: str, rows: pa.RecordBatch, **kw: object) -> int:
    with sink.writer(WriteSpec(table, SCHEMA, **kw)) as w:  # type: ignore[arg-type]
        w.write(rows)
    return w.rows


def test_a_group_publishes_all_its_tables_or_none(sink: Sink) -> None:
    load(sink, "a", batch(("1", "u", 1)))
    load(sink, "b", batch(("1", "u", 1)))
    with pytest.raises(RuntimeError), sink.group() as group:
        group.writer(WriteSpec("a", SCHEMA)).write(batch(("2", "u", 1)))
        group.writer(WriteSpec("b", SCHEMA, method="append")).write(batch(("2", "u", 1)))
        raise RuntimeError("the read failed")
    assert content(sink, "a") == content(sink, "b") == [("1", "u", 1)]

    with sink.group() as group:
        a, b = group.writer(WriteSpec("a", SCHEMA)), group.writer(WriteSpec("b", SCHEMA, method="append"))
        a.write(batch(("2", "u", 1)))
        b.write(batch(("2", "u", 1)))
    assert (a.rows, b.rows) == (1, 1)
    assert content(sink, "a") == [("2", "u", 1)]
    assert content(sink, "b") == [("1", "u", 1), ("2", "u", 1)]


def test_append_adds_each_version_once(sink: Sink) -> None:
    key = {"method": "append", "version_key": ("id", "version")}
    assert load(sink, "t", batch(("1", "u", 1), ("2", "u", 1), ("2", "u", 1)), **key) == 2
    assert load(sink, "t", batch(("1", "u", 1), ("2", "u", 2)), **key) == 1
    assert content(sink, "t") == [("1", "u", 1), ("2", "u", 1), ("2", "u", 2)]


def test_an_upsert_deletes_only_inside_its_scope(sink: Sink) -> None:
    load(sink, "t", batch(("1", "ann", 1), ("2", "ann", 1), ("3", "bob", 1)))
    scoped = {"method": "upsert", "scope": (("user_id", "=", "ann"),)}
    with sink.writer(WriteSpec("t", SCHEMA, **scoped)) as w:  # type: ignore[arg-type]
        w.cover(pa.RecordBatch.from_pydict({"id": ["2", "3"]}))  # 3 is bob's: outside the scope
        w.write(batch(("1", "ann", 2)))
    assert content(sink, "t") == [("1", "ann", 2), ("3", "bob", 1)]
    load(sink, "t", batch(("4", "ann", 1)), clear_scope=True, **scoped)  # a full read of ann's rows
    assert content(sink, "t") == [("3", "bob", 1), ("4", "ann", 1)]
    with pytest.raises(SinkError, match="upsert"):
        WriteSpec("t", SCHEMA, method="append", scope=(("user_id", "=", "ann"),))


def test_a_table_of_another_owner_is_refused(sink: Sink) -> None:
    mine = TableClaim("dataset:1", "users", {}, "dataset 'mine'")
    load(sink, "t", batch(("1", "u", 1)), claim=mine)
    assert sink.table_owner("t")["owner"] == "dataset:1"
    theirs = TableClaim("closesync sync", "users", {})
    with pytest.raises(TableOwnedError, match="dataset 'mine'"):
        load(sink, "t", batch(("2", "u", 1)), claim=theirs)
    assert content(sink, "t") == [("1", "u", 1)]
    load(sink, "t", batch(("3", "u", 1)), claim=TableClaim("closesync sync", "users", {}, force=True))
    assert sink.table_owner("t")["owner"] == "closesync sync"
    assert content(sink, "t") == [("3", "u", 1)]
