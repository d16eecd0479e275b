"""Parquet and CSV sinks against real files: methods, atomic replace, upsert by key, types read back equal."""

from __future__ import annotations

import csv
import json
import threading
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from closesync.sinks import SinkError, TableNotFoundError, json_field, open_sink
from closesync.sinks.files import FileSink, decode_table, encode_table
from closesync.sinks.writespec import WriteSpec

SCHEMA = pa.schema(
    [
        pa.field("id", pa.string()),
        pa.field("lead_id", pa.string()),
        pa.field("amount", pa.int64()),
        pa.field("won", pa.bool_()),
        pa.field("date_created", pa.timestamp("us", tz="UTC")),
        pa.field("due", pa.date32()),
        pa.field("tags", pa.list_(pa.string())),
        pa.field("stamps", pa.list_(pa.timestamp("us", tz="UTC"))),
        json_field("payload"),
        pa.field("score", pa.float64()),
        pa.field("note", pa.string()),
    ]
)


def rows(n: int, start: int = 0, lead: str = "lead_a", amount: int = 100) -> list[dict]:
    return [
        {
            "id": f"id_{i}",
            "lead_id": lead,
            "amount": amount + i,
            "won": [True, False, None][i % 3],
            "date_created": datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=UTC) if i % 4 else None,
            "due": date(2024, 2, 29),
            "tags": [["a", "b,c"], [], None][i % 3],
            "stamps": [datetime(2023, 5, 6, 7, 8, 9, tzinfo=UTC)] if i % 2 else None,
            "payload": json.dumps({"n": i, "q": 'say "hi"\nbye'}) if i % 5 else None,
            "score": i / 4,
            "note": ["", None, 'comma, "quote"\nnewline', "ünï"][i % 4],
        }
        for i in range(start, start + n)
    ]


def load(sink: FileSink, table: str, records: list[dict], method: str = "replace", **kw: object) -> int:
    schema = kw.pop("schema", SCHEMA)
    with sink.writer(WriteSpec(table, schema, method=method, **kw)) as w:  # type: ignore[arg-type]
        if records:
            w.write(pa.RecordBatch.from_pylist(records, schema=schema))
    return w.rows


def read(sink: FileSink, table: str) -> list[dict]:
    batches = list(sink.iter_batches(table))
    return sorted(
        pa.Table.from_batches(batches, schema=sink.table_schema(table)).to_pylist(), key=lambda r: r["id"]
    )


@pytest.fixture(params=["parquet", "csv"])
def sink(request: pytest.FixtureRequest, tmp_path: Path) -> FileSink:
    s = open_sink(f"{request.param}:{tmp_path / 'out'}")
    assert isinstance(s, FileSink)
    return s


def test_replace_writes_one_file(sink: FileSink) -> None:
    assert load(sink, "leads", rows(10)) == 10
    assert load(sink, "leads", rows(4, start=50)) == 4
    assert [p.name for p in sink.files("leads")] == [f"leads.{sink.fmt}"]
    assert [r["id"] for r in read(sink, "leads")] == [f"id_{i}" for i in range(50, 54)]
    assert sink.tables() == ["leads"]


def test_types_read_back_equal(sink: FileSink) -> None:
    recs = rows(12)
    load(sink, "t", recs)
    want = pa.Table.from_pylist(recs, schema=SCHEMA)
    got = pa.Table.from_batches(list(sink.iter_batches("t")), schema=SCHEMA)
    assert got.schema.equals(want.schema, check_metadata=True)
    assert got.equals(want)
    assert sink.preview("t", limit=5).to_pylist() == want.slice(0, 5).to_pylist()
    assert dict(sink.columns("t"))["payload"] == "json"
    assert dict(sink.columns("t"))["stamps"] == "list<timestamp>"


def test_csv_text_shapes(tmp_path: Path) -> None:
    s = open_sink(f"csv:{tmp_path}")
    load(s, "t", rows(3))
    with (tmp_path / "t.csv").open(newline="", encoding="utf-8") as fh:
        data = list(csv.DictReader(fh))
    assert json.loads(data[1]["payload"]) == {"n": 1, "q": 'say "hi"\nbye'}  # JSON column: its text
    assert json.loads(data[1]["tags"]) == []
    assert json.loads(data[0]["tags"]) == ["a", "b,c"]  # list: JSON array text
    assert json.loads(data[1]["stamps"])[0].startswith("2023-05-06 07:08:09")
    assert data[1]["date_created"].startswith("2024-01-02 03:04:05.123456")


