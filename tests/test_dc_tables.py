"""The DataCenter reads a dataset's table for front ends: columns, exports, masked destinations.

Real DuckDB files in tmp_path and the sandbox; the web must never open a destination itself.
"""

from __future__ import annotations

import csv
import io
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from closesync.datacenter import DatasetBusyError, NotFoundError, ValidationError
from closesync.sinks import open_sink
from closesync.sinks.destination import redact_destination
from closesync.sinks.writespec import WriteSpec

WEB = Path(__file__).resolve().parents[1] / "src" / "closesync" / "web"


def _bytes(export: Any) -> bytes:
    return b"".join(export.chunks)


def test_columns_and_exports_before_and_after_a_run(dc: Any, leads_dataset: Any, web_home: Path) -> None:
    assert dc.columns(leads_dataset.id) == []
    with pytest.raises(NotFoundError, match="no table yet"):
        dc.export(leads_dataset.id, "csv")
    assert not (web_home / "close.duckdb").exists()  # looking never creates the file

    assert dc.run_dataset(leads_dataset.id).ok
    columns = dc.columns(leads_dataset.id)
    names = [c.name for c in columns]
    assert names[:2] == ["id", "name"] and all(c.type for c in columns)
    assert columns[0].to_dict() == {"name": "id", "type": columns[0].type}

    parquet = dc.export(leads_dataset.id, "parquet")
    assert parquet.filename == "leads.parquet" and parquet.media_type == "application/vnd.apache.parquet"
    table = pq.read_table(io.BytesIO(_bytes(parquet)))
    assert table.num_rows == 20 and table.column_names == names

    export = dc.export(leads_dataset.name, "CSV")
    assert export.filename == "leads.csv" and export.media_type.startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(_bytes(export).decode())))
    assert len(rows) == 20 and list(rows[0]) == names

    with pytest.raises(ValidationError) as info:
        dc.export(leads_dataset.id, "xlsx")
    assert info.value.field == "format"


def test_a_table_without_rows_exports_valid_files(dc: Any, leads_dataset: Any) -> None:
    schema = pa.schema([("id", pa.string()), ("n", pa.int64()), ("tags", pa.list_(pa.string()))])
    sink = open_sink(leads_dataset.destination)
    try:
        with sink.writer(WriteSpec(leads_dataset.table, schema, method="replace")):
            pass  # no rows at all
    finally:
        sink.close()

    table = pq.read_table(io.BytesIO(_bytes(dc.export(leads_dataset.id, "parquet"))))
    assert table.num_rows == 0
    assert table.column_names == ["id", "n", "tags"]
    assert pa.types.is_integer(table.schema.field("n").type)
    assert pa.types.is_list(table.schema.field("tags").type)
    assert _bytes(dc.export(leads_dataset.id, "csv")).decode().strip() == '"id","n","tags"'


def test_reads_say_busy_while_another_process_writes_the_file(dc: Any, leads_dataset: Any) -> None:
    assert dc.run_dataset(leads_dataset.id).ok
    holder = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from closesync.datacenter import destlock
        assert destlock.try_acquire(Path({str(dc.home)!r}), {leads_dataset.destination!r})
        print("held", flush=True)
        sys.stdin.read()
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", holder], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        for read in (dc.columns, dc.preview, lambda i: dc.export(i, "csv")):
            with pytest.raises(DatasetBusyError, match="another closesync process"):
                read(leads_dataset.id)
    finally:
        proc.communicate("", timeout=10)
    assert dc.columns(leads_dataset.id)  # free again once that process let go


@pytest.mark.parametrize(
    ("destination", "shown"),
    [
        ("postgres://bob:s3cret@db:5432/crm?schema=close", "postgres://bob:***@db:5432/crm?schema=close"),
        ("postgresql://bob:p@ss/w@rd@db/crm", None),
        ("postgres://db/crm?user=bob&password=s3cret&sslmode=require", "postgres://db/crm?user=bob&password=***&sslmode=require"),
        ("postgres://bob@db/crm", "postgres://bob@db/crm"),
        ("duckdb:/data/close.duckdb", "duckdb:/data/close.duckdb"),
    ],
)
def test_destination_passwords_are_masked(destination: str, shown: str | None) -> None:
    masked = redact_destination(destination)
    if shown is not None:
        assert masked == shown
    for secret in ("s3cret", "p@ss", "w@rd"):
        assert secret not in masked


def test_dataset_dict_and_repr_hide_the_database_password(dc: Any, leads_dataset: Any) -> None:
    with dc.store.write() as conn:  # a stored postgres destination, without needing a server here
        conn.execute(
            "UPDATE datasets SET destination = ? WHERE id = ?",
            ("postgres://bob:s3cret@db:5432/crm", leads_dataset.id),
        )
    ds = dc.get_dataset(leads_dataset.id)
    assert ds.destination.endswith("s3cret@db:5432/crm")  # the runner still gets the real one
    assert ds.to_dict()["destination"] == ds.destination_display == "postgres://bob:***@db:5432/crm"
    assert "s3cret" not in repr(ds)


def test_the_web_never_opens_a_destination_itself() -> None:
    for path in WEB.rglob("*.py"):
        text = path.read_text()
        assert "closesync.sinks" not in text and "open_sink" not in text, path
        assert "datacenter.datasets" not in text and "datacenter.models" not in text, path
