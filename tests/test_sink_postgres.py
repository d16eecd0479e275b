"""The PostgreSQL sink against a real server (throwaway one from fixtures_postgres, one schema per test)."""

from __future__ import annotations

import datetime as dt
import json
import math
import threading
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
import pytest
from psycopg import sql

from closesync.sinks import SinkError, TableNotFoundError, json_field, open_sink
from closesync.sinks.destination import redact_destination
from closesync.sinks.postgres import PostgresSink
from closesync.sinks.postgres.encoding import encode_csv, encoder
from closesync.sinks.postgres.names import pg_ident, split_destination
from closesync.sinks.writespec import WriteSpec
from closesync.testing.postgres import PgServerError, PgTestServer

pytestmark = pytest.mark.postgres

UTC = dt.UTC

SCHEMA = pa.schema(
    [
        pa.field("id", pa.string()),
        pa.field("lead_id", pa.string()),
        pa.field("date_created", pa.timestamp("us", tz="UTC")),
        pa.field("due", pa.date32()),
        pa.field("value_cents", pa.int64()),
        pa.field("score", pa.float64()),
        pa.field("is_done", pa.bool_()),
        json_field("payload"),
        pa.field("tags", pa.list_(pa.string())),
        pa.field("numbers", pa.list_(pa.int64())),
        pa.field("when_list", pa.list_(pa.timestamp("us", tz="UTC"))),
    ]
)


def make_batch(
    n: int, start: int = 0, *, lead: str | None = None, note: str = "v1", schema: pa.Schema = SCHEMA
) -> pa.RecordBatch:
    """n rows with ids acti_<start..start+n) and every column type filled (some NULLs)."""
    rows = []
    for i in range(start, start + n):
        rows.append(
            {
                "id": f"acti_{i:06d}",
                "lead_id": lead or f"lead_{i % 7}",
                "date_created": dt.datetime(2024, 1, 1, tzinfo=UTC) + dt.timedelta(minutes=i, microseconds=i),
                "due": None if i % 5 == 0 else dt.date(2024, 1, 1) + dt.timedelta(days=i % 400),
                "value_cents": None if i % 11 == 0 else i * 100,
                "score": i / 3,
                "is_done": i % 2 == 0,
                "payload": json.dumps({"note": note, "i": i, "nested": {"a": [1, 2]}}),
                "tags": None if i % 4 == 0 else [f"t{i % 3}", note],
                "numbers": [i, None, -i],
                "when_list": [dt.datetime(2023, 5, 6, 7, 8, 9, tzinfo=UTC)],
                "extra": "x",
            }
        )
    return pa.RecordBatch.from_pylist(
        [{k: r[k] for k in schema.names if k in r} for r in rows], schema=schema
    )


@pytest.fixture
def sink(pg_sink_url: str) -> Any:
    s = open_sink(pg_sink_url)
    yield s
    s.close()


def count(conn: psycopg.Connection, table: str) -> int:
    return conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()[0]


def load(
    sink: Any,
    table: str,
    batches: list[pa.RecordBatch],
    method: str = "replace",
    schema: pa.Schema = SCHEMA,
    **kw: Any,
) -> int:
    with sink.writer(WriteSpec(table, schema, method=method, **kw)) as w:
        for b in batches:
            w.write(b)
    return w.rows


# -- destination strings and names ------------------------------------------------------------------