def test_append_adds_part_and_reads_all_parts(sink: FileSink) -> None:
    load(sink, "t", rows(5), method="append")
    load(sink, "t", rows(5, start=5), method="append")
    load(sink, "t", rows(5, start=10), method="append")
    files = sink.files("t")
    assert len(files) == 3 and files[0].name == f"t.{sink.fmt}"
    assert all(".part-" in f.name for f in files[1:])
    assert sink.row_count("t") == 15
    assert [r["id"] for r in read(sink, "t")] == sorted(f"id_{i}" for i in range(15))
    assert len(sink.preview("t", limit=7)) == 7
    if sink.fmt == "parquet":  # one glob reads every file, e.g. from DuckDB
        glob = str(sink.dir / "t.*parquet")
        count = duckdb.connect().execute("SELECT count(*) FROM read_parquet(?, union_by_name = true)", [glob])
        assert count.fetchone()[0] == 15
    load(sink, "t", rows(2))  # replace consolidates
    assert len(sink.files("t")) == 1 and sink.row_count("t") == 2


def test_glob_does_not_catch_similar_tables(sink: FileSink) -> None:
    load(sink, "leads", rows(2))
    load(sink, "leads", rows(2, start=2), method="append")
    load(sink, "leads_addresses", rows(3))
    assert sink.row_count("leads") == 4
    assert sink.tables() == ["leads", "leads_addresses"]
    assert sorted(p.name for p in sink.dir.glob(f"leads.*{sink.fmt}")) == sorted(
        p.name for p in sink.files("leads")
    )


def test_upsert_twice_no_duplicates_and_updates(sink: FileSink) -> None:
    load(sink, "t", rows(10), method="upsert")
    load(sink, "t", rows(10), method="upsert")
    assert sink.row_count("t") == 10
    load(sink, "t", rows(4, start=8, amount=5000), method="upsert")
    got = {r["id"]: r for r in read(sink, "t")}
    assert len(got) == 12 and got["id_9"]["amount"] == 5009 and got["id_0"]["amount"] == 100


def test_upsert_dedupes_within_run_and_merges_parts(sink: FileSink) -> None:
    load(sink, "t", rows(3))
    load(sink, "t", rows(3, start=3), method="append")
    with sink.writer(WriteSpec("t", SCHEMA, method="upsert")) as w:
        w.write(pa.RecordBatch.from_pylist(rows(2, amount=1), schema=SCHEMA))
        w.write(pa.RecordBatch.from_pylist(rows(2, amount=2), schema=SCHEMA))
    assert w.rows == 2
    got = {r["id"]: r["amount"] for r in read(sink, "t")}
    assert got == {"id_0": 2, "id_1": 3, "id_2": 102, "id_3": 103, "id_4": 104, "id_5": 105}
    assert len(sink.files("t")) == 1


def test_parent_key_upsert_removes_stale_children(sink: FileSink) -> None:
    load(sink, "c", rows(3, lead="lead_a") + rows(2, start=10, lead="lead_b"))
    load(sink, "c", rows(1, lead="lead_a"), method="upsert", parent_key=("lead_id",))
    assert sorted((r["lead_id"], r["id"]) for r in read(sink, "c")) == [
        ("lead_a", "id_0"),
        ("lead_b", "id_10"),
        ("lead_b", "id_11"),
    ]


def test_composite_key_upsert(sink: FileSink) -> None:
    key = ("lead_id", "id")
    load(sink, "c", rows(3, lead="x") + rows(3, lead="y"), method="upsert", primary_key=key)
    load(sink, "c", rows(3, lead="x", amount=0), method="upsert", primary_key=key)
    assert sink.row_count("c") == 6


def test_new_column_added_missing_become_null(sink: FileSink) -> None:
    load(sink, "t", rows(2))
    wider = SCHEMA.append(pa.field("custom.Favorite Color", pa.string()))
    load(
        sink,
        "t",
        [dict(r, **{"custom.Favorite Color": "blue"}) for r in rows(2, start=2)],
        "upsert",
        schema=wider,
    )
    narrow = pa.schema([SCHEMA.field("id"), SCHEMA.field("amount")])
    load(sink, "t", [{"id": "id_9", "amount": 9}], method="append", schema=narrow)
    got = {r["id"]: r for r in read(sink, "t")}
    assert got["id_0"]["custom.Favorite Color"] is None and got["id_2"]["custom.Favorite Color"] == "blue"
    assert got["id_9"]["due"] is None and got["id_9"]["amount"] == 9
    assert [c for c, _ in sink.columns("t")][-1] == "custom.Favorite Color"


