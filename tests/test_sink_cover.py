"""Covered keys (`TableWriter.cover`): an upsert deletes every covered key's rows, staged or not.

One parametrised test per behaviour over every sink (DuckDB file, PostgreSQL schema, Parquet and CSV
folders), so the destinations cannot drift apart.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from closesync.sinks import open_sink
from closesync.sinks.base import Sink
from closesync.sinks.writespec import WriteSpec

SCHEMA = pa.schema([("id", pa.string()), ("lead_id", pa.string()), ("position", pa.int64())])
KINDS = ("duckdb", "postgres", "parquet", "csv")


@pytest.fixture(params=KINDS)
def sink(request: pytest.FixtureRequest, tmp_path: Path) -> Sink:
    kind = request.param
    if kind == "postgres":
        destination = request.getfixturevalue("pg_sink_url")
    elif kind == "duckdb":
        destination = f"duckdb:{tmp_path / 'cover.duckdb'}"
    else:
        destination = f"{kind}:{tmp_path / kind}"
    s = open_sink(destination)
    yield s
    s.close()


def _rows(*triples: tuple[str, str, int]) -> pa.RecordBatch:
    ids, leads, positions = zip(*triples, strict=True) if triples else ((), (), ())
    return pa.RecordBatch.from_pydict(
        {"id": list(ids), "lead_id": list(leads), "position": list(positions)}, schema=SCHEMA
    )


def _keys(column: str, values: list[str]) -> pa.RecordBatch:
    return pa.RecordBatch.from_pydict({column: values})


def _content(sink: Sink, table: str) -> list[tuple]:
    out = [tuple(r.values()) for b in sink.iter_batches(table) for r in b.to_pylist()]
    return sorted(out)


def _load(sink: Sink, rows: pa.RecordBatch, covers: list[pa.RecordBatch] = (), **kw: object) -> int:
    with sink.writer(WriteSpec("children", SCHEMA, **kw)) as w:
        for keys in covers:
            w.cover(keys)
        w.write(rows)
    return w.rows


def test_covered_parents_lose_children_no_staged_row_carries(sink: Sink) -> None:
    _load(sink, _rows(("a1", "A", 0), ("a2", "A", 1), ("b1", "B", 0), ("c1", "C", 0)))
    # A re-read with one child left, B re-read with none, C not re-read.
    rows = _load(
        sink,
        _rows(("a1", "A", 0)),
        [_keys("lead_id", ["A"]), _keys("lead_id", ["B", "A"])],
        method="upsert",
        parent_key=("lead_id",),
    )
    assert rows == 1
    assert _content(sink, "children") == [("a1", "A", 0), ("c1", "C", 0)]


def test_covered_ids_are_deleted_by_primary_key(sink: Sink) -> None:
    _load(sink, _rows(("a1", "A", 0), ("b1", "B", 0), ("c1", "C", 0)))
    _load(sink, _rows(("a1", "A", 9)), [_keys("id", ["b1", "zz"])], method="upsert")
    assert _content(sink, "children") == [("a1", "A", 9), ("c1", "C", 0)]


def test_cover_without_rows_and_composite_key(sink: Sink) -> None:
    _load(sink, _rows(("a1", "A", 0), ("a2", "A", 1), ("b1", "B", 0)))
    keys = pa.RecordBatch.from_pydict({"lead_id": ["A"], "position": [1], "extra": ["ignored"]})
    assert _load(sink, _rows(), [keys], method="upsert", primary_key=("lead_id", "position")) == 0
    assert _content(sink, "children") == [("a1", "A", 0), ("b1", "B", 0)]


def test_aborted_cover_leaves_table_and_append_ignores_cover(sink: Sink) -> None:
    _load(sink, _rows(("a1", "A", 0), ("b1", "B", 0)))
    with pytest.raises(RuntimeError), sink.writer(WriteSpec("children", SCHEMA, method="upsert")) as w:
        w.cover(_keys("id", ["a1"]))
        w.write(_rows(("b1", "B", 5)))
        raise RuntimeError("boom")
    assert _content(sink, "children") == [("a1", "A", 0), ("b1", "B", 0)]
    _load(sink, _rows(("c1", "C", 0)), [_keys("id", ["a1"])], method="append")
    assert _content(sink, "children") == [("a1", "A", 0), ("b1", "B", 0), ("c1", "C", 0)]


def test_cover_before_the_table_exists(sink: Sink) -> None:
    _load(sink, _rows(("a1", "A", 0)), [_keys("lead_id", ["A", "B"])], method="upsert", parent_key="lead_id")
    assert _content(sink, "children") == [("a1", "A", 0)]