def test_destination_parsing_and_redaction() -> None:
    conninfo, schema = split_destination("postgres://u:pw@h:5/db?sslmode=disable&schema=close")
    assert schema == "close"
    assert "schema" not in conninfo and "sslmode=disable" in conninfo
    assert split_destination("postgresql://u@h/db")[1] == "public"
    assert split_destination("postgresql:///db?host=/run/postgresql&schema=s") == (
        "postgresql:///db?host=%2Frun%2Fpostgresql",
        "s",
    )
    assert split_destination("postgresql://u@h/db?schema=a", schema="b")[1] == "b"
    assert split_destination("postgresql://u@h/db?schema=a&schema=b")[1] == "b"
    assert "pw" not in redact_destination("postgres://u:pw@h:5/db") and "u:***@h:5" in redact_destination(
        "postgres://u:pw@h:5/db"
    )
    assert "qpw" not in redact_destination("postgres://u@h/db?password=qpw&schema=x")
    assert redact_destination("postgres://u@h/db?schema=x") == "postgres://u@h/db?schema=x"
    sink = PostgresSink("postgres://u:secretpw@127.0.0.1:1/db")
    assert "secretpw" not in repr(sink) and "secretpw" not in str(sink.destination)


def test_connection_error_is_clear_and_hides_password() -> None:
    sink = PostgresSink("postgresql://u:secretpw@127.0.0.1:1/db", connect_timeout=2)
    with pytest.raises(SinkError) as exc:
        sink.table_exists("x")
    assert "cannot connect to PostgreSQL" in str(exc.value)
    assert "secretpw" not in str(exc.value)


def test_pg_ident_truncates_deterministically() -> None:
    assert pg_ident("name") == "name"
    long_a, long_b = "a" * 70 + "1", "a" * 70 + "2"
    assert pg_ident(long_a) == pg_ident(long_a)
    assert pg_ident(long_a) != pg_ident(long_b)
    assert len(pg_ident(long_a).encode()) <= 63
    uni = "名前" * 30  # 180 bytes in UTF-8: cut on a character boundary
    assert len(pg_ident(uni).encode()) <= 63 and pg_ident(uni).startswith("名前")
    assert "\x00" not in pg_ident("a\x00b") and pg_ident("a\x00b") != "ab"


def test_encode_csv_distinguishes_null_and_empty() -> None:
    b = pa.record_batch(
        {"s": pa.array(["", None, 'a"b']), "l": pa.array([[], None, ["x", None]], pa.list_(pa.string()))}
    )
    out = bytes(encode_csv(b, [encoder(f) for f in b.schema])).decode()
    assert out.splitlines() == ['"","{}"', ",", '"a""b","{""x"",NULL}"']


# -- methods ---------------------------------------------------------------------------------------


def test_replace_creates_typed_table(sink: Any, pg_conn: psycopg.Connection) -> None:
    assert not sink.table_exists("activities")
    assert load(sink, "activities", [make_batch(100), make_batch(50, 100)]) == 150
    assert sink.table_exists("activities") and count(pg_conn, "activities") == 150
    assert dict(sink.columns("activities")) == {
        "id": "text",
        "lead_id": "text",
        "date_created": "timestamp with time zone",
        "due": "date",
        "value_cents": "bigint",
        "score": "double precision",
        "is_done": "boolean",
        "payload": "jsonb",
        "tags": "text[]",
        "numbers": "bigint[]",
        "when_list": "timestamp with time zone[]",
    }
    assert load(sink, "activities", [make_batch(10, 1000)]) == 10
    ids = [r[0] for r in pg_conn.execute("SELECT id FROM activities ORDER BY id")]
    assert ids == [f"acti_{i:06d}" for i in range(1000, 1010)]
    assert sink.row_count("activities") == 10


def test_replace_keeps_privileges_granted_on_the_table(sink: Any, pg_conn: psycopg.Connection) -> None:
    role = f"bi_reader_{sink.schema}"
    pg_conn.execute(sql.SQL("CREATE ROLE {}").format(sql.Identifier(role)))
    try:
        load(sink, "t", [make_batch(3)])
        pg_conn.execute(sql.SQL("GRANT SELECT ON t TO {}").format(sql.Identifier(role)))
        load(sink, "t", [make_batch(4)])
        assert pg_conn.execute("SELECT has_table_privilege(%s, 't', 'SELECT')", (role,)).fetchone()[0]
        assert not pg_conn.execute("SELECT has_table_privilege(%s, 't', 'INSERT')", (role,)).fetchone()[0]
    finally:
        pg_conn.execute("DROP TABLE IF EXISTS t")
        pg_conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_replace_with_empty_input_makes_empty_table(sink: Any) -> None:
    load(sink, "t", [make_batch(5)])
    assert load(sink, "t", []) == 0
    assert sink.table_exists("t") and sink.row_count("t") == 0
    assert sink.preview("t").schema.names == SCHEMA.names