def test_abort_leaves_table_intact(sink: FileSink) -> None:
    load(sink, "t", rows(5))
    before = sorted(p.name for p in sink.dir.iterdir())
    for method in ("replace", "append", "upsert"):
        with pytest.raises(RuntimeError), sink.writer(WriteSpec("t", SCHEMA, method=method)) as w:
            w.write(pa.RecordBatch.from_pylist(rows(50, start=100), schema=SCHEMA))
            raise RuntimeError("source failed")
        assert [r["id"] for r in read(sink, "t")] == [f"id_{i}" for i in range(5)]
    assert sorted(p.name for p in sink.dir.iterdir()) == before  # no staging file left behind


def test_replace_atomic_under_concurrent_reader(sink: FileSink) -> None:
    load(sink, "t", rows(500))
    seen: list[int] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader() -> None:
        try:
            while not stop.is_set():
                seen.append(sink.row_count("t"))
        except BaseException as e:  # pragma: no cover
            errors.append(e)

    th = threading.Thread(target=reader)
    th.start()
    try:
        for i in range(25):
            n = 500 + i * 7
            with sink.writer(WriteSpec("t", SCHEMA)) as w:
                for chunk in range(0, n, 200):
                    w.write(pa.RecordBatch.from_pylist(rows(min(200, n - chunk), start=chunk), schema=SCHEMA))
    finally:
        stop.set()
        th.join()
    assert not errors, errors
    assert seen and min(seen) >= 500 and all((s - 500) % 7 == 0 for s in seen)


def test_hostile_names(sink: FileSink) -> None:
    names = ['"; DROP TABLE x; --', "it's", 'a"b', "ünïcødé 名前", "x,y\nz", "id"]
    schema = pa.schema([pa.field(n, pa.string()) for n in names])
    table = '../../etc/passwd; "weird" .table'
    rec = {n: f"v-{n}" for n in names}
    load(sink, table, [rec], method="upsert", schema=schema)
    load(sink, table, [rec], method="upsert", schema=schema)
    assert all(p.parent == sink.dir for p in sink.files(table))
    assert sink.tables() == [table]
    assert [c for c, _ in sink.columns(table)] == names
    assert sink.preview(table).to_pylist() == [rec]
    sink.drop(table)
    assert not sink.table_exists(table) and sink.tables() == []
    assert decode_table(encode_table(table)) == table and "/" not in encode_table(table)


def test_state_file(sink: FileSink) -> None:
    assert sink.read_state("k") is None
    sink.write_state("k", {"cursor": "2024-01-01"})
    sink.write_state("j", {"cursor": "x"})
    sink.write_state("k", {"cursor": "2024-02-01"})
    assert sink.read_state("k") == {"cursor": "2024-02-01"}
    again = open_sink(str(sink.destination))
    assert again.read_state("j") == {"cursor": "x"}
    assert (sink.dir / "_closesync_state.json").exists() and sink.tables() == []


def test_missing_table_and_bad_args(sink: FileSink) -> None:
    assert not sink.table_exists("nope")
    with pytest.raises(TableNotFoundError):
        sink.columns("nope")
    with pytest.raises(SinkError):
        sink.writer(WriteSpec("t", SCHEMA, method="upsert", primary_key=("missing",)))
    sink.drop("nope")


def test_parquet_keeps_json_flag_for_other_readers(tmp_path: Path) -> None:
    s = open_sink(f"parquet:{tmp_path}")
    load(s, "t", rows(2))
    assert pq.read_schema(tmp_path / "t.parquet").field("payload").metadata == {b"closesync.type": b"json"}


def test_open_sink_read_only_is_accepted(tmp_path: Path) -> None:
    s = open_sink(f"csv:{tmp_path}", read_only=True)
    assert isinstance(s, FileSink)


@pytest.mark.parametrize("method", ["upsert", "append"])
def test_a_column_seen_only_as_null_keeps_the_stored_type(sink: FileSink, method: str) -> None:
    """Issue 10 §3: a shared table (`_closesync_custom_fields`) gets rows whose column is all NULL (type
    null) after rows with text there; the stored text cannot be cast to null, so the column stays text."""
    typed = pa.schema([pa.field("id", pa.string()), pa.field("type_id", pa.string())])
    untyped = pa.schema([pa.field("id", pa.string()), pa.field("type_id", pa.null())])
    load(sink, "t", [{"id": "a", "type_id": "acttype_1"}], schema=typed)
    load(sink, "t", [{"id": "b", "type_id": None}], method, schema=untyped, primary_key=("id",))
    assert read(sink, "t") == [{"id": "a", "type_id": "acttype_1"}, {"id": "b", "type_id": None}]
    assert sink.table_schema("t").field("type_id").type == pa.string()
    load(sink, "t", [{"id": "c", "type_id": "acttype_2"}], method, schema=typed, primary_key=("id",))
    assert [r["type_id"] for r in read(sink, "t")] == ["acttype_1", None, "acttype_2"]
