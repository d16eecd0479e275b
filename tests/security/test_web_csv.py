"""A table downloaded from `closesync serve` as CSV cannot run formulas in a spreadsheet (OWASP "CSV
injection"): text that starts with = + - @ tab or CR gets a leading '. Numbers stay numbers, and Parquet
keeps every value as it is."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.parquet as pq

from closesync.sinks import open_sink
from closesync.sinks.writespec import WriteSpec
from fixtures_web import LiveServer

HOSTILE = ['=HYPERLINK("http://evil.example","x")', "+1+1", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd"]
SAFE = ["Acme", "a=b", "", "it's -fine", "1+1"]


def _write_table(dataset: Any) -> None:
    names = HOSTILE + SAFE
    table = pa.table(
        {
            "id": [f"lead_{i}" for i in range(len(names))],
            "name": names,
            "score": [-5 - i for i in range(len(names))],  # negative numbers: not formulas, stay numbers
            "balance": [-1.5] * len(names),
            "tags": [["=cmd"]] * len(names),  # nested values become JSON text, which starts with [
            "=1+2": ["x"] * len(names),  # a hostile column name (Close custom fields are named by users)
        }
    )
    sink = open_sink(dataset.destination)
    try:
        with sink.writer(WriteSpec(dataset.table, table.schema, method="replace")) as writer:
            writer.write(table)
    finally:
        sink.close()


def test_csv_downloads_neutralise_formulas_and_parquet_stays_raw(
    dc: Any, leads_dataset: Any, web_home: Path
) -> None:
    _write_table(leads_dataset)
    with LiveServer(web_home, scheduler=False) as srv, httpx.Client(base_url=srv.url, timeout=30) as http:
        page_csv = http.get(f"/datasets/{leads_dataset.id}/download.csv")
        api_csv = http.get(f"/api/datasets/{leads_dataset.id}/download", params={"format": "csv"})
        parquet = http.get(f"/api/datasets/{leads_dataset.id}/download", params={"format": "parquet"})
    assert page_csv.status_code == api_csv.status_code == parquet.status_code == 200
    assert page_csv.content == api_csv.content

    rows = list(csv.reader(io.StringIO(page_csv.text, newline="")))
    header, body = rows[0], rows[1:]
    assert header == ["id", "name", "score", "balance", "tags", "'=1+2"]
    names = [row[1] for row in body]
    assert names == ["'" + value for value in HOSTILE] + SAFE
    text_cells = [cell for row in rows for cell in (row[0], row[1], row[4], row[5])]
    assert not [cell for cell in text_cells if cell.startswith(("=", "+", "-", "@", "\t", "\r"))]
    # numbers are written as numbers, without quotes, so spreadsheets still read them as numbers
    lines = page_csv.text.splitlines()
    assert ",-5,-1.5," in lines[1] and '"-5"' not in page_csv.text

    table = pq.read_table(io.BytesIO(parquet.content))
    assert table.column("name").to_pylist() == HOSTILE + SAFE
    assert table.column_names[-1] == "=1+2"
    assert table.column("score").to_pylist()[0] == -5