def test_append_adds_rows(sink: Any, pg_conn: psycopg.Connection) -> None:
    assert load(sink, "t", [make_batch(20)], method="append") == 20
    assert load(sink, "t", [make_batch(20)], method="append") == 20
    assert count(pg_conn, "t") == 40


def test_upsert_is_idempotent_and_updates(sink: Any, pg_conn: psycopg.Connection) -> None:
    assert load(sink, "t", [make_batch(100)], method="upsert") == 100
    assert load(sink, "t", [make_batch(100)], method="upsert") == 100
    assert count(pg_conn, "t") == 100
    load(sink, "t", [make_batch(10, 95, note="v2")], method="upsert")  # 5 changed, 5 new
    assert count(pg_conn, "t") == 105
    notes = dict(pg_conn.execute("SELECT id, payload->>'note' FROM t WHERE id >= 'acti_000090'").fetchall())
    assert notes["acti_000094"] == "v1" and notes["acti_000095"] == "v2" and notes["acti_000104"] == "v2"
    # the unique index backing ON CONFLICT exists
    idx = pg_conn.execute("SELECT indexdef FROM pg_indexes WHERE tablename = 't'").fetchall()
    assert any("UNIQUE" in r[0] and "(id)" in r[0] for r in idx)


def test_upsert_leaves_unchanged_rows_alone(sink: Any, pg_conn: psycopg.Connection) -> None:
    """Re-upserting identical rows (look-back windows) rewrites nothing: same row versions, no bloat."""
    load(sink, "t", [make_batch(20)], method="upsert")
    before = dict(pg_conn.execute("SELECT id, xmin::text FROM t").fetchall())
    assert load(sink, "t", [make_batch(20)], method="upsert") == 20  # still reported as merged
    assert dict(pg_conn.execute("SELECT id, xmin::text FROM t").fetchall()) == before
    load(sink, "t", [make_batch(2, 0, note="v2")], method="upsert")
    after = dict(pg_conn.execute("SELECT id, xmin::text FROM t").fetchall())
    assert [k for k in before if after[k] != before[k]] == ["acti_000000", "acti_000001"]


def test_upsert_collapses_duplicates_last_wins(sink: Any, pg_conn: psycopg.Connection) -> None:
    rows = load(sink, "t", [make_batch(3, note="old"), make_batch(3, note="new")], method="upsert")
    assert rows == 3 and count(pg_conn, "t") == 3
    assert {r[0] for r in pg_conn.execute("SELECT payload->>'note' FROM t")} == {"new"}


def test_upsert_after_replace_uses_its_index(sink: Any, pg_conn: psycopg.Connection) -> None:
    load(sink, "t", [make_batch(50)])
    load(sink, "t", [make_batch(50, 25)], method="upsert")
    assert count(pg_conn, "t") == 75


