"""DuckDB sink against real DuckDB files: methods, atomicity, schema evolution, hostile names, types."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from closesync.sinks import SinkError, SinkLockedError, TableNotFoundError, json_field, open_sink
from closesync.sinks.duckdb import STAGE_PREFIX, DuckDBSink
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
        json_field("payload"),
        pa.field("score", pa.float64()),
    ]
)


def rows(n: int, start: int = 0, lead: str = "lead_a", amount: int = 100) -> list[dict]:
    return [
        {
            "id": f"id_{i}",
            "lead_id": lead,
            "amount": amount + i,
            "won": i % 2 == 0,
            "date_created": datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=UTC),
            "due": date(2024, 2, 29),
            "tags": ["a", "b"] if i % 3 else [],
            "payload": json.dumps({"n": i, "nested": {"x": [1, 2]}}),
            "score": i / 4,
        }
        for i in range(start, start + n)
    ]


def batch(records: list[dict], schema: pa.Schema = SCHEMA) -> pa.RecordBatch:
    return pa.RecordBatch.from_pylist(records, schema=schema)


def load(sink: DuckDBSink, table: str, records: list[dict], method: str = "replace", **kw: object) -> int:
    with sink.writer(WriteSpec(table, kw.pop("schema", SCHEMA), method=method, **kw)) as w:  # type: ignore[arg-type]
        if records:
            w.write(batch(records, w.schema))
    return w.rows


def ids(sink: DuckDBSink, table: str) -> list[str]:
    return sorted(r["id"] for r in pa.Table.from_batches(list(sink.iter_batches(table))).to_pylist())


@pytest.fixture
def sink(tmp_path: Path):
    s = open_sink(f"duckdb:{tmp_path / 'close.duckdb'}")
    yield s
    s.close()


def test_open_sink_kinds(tmp_path: Path) -> None:
    s = open_sink(f"duckdb:{tmp_path / 'sub' / 'x.duckdb'}")
    assert isinstance(s, DuckDBSink)
    assert (tmp_path / "sub" / "x.duckdb").exists()
    s.close()
    s.close()  # twice is fine


def test_replace_then_replace(sink: DuckDBSink) -> None:
    assert load(sink, "t", rows(10)) == 10
    assert load(sink, "t", rows(3, start=100)) == 3
    assert ids(sink, "t") == sorted(f"id_{i}" for i in range(100, 103))


def test_append_adds(sink: DuckDBSink) -> None:
    load(sink, "t", rows(5), method="append")
    load(sink, "t", rows(5, start=5), method="append")
    assert sink.row_count("t") == 10


def test_upsert_twice_no_duplicates_and_updates(sink: DuckDBSink) -> None:
    load(sink, "t", rows(10), method="upsert")
    load(sink, "t", rows(10), method="upsert")
    assert sink.row_count("t") == 10
    load(sink, "t", rows(5, start=8, amount=5000), method="upsert")  # 2 updated, 3 new
    table = pa.Table.from_batches(list(sink.iter_batches("t"))).to_pylist()
    assert len(table) == 13
    by_id = {r["id"]: r for r in table}
    assert by_id["id_8"]["amount"] == 5008
    assert by_id["id_0"]["amount"] == 100


def test_upsert_dedupes_within_one_run(sink: DuckDBSink) -> None:
    with sink.writer(WriteSpec("t", SCHEMA, method="upsert")) as w:
        w.write(batch(rows(3)))
        w.write(batch(rows(3, amount=900)))
    assert w.rows == 3
    assert sorted(r["amount"] for r in sink.preview("t").to_pylist()) == [900, 901, 902]
    with sink.writer(WriteSpec("t", SCHEMA, method="upsert")) as w:
        w.write(batch(rows(2, amount=1)))
        w.write(batch(rows(2, amount=2)))
    assert sorted(r["amount"] for r in sink.preview("t").to_pylist()) == [2, 3, 902]


def test_upsert_composite_key(sink: DuckDBSink) -> None:
    load(sink, "t", rows(3, lead="l1") + rows(3, lead="l2"), method="upsert", primary_key=("lead_id", "id"))
    load(sink, "t", rows(3, lead="l1", amount=7), method="upsert", primary_key=("lead_id", "id"))
    assert sink.row_count("t") == 6


def test_parent_key_upsert_removes_stale_children(sink: DuckDBSink) -> None:
    load(sink, "contacts", rows(3, lead="lead_a") + rows(2, start=10, lead="lead_b"), method="replace")
    # lead_a now has only one contact; lead_b untouched.
    load(sink, "contacts", rows(1, lead="lead_a"), method="upsert", parent_key=("lead_id",))
    got = sorted((r["lead_id"], r["id"]) for r in sink.preview("contacts").to_pylist())
    assert got == [("lead_a", "id_0"), ("lead_b", "id_10"), ("lead_b", "id_11")]


def test_upsert_into_missing_table_creates_it(sink: DuckDBSink) -> None:
    assert not sink.table_exists("t")
    assert load(sink, "t", rows(4), method="upsert") == 4
    assert sink.table_exists("t")


def test_new_column_added_and_missing_become_null(sink: DuckDBSink) -> None:
    load(sink, "t", rows(2))
    wider = SCHEMA.append(pa.field("custom.Favorite Color", pa.string()))
    recs = [dict(r, **{"custom.Favorite Color": "blue"}) for r in rows(2, start=2)]
    load(sink, "t", recs, method="upsert", schema=wider)
    assert ("custom.Favorite Color", "VARCHAR") in sink.columns("t")
    narrower = pa.schema([SCHEMA.field("id"), SCHEMA.field("amount")])
    load(sink, "t", [{"id": "id_9", "amount": 9}], method="append", schema=narrower)
    data = {r["id"]: r for r in sink.preview("t").to_pylist()}
    assert data["id_0"]["custom.Favorite Color"] is None
    assert data["id_2"]["custom.Favorite Color"] == "blue"
    assert data["id_9"]["won"] is None and data["id_9"]["amount"] == 9


def test_batch_missing_columns_are_null(sink: DuckDBSink) -> None:
    partial = pa.RecordBatch.from_pylist([{"id": "x", "amount": 1}])
    with sink.writer(WriteSpec("t", SCHEMA)) as w:
        w.write(partial)
    assert sink.preview("t").to_pylist()[0]["tags"] is None


def test_abort_leaves_table_intact(sink: DuckDBSink) -> None:
    load(sink, "t", rows(5))
    for method in ("replace", "append", "upsert"):
        with pytest.raises(RuntimeError), sink.writer(WriteSpec("t", SCHEMA, method=method)) as w:
            w.write(batch(rows(50, start=100)))
            raise RuntimeError("source failed mid-read")
        assert w.rows == 0
        assert ids(sink, "t") == [f"id_{i}" for i in range(5)]
    assert not [t for t in sink.tables() if t.startswith(STAGE_PREFIX)]


def test_failed_publish_leaves_table_intact(sink: DuckDBSink) -> None:
    load(sink, "t", rows(5))
    bad = pa.schema([pa.field("id", pa.string()), pa.field("amount", pa.string())])
    with pytest.raises(SinkError), sink.writer(WriteSpec("t", bad, method="append")) as w:
        w.write(pa.RecordBatch.from_pylist([{"id": "z", "amount": "not a number"}], schema=bad))
    assert ids(sink, "t") == [f"id_{i}" for i in range(5)]
    assert sink.preview("t").column("amount").type == pa.int64()


def test_invalid_json_fails_cleanly(sink: DuckDBSink) -> None:
    load(sink, "t", rows(2))
    recs = rows(1)
    recs[0]["payload"] = "{not json"
    with pytest.raises(SinkError), sink.writer(WriteSpec("t", SCHEMA)) as w:
        w.write(batch(recs))
    assert sink.row_count("t") == 2


def test_killed_writer_leaves_no_staging(tmp_path: Path) -> None:
    path = tmp_path / "k.duckdb"
    code = f"""