def test_upsert_with_parent_key_replaces_children(sink: Any, pg_conn: psycopg.Connection) -> None:
    load(
        sink,
        "t",
        [make_batch(5, 0, lead="lead_a"), make_batch(5, 5, lead="lead_b")],
        method="upsert",
        parent_key=("lead_id",),
    )
    # lead_a now has 2 children (ids 0,1 changed); lead_b untouched
    load(sink, "t", [make_batch(2, 0, lead="lead_a", note="v2")], method="upsert", parent_key=("lead_id",))
    got = pg_conn.execute("SELECT lead_id, count(*) FROM t GROUP BY 1 ORDER BY 1").fetchall()
    assert got == [("lead_a", 2), ("lead_b", 5)]
    # a child moving to another parent is updated, not duplicated (ON CONFLICT on the primary key)
    load(sink, "t", [make_batch(1, 5, lead="lead_a")], method="upsert", parent_key=("lead_id",))
    assert pg_conn.execute("SELECT lead_id FROM t WHERE id = 'acti_000005'").fetchall() == [("lead_a",)]
    assert count(pg_conn, "t") == 1 + 4  # lead_a replaced by its one staged child; lead_b lost the mover


def test_upsert_parent_key_only(sink: Any, pg_conn: psycopg.Connection) -> None:
    load(sink, "t", [make_batch(4, lead="lead_a")], method="upsert", primary_key=(), parent_key=("lead_id",))
    load(sink, "t", [make_batch(4, lead="lead_a")], method="upsert", primary_key=(), parent_key=("lead_id",))
    assert count(pg_conn, "t") == 4


def test_append_with_repeated_keys_after_upsert(sink: Any, pg_conn: psycopg.Connection) -> None:
    load(sink, "t", [make_batch(10)], method="upsert")
    assert load(sink, "t", [make_batch(10)], method="append") == 10
    assert count(pg_conn, "t") == 20
    # upsert still works without a unique index (falls back to delete + insert)
    load(sink, "t", [make_batch(10)], method="upsert")
    assert count(pg_conn, "t") == 10


def test_new_columns_are_added_and_missing_become_null(sink: Any, pg_conn: psycopg.Connection) -> None:
    small = pa.schema([SCHEMA.field("id"), SCHEMA.field("score")])
    load(sink, "t", [make_batch(3, schema=small)], method="upsert", schema=small)
    load(sink, "t", [make_batch(3, 3)], method="append")  # adds 9 columns
    assert [c for c, _ in sink.columns("t")][:2] == ["id", "score"] and len(sink.columns("t")) == len(SCHEMA)
    load(sink, "t", [make_batch(6, schema=small)], method="upsert", schema=small)
    # rows 3..5 re-upserted with the small schema: their other columns are NULL now
    assert pg_conn.execute("SELECT count(*) FROM t WHERE lead_id IS NOT NULL").fetchone()[0] == 0
    assert count(pg_conn, "t") == 6


def test_retyped_column_is_cast_into_existing_type(sink: Any, pg_conn: psycopg.Connection) -> None:
    as_int = pa.schema([pa.field("id", pa.string()), pa.field("v", pa.int64())])
    as_text = pa.schema([pa.field("id", pa.string()), pa.field("v", pa.string())])
    load(sink, "t", [pa.RecordBatch.from_pylist([{"id": "a", "v": "12"}], schema=as_text)], schema=as_text)
    load(
        sink,
        "t",
        [pa.RecordBatch.from_pylist([{"id": "b", "v": 5}], schema=as_int)],
        method="append",
        schema=as_int,
    )
    assert sorted(pg_conn.execute("SELECT v FROM t").fetchall()) == [("12",), ("5",)]


def test_aborted_writer_leaves_table_as_it_was(sink: Any, pg_conn: psycopg.Connection) -> None:
    load(sink, "t", [make_batch(30)])
    for method in ("replace", "append", "upsert"):
        with pytest.raises(RuntimeError), sink.writer(WriteSpec("t", SCHEMA, method=method)) as w:
            w.write(make_batch(5, 1000))
            raise RuntimeError("boom")
        assert count(pg_conn, "t") == 30
    assert sink.tables() == ["t"]  # no staging table left behind
    leftovers = pg_conn.execute(
        "SELECT relname FROM pg_class WHERE relname LIKE '_closesync_new%'"
    ).fetchall()
    assert leftovers == []


def test_failed_load_raises_clear_error(sink: Any, pg_conn: psycopg.Connection) -> None:
    load(sink, "t", [make_batch(3)])
    bad = pa.schema([pa.field("id", pa.string()), json_field("payload")])
    with pytest.raises(SinkError, match="table 't'.*unchanged"), sink.writer(WriteSpec("t", bad)) as w:
        w.write(pa.RecordBatch.from_pylist([{"id": "x", "payload": "{not json"}], schema=bad))
    assert count(pg_conn, "t") == 3


# -- reads, state, housekeeping -----------------------------------------------------------------------


def test_state_round_trip(sink: Any) -> None:
    assert sink.read_state("activities_call") is None
    sink.write_state("activities_call", {"cursor": "2024-01-01T00:00:00Z", "n": [1, 2]})
    sink.write_state("leads", {"cursor": None})
    sink.write_state("activities_call", {"cursor": "2024-02-01T00:00:00Z"})
    assert sink.read_state("activities_call") == {"cursor": "2024-02-01T00:00:00Z"}
    assert sink.read_state("leads") == {"cursor": None}
    assert "_closesync_state" not in sink.tables()
    load(sink, "_closesync_custom_fields", [make_batch(1)])  # the pipeline's mapping table is a user table
    assert sink.tables() == ["_closesync_custom_fields"]


def test_tables_drop_and_missing_table(sink: Any) -> None:
    load(sink, "b_table", [make_batch(2)])
    load(sink, "a_table", [make_batch(2)])
    assert sink.tables() == ["a_table", "b_table"]
    sink.drop("a_table")
    sink.drop("a_table")  # idempotent
    assert sink.tables() == ["b_table"] and not sink.table_exists("a_table")
    with pytest.raises(TableNotFoundError):
        sink.columns("nope")
    with pytest.raises(TableNotFoundError):
        sink.row_count("nope")
    with pytest.raises(TableNotFoundError):
        sink.preview("nope")


def test_preview_and_iter_batches(sink: Any) -> None:
    load(sink, "t", [make_batch(250)])
    prev = sink.preview("t", limit=7)
    assert prev.num_rows == 7 and prev.schema.names == SCHEMA.names
    batches = list(sink.iter_batches("t", batch_size=100))
    assert [b.num_rows for b in batches] == [100, 100, 50]
    table = pa.Table.from_batches(batches)
    assert sorted(table.column("id").to_pylist()) == [f"acti_{i:06d}" for i in range(250)]
    assert table.schema.field("payload").metadata == {b"closesync.type": b"json"}
    assert table.schema.field("date_created").type == pa.timestamp("us", tz="UTC")


def test_reads_tables_closesync_did_not_create(sink: Any, pg_conn: psycopg.Connection) -> None:
    pg_conn.execute(
        "CREATE TABLE foreign_t (u uuid, n numeric(10,2), v varchar(20), ja jsonb[], ia int[], r real, "
        "ts timestamp(3) with time zone, iv interval)"
    )
    pg_conn.execute(
        "INSERT INTO foreign_t VALUES ('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 12.5, 'x', "
        "ARRAY['{\"a\":1}'::jsonb], ARRAY[1,2], 1.5, '2024-01-01T00:00:00.123Z', '1 day')"
    )
    got = sink.preview("foreign_t").to_pylist()
    assert got == [
        {
            "u": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
            "n": 12.5,
            "v": "x",
            "ja": ['{"a": 1}'],
            "ia": [1, 2],
            "r": 1.5,
            "ts": dt.datetime(2024, 1, 1, 0, 0, 0, 123000, tzinfo=UTC),
            "iv": "1 day",
        }
    ]


def test_schema_is_created_on_first_write(pg_url: str, pg_conn: psycopg.Connection) -> None:
    name = 'odd "schema"; --'
    sink = open_sink(pg_url, schema=name)
    try:
        assert sink.tables() == []
        load(sink, "t", [make_batch(2)])
        assert sink.row_count("t") == 2
        assert (
            pg_conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname = %s", (name,)).fetchone()[0]
            == 1
        )
    finally:
        pg_conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))
        sink.close()