import os, pyarrow as pa
from closesync.sinks import open_sink
from closesync.sinks.writespec import WriteSpec
s = open_sink({str("duckdb:" + str(path))!r})
schema = pa.schema([pa.field("id", pa.string())])
with s.writer(WriteSpec("t", schema)) as w:
    w.write(pa.RecordBatch.from_pylist([{{"id": "old"}}], schema=schema))
w = s.writer(WriteSpec("t", schema, method="replace"))
w.open()
w.write(pa.RecordBatch.from_pylist([{{"id": str(i)}} for i in range(200_000)], schema=schema))
w._flush(); w._drain(); w._cur.commit(); w._in_stage_tx = False   # staged and committed, publish never ran
os._exit(9)
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 9, proc.stderr
    raw = duckdb.connect(str(path))
    leftover = raw.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE starts_with(table_name, ?)", [STAGE_PREFIX]
    )
    assert leftover.fetchone()[0] == 1  # the crash did leave one behind...
    raw.close()
    s = open_sink(f"duckdb:{path}")
    try:
        assert s.tables() == ["t"]  # ...and opening cleans it up
        assert [r["id"] for r in s.preview("t").to_pylist()] == ["old"]
        raw = s._db.cursor()
        assert (
            raw.execute(
                "SELECT count(*) FROM duckdb_tables() WHERE starts_with(table_name, ?)", [STAGE_PREFIX]
            ).fetchone()[0]
            == 0
        )
    finally:
        s.close()