# -- hostile input ---------------------------------------------------------------------------------

HOSTILE = [
    '"; DROP TABLE sentinel; --',
    "it's",
    'quote"in"side',
    "Ünïcødé 名前 🎉",
    "%s %(x)s {} $1",
    " leading and trailing ",
    "Name",
    "name",
    "x" * 70 + "_one",
    "x" * 70 + "_two",
    "ü" * 40,
]


def test_hostile_identifiers(sink: Any, pg_conn: psycopg.Connection) -> None:
    pg_conn.execute("CREATE TABLE sentinel (v int)")
    schema = pa.schema([pa.field("id", pa.string())] + [pa.field(n, pa.string()) for n in HOSTILE])
    row = {"id": "a", **{n: f"value of {n}" for n in HOSTILE}}
    table = "cf; DROP TABLE sentinel; -- " + "t" * 70
    for method in ("replace", "upsert", "append"):
        load(sink, table, [pa.RecordBatch.from_pylist([row], schema=schema)], method=method, schema=schema)
    assert pg_conn.execute("SELECT count(*) FROM sentinel").fetchone()[0] == 0  # still there
    assert [c for c, _ in sink.columns(table)] == ["id", *HOSTILE]
    got = sink.preview(table).to_pylist()
    assert len(got) == 2 and got[0] == row
    # every stored identifier fits PostgreSQL's limit
    names = [
        r[0]
        for r in pg_conn.execute(
            "SELECT attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
            "WHERE c.relname = %s AND attnum > 0",
            (pg_ident(table),),
        )
    ]
    assert all(len(n.encode()) <= 63 for n in names) and len(set(names)) == len(HOSTILE) + 1


def test_hostile_values(sink: Any) -> None:
    schema = pa.schema(
        [
            pa.field("id", pa.string()),
            pa.field("s", pa.string()),
            json_field("j"),
            pa.field("l", pa.list_(pa.string())),
        ]
    )
    values = [
        "",
        "\\.",
        "line\n\\.\nline",
        'tab\tcomma,quote"back\\slash',
        "NULL",
        "\\N",
        "a\x00b",
        "\r\n",
        "{}",
        "ünï🎉",
    ]
    rows = [{"id": str(i), "s": v, "j": json.dumps({"v": v}), "l": [v, None]} for i, v in enumerate(values)]
    load(sink, "t", [pa.RecordBatch.from_pylist(rows, schema=schema)], schema=schema)
    got = {r["id"]: r for r in sink.preview("t").to_pylist()}
    for i, v in enumerate(values):
        expect = v.replace("\x00", "\ufffd")
        assert got[str(i)]["s"] == expect
        assert json.loads(got[str(i)]["j"]) == {"v": expect}
        assert got[str(i)]["l"] == [expect, None]


# -- types compared with DuckDB ----------------------------------------------------------------------


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    return bool(a == b)


def test_types_round_trip_same_as_duckdb(sink: Any, tmp_path: Path) -> None:
    schema = SCHEMA.append(pa.field("nested", pa.list_(pa.list_(pa.int64())))).append(
        pa.field("naive", pa.timestamp("us"))
    )
    rows = make_batch(40, schema=SCHEMA).to_pylist()
    for i, r in enumerate(rows):
        r["nested"] = None if i % 3 == 0 else [[i], [i, i + 1]]
        r["naive"] = dt.datetime(2020, 2, 29, 12, 0, i % 60)
    rows[0]["score"] = float("nan")
    rows[1]["score"] = float("inf")
    rows[2]["value_cents"] = -(2**63)
    rows[3]["date_created"] = dt.datetime(1, 1, 1, tzinfo=UTC)
    rows[4]["due"] = dt.date(9999, 12, 31)
    batch = pa.RecordBatch.from_pylist(rows, schema=schema)
    load(sink, "t", [batch], schema=schema)
    duck = open_sink(f"duckdb:{tmp_path / 'x.duckdb'}")
    try:
        load(duck, "t", [batch], schema=schema)
        d_rows = sorted(
            pa.Table.from_batches(list(duck.iter_batches("t"))).to_pylist(), key=lambda r: r["id"]
        )
        from fixtures_postgres import column_kinds, table_rows

        kinds = column_kinds(duck, "t")
        assert table_rows(duck, "t") == table_rows(sink, "t")
    finally:
        duck.close()
    p_kinds = column_kinds(sink, "t")
    assert {k: v for k, v in p_kinds.items() if k != "nested"} == {
        k: v for k, v in kinds.items() if k != "nested"
    }
    assert p_kinds["nested"] == "json" and kinds["nested"] == "list<list<integer>>"
    p_table = pa.Table.from_batches(list(sink.iter_batches("t")))
    p_rows = sorted(p_table.to_pylist(), key=lambda r: r["id"])
    assert len(p_rows) == len(d_rows) == 40
    for name in schema.names:
        for p, d, src in zip(p_rows, d_rows, sorted(rows, key=lambda r: r["id"]), strict=True):
            pv, dv = p[name], d[name]
            if name == "payload":  # JSONB normalises whitespace/key order: compare parsed
                assert json.loads(pv) == json.loads(dv) == json.loads(src[name])
            elif name == "nested":  # list of lists is JSONB in PostgreSQL, a nested list in DuckDB
                assert (None if pv is None else json.loads(pv)) == dv == src[name]
            elif name == "naive":  # naive timestamps are taken as UTC
                assert pv == src[name].replace(tzinfo=UTC)
            else:
                assert _same(pv, dv) and _same(pv, src[name]), (name, pv, dv)


# -- concurrency and failures ------------------------------------------------------------------------


def test_replace_is_atomic_under_concurrent_reader(sink: Any, pg_url: str, pg_schema: str) -> None:
    """A reader looping on another connection sees only complete old or new tables, never 0 or partial."""
    load(sink, "t", [make_batch(500)])
    seen: list[int] = []
    errors: list[BaseException] = []
    stop = threading.Event()
    progressed = threading.Condition()

    def reader() -> None:
        try:
            with psycopg.connect(pg_url, autocommit=True) as conn:
                q = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(pg_schema, "t"))
                while not stop.is_set():
                    seen.append(conn.execute(q).fetchone()[0])
                    with progressed:
                        progressed.notify_all()
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    def wait_reads(n: int) -> None:
        target = len(seen) + n
        with progressed:
            progressed.wait_for(lambda: len(seen) >= target or bool(errors) or stop.is_set(), timeout=30)

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    try:
        sizes = [300, 700, 400, 900, 500]
        for size in sizes:
            with sink.writer(WriteSpec("t", SCHEMA, method="replace")) as w:
                for start in range(0, size, 100):
                    w.write(make_batch(100, start))
                    wait_reads(3)  # the reader runs while the new table is half-loaded
            wait_reads(3)
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not errors, errors
    assert len(seen) > 50
    assert set(seen) <= {500, *sizes}, sorted(set(seen))
    assert len(set(seen)) >= 3  # the reader really lived through several swaps
    assert 0 not in seen


def _backend_pid(writer: Any) -> int:
    return int(writer._conn.info.backend_pid)