def test_replace_is_atomic_under_concurrent_reader(sink: DuckDBSink) -> None:
    load(sink, "t", rows(1000))
    seen: list[int] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader() -> None:
        other = open_sink(sink.destination)  # its own sink object on the same file, like the web preview
        try:
            while not stop.is_set():
                seen.append(other.row_count("t"))
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)
        finally:
            other.close()

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        for i in range(40):
            n = 1000 + i * 37
            with sink.writer(WriteSpec("t", SCHEMA, method="replace")) as w:
                for chunk in range(0, n, 400):  # several batches: partial tables would show
                    w.write(batch(rows(min(400, n - chunk), start=chunk)))
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors, errors
    assert seen and min(seen) >= 1000
    assert all((s - 1000) % 37 == 0 for s in seen), "a partial table was visible"
    assert sink.row_count("t") == 1000 + 39 * 37


def test_concurrent_writers_from_threads(sink: DuckDBSink) -> None:
    errors: list[BaseException] = []

    def work(table: str, method: str) -> None:
        try:
            for _ in range(5):
                load(sink, table, rows(300), method=method)
        except BaseException as e:  # pragma: no cover
            errors.append(e)

    threads = [
        threading.Thread(target=work, args=(f"t{i}", m))
        for i, m in enumerate(["replace", "upsert", "append", "replace"])
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert [sink.row_count(f"t{i}") for i in range(4)] == [300, 300, 1500, 300]


def test_hostile_identifiers(sink: DuckDBSink) -> None:
    names = ['"; DROP TABLE x; --', "it's", 'a"b', "ünïcødé 名前", "select", "x.y z", "id"]
    schema = pa.schema([pa.field(n, pa.string()) for n in names])
    load(sink, "x", [{"id": "1"}], schema=pa.schema([pa.field("id", pa.string())]))
    table = 'weird "table"; DROP TABLE x; --'
    rec = {n: f"v-{n}" for n in names}
    load(sink, table, [rec], method="upsert", schema=schema)
    load(sink, table, [rec], method="upsert", schema=schema)
    load(sink, table, [rec], method="append", schema=schema.append(pa.field("new'\"col", pa.int64())))
    assert sink.table_exists("x") and sink.table_exists(table)
    assert [c for c, _ in sink.columns(table)] == [*names, "new'\"col"]
    out = sink.preview(table).to_pylist()
    assert len(out) == 2 and out[0]['"; DROP TABLE x; --'] == 'v-"; DROP TABLE x; --'
    sink.write_state("k'; DROP TABLE x; --", {"cursor": "'\""})
    assert sink.read_state("k'; DROP TABLE x; --") == {"cursor": "'\""}
    sink.drop(table)
    assert not sink.table_exists(table) and sink.table_exists("x")


def test_case_collision_is_a_clear_error(sink: DuckDBSink) -> None:
    schema = pa.schema([pa.field("Name", pa.string()), pa.field("name", pa.string())])
    with pytest.raises(SinkError, match="differ only in case"):
        sink.writer(WriteSpec("t", schema))


def test_types_round_trip(sink: DuckDBSink) -> None:
    schema = SCHEMA.append(pa.field("stamps", pa.list_(pa.timestamp("us", tz="UTC")))).append(
        pa.field("big", pa.int64())
    )
    recs = rows(3)
    for i, r in enumerate(recs):
        r["stamps"] = [datetime(2023, 5, 6, 7, 8, 9, tzinfo=UTC)] if i else None
        r["big"] = 2**62 + i
    recs[0]["payload"] = None
    recs[1]["date_created"] = None
    load(sink, "t", recs, schema=schema)
    cols = dict(sink.columns("t"))
    assert cols["date_created"] == "TIMESTAMP WITH TIME ZONE"
    assert cols["due"] == "DATE"
    assert cols["amount"] == "BIGINT"
    assert cols["won"] == "BOOLEAN"
    assert cols["tags"] == "VARCHAR[]"
    assert cols["payload"] == "JSON"
    assert cols["stamps"] == "TIMESTAMP WITH TIME ZONE[]"
    back = sink.preview("t")
    assert back.schema.field("date_created").type == pa.timestamp("us", tz="UTC")
    assert back.schema.field("payload").metadata == {b"closesync.type": b"json"}
    got = sorted(back.to_pylist(), key=lambda r: r["id"])
    want = sorted(pa.Table.from_pylist(recs, schema=schema).to_pylist(), key=lambda r: r["id"])
    for g, w in zip(got, want, strict=True):
        gp, wp = g.pop("payload"), w.pop("payload")
        assert (json.loads(gp) if gp else None) == (json.loads(wp) if wp else None)
        assert g == w
    # JSON is queryable as JSON in DuckDB
    cur = sink._db.cursor()
    assert cur.execute("SELECT payload->>'$.nested.x[1]' FROM t WHERE id = 'id_1'").fetchone()[0] == "2"


def test_state_round_trip_and_overwrite(sink: DuckDBSink) -> None:
    assert sink.read_state("k") is None
    sink.write_state("k", {"cursor": "2024-01-01T00:00:00Z", "n": 1})
    sink.write_state("k", {"cursor": "2024-02-01T00:00:00Z", "n": 2})
    assert sink.read_state("k") == {"cursor": "2024-02-01T00:00:00Z", "n": 2}
    assert "_closesync_state" not in sink.tables()


def test_reads_of_missing_table(sink: DuckDBSink) -> None:
    assert not sink.table_exists("nope")
    with pytest.raises(TableNotFoundError):
        sink.columns("nope")
    sink.drop("nope")  # no error


def test_iter_batches_streams_everything(sink: DuckDBSink) -> None:
    with sink.writer(WriteSpec("t", SCHEMA)) as w:
        for start in range(0, 25_000, 5_000):
            w.write(batch(rows(5_000, start=start)))
    assert w.rows == 25_000
    batches = list(sink.iter_batches("t", batch_size=4096))
    assert len(batches) > 1 and sum(b.num_rows for b in batches) == 25_000


def test_writer_rejects_bad_arguments(sink: DuckDBSink) -> None:
    with pytest.raises(SinkError):
        sink.writer(WriteSpec("t", SCHEMA, method="merge"))
    with pytest.raises(SinkError):
        sink.writer(WriteSpec("t", SCHEMA, method="upsert", primary_key=("nope",)))
    with pytest.raises(SinkError):
        sink.writer(WriteSpec("t", SCHEMA, method="upsert", primary_key=()))


def test_same_file_shared_in_process_and_read_only(tmp_path: Path) -> None:
    path = tmp_path / "s.duckdb"
    a = open_sink(f"duckdb:{path}")
    b = open_sink(f"duckdb:{path}", read_only=True)  # e.g. the web preview while a sync runs
    load(a, "t", rows(3))
    assert b.row_count("t") == 3
    a.close()
    assert b.row_count("t") == 3  # still open through b's reference
    b.close()
    ro = open_sink(f"duckdb:{path}", read_only=True)
    try:
        with pytest.raises(SinkError):
            ro.writer(WriteSpec("t", SCHEMA))
        with pytest.raises(SinkLockedError):
            open_sink(f"duckdb:{path}", wait=0.2)
    finally:
        ro.close()


def test_writer_waits_for_in_process_preview_to_close(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    load_sink = open_sink(f"duckdb:{path}")
    load(load_sink, "t", rows(2))
    load_sink.close()
    preview = open_sink(f"duckdb:{path}", read_only=True)
    timer = threading.Timer(0.3, preview.close)
    timer.start()
    writer = open_sink(f"duckdb:{path}", wait=30)  # waits for the preview, then opens read-write
    try:
        assert not writer.read_only
        load(writer, "t", rows(5))
        assert writer.row_count("t") == 5
    finally:
        timer.join()
        writer.close()


def test_file_held_by_another_process_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "locked.duckdb"
    code = f"import duckdb, sys, time; c = duckdb.connect({str(path)!r}); print('ready', flush=True); sys.stdin.read()"
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        with pytest.raises(SinkLockedError, match="in use by another process") as info:
            open_sink(f"duckdb:{path}")
        assert f"PID {proc.pid}" in str(info.value)
    finally:
        proc.communicate("", timeout=30)


def test_staging_commits_in_chunks_stay_private(sink: DuckDBSink, monkeypatch: pytest.MonkeyPatch) -> None:
    """Wide tables commit staging every few MB; neither the rows nor an abort may reach the target."""
    import closesync.sinks.duckdb.writer as duckdb_writer

    monkeypatch.setattr(duckdb_writer, "STAGE_COMMIT_BYTES", 1)
    monkeypatch.setattr(duckdb_writer, "FLUSH_ROWS", 100)
    load(sink, "t", rows(5))
    with pytest.raises(RuntimeError), sink.writer(WriteSpec("t", SCHEMA, method="replace")) as w:
        for start in range(0, 1000, 100):
            w.write(batch(rows(100, start=start)))
            assert sink.row_count("t") == 5
        raise RuntimeError("failed after several staging commits")
    assert sink.row_count("t") == 5
    assert not [t for t in sink.tables() if t.startswith(STAGE_PREFIX)]
    with sink.writer(WriteSpec("t", SCHEMA, method="upsert")) as w:
        for start in range(0, 1000, 100):
            w.write(batch(rows(100, start=start)))
    assert w.rows == 1000 and sink.row_count("t") == 1000
    cur = sink._db.cursor()
    left = cur.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE starts_with(table_name, ?)", [STAGE_PREFIX]
    )
    assert left.fetchone()[0] == 0