@pytest.mark.parametrize("method", ["replace", "append", "upsert"])
def test_dropped_connection_mid_load_leaves_table(
    sink: Any, pg_conn: psycopg.Connection, method: str
) -> None:
    load(sink, "t", [make_batch(40)])
    w = sink.writer(WriteSpec("t", SCHEMA, method=method))
    with pytest.raises(SinkError, match="lost the PostgreSQL connection.*table is unchanged"), w:
        w.write(make_batch(100, 1000))
        pg_conn.execute("SELECT pg_terminate_backend(%s)", (_backend_pid(w),))
        w.write(make_batch(100, 2000))
    assert count(pg_conn, "t") == 40
    assert sorted(r[0] for r in pg_conn.execute("SELECT id FROM t"))[-1] == "acti_000039"
    # the sink itself keeps working
    assert load(sink, "t", [make_batch(5)], method=method) == 5


def test_dropped_connection_before_commit_leaves_table(sink: Any, pg_conn: psycopg.Connection) -> None:
    load(sink, "t", [make_batch(40)])
    w = sink.writer(WriteSpec("t", SCHEMA, method="replace"))
    with pytest.raises(SinkError, match="lost the PostgreSQL connection"), w:
        w.write(make_batch(100, 1000))
        pg_conn.execute("SELECT pg_terminate_backend(%s)", (_backend_pid(w),))
    assert count(pg_conn, "t") == 40


def test_connection_killed_during_copy(sink: Any, pg_conn: psycopg.Connection) -> None:
    """Kill the backend while a big COPY is streaming (a watcher waits until the COPY is running)."""
    load(sink, "t", [make_batch(40)])
    big = make_batch(20_000, 5000)
    w = sink.writer(WriteSpec("t", SCHEMA, method="replace"))
    w.open()
    pid = _backend_pid(w)
    killed = threading.Event()

    def killer() -> None:
        with psycopg.connect(pg_conn.info.dsn, autocommit=True) as c:
            for _ in range(20_000):
                row = c.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()
                if row and row[0].startswith("COPY"):
                    c.execute("SELECT pg_terminate_backend(%s)", (pid,))
                    killed.set()
                    return

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    with pytest.raises(SinkError, match="lost the PostgreSQL connection"), w:
        for _ in range(200):  # keep COPYing until the killer strikes
            w.write(big)
    thread.join(timeout=30)
    assert killed.is_set()
    assert count(pg_conn, "t") == 40


def test_concurrent_writers_from_threads(sink: Any, pg_conn: psycopg.Connection) -> None:
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            load(sink, f"table_{i % 3}", [make_batch(200, (i % 2) * 100)], method="upsert")
            sink.write_state(f"k{i}", {"i": i})
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(9)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    for i in range(3):
        assert count(pg_conn, f"table_{i}") == 300
    assert sink.read_state("k8") == {"i": 8}


def test_concurrent_first_writes_create_schema_and_table_once(
    pg_url: str, pg_conn: psycopg.Connection
) -> None:
    """Writers racing on a schema and table that don't exist yet: all succeed, nothing duplicated."""
    name = "fresh_concurrent"
    sink = open_sink(pg_url, schema=name)
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            load(sink, "shared", [make_batch(100, (i % 2) * 50)], method="upsert")
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    try:
        threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert not errors, errors
        assert sink.row_count("shared") == 150
    finally:
        sink.close()
        pg_conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


# -- the throwaway server helper ----------------------------------------------------------------------


def test_missing_server_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    from fixtures_postgres import _unavailable

    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="PostgreSQL unavailable in CI"):
        _unavailable("no binaries")
    monkeypatch.setenv("CI", "")
    with pytest.raises(pytest.skip.Exception):
        _unavailable("no binaries")


def test_test_server_missing_binaries_says_what_to_install(tmp_path: Path) -> None:
    with pytest.raises(PgServerError, match="install-test-deps"):
        PgTestServer(bin_dir=tmp_path).start()


def test_test_server_starts_and_cleans_up() -> None:
    server = PgTestServer(dbname="scratch")
    with server:
        root = server.root
        assert root is not None and root.exists()
        with psycopg.connect(server.url) as conn:
            assert conn.execute("SELECT current_database()").fetchone()[0] == "scratch"
    assert not root.exists()
