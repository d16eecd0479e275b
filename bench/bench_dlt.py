"""Loading through dlt against closesync's own DuckDB sink: the same sandbox data, measured in the same run.

One sandbox (its own process, HTTP on 127.0.0.1, no rate limit) serves every path. End to end (a full read
of the same reports: leads and their nested reports, contacts, opportunities, tasks, calls, emails):

- ``duckdb``: ``closesync.sync`` into closesync's DuckDB sink (the peer);
- ``dlt_sink``: ``closesync.sync`` into ``dlt:duckdb`` (`DltSink`: batches staged as Parquet, one dlt load
  per publish group);
- ``dlt_source``: ``dlt.pipeline(destination=duckdb).run(close_source(...))``.

Load only (the read done once beforehand, its Arrow batches held in memory): the DuckDB sink's writers
(replace) against one dlt run of the same batches with `close_source`'s hints (``load_duckdb_sink``,
``load_dlt``): what the loader itself costs, without the HTTP read both share.

value = rows loaded / wall time; ratio = the dlt figure over the DuckDB sink's (1.0 = as fast). Paths run
in interleaved rounds (the machine is shared and its load drifts), each into fresh files, and each path's
fastest round counts. Quick: 150 leads (about 2.4k rows), one round; full: 2,000 leads (about 33k rows), 3 rounds.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPORTS = [
    "leads",
    "leads_addresses",
    "leads_contacts",
    "leads_opportunities",
    "contacts",
    "contacts_emails",
    "opportunities",
    "tasks",
    "activities_call",
    "activities_emails",
]


def _duckdb(sb: Any, folder: Path) -> int:
    import closesync

    result = closesync.sync(
        REPORTS, api_key=sb.api_key, base_url=sb.base_url, destination=f"duckdb:{folder / 'c.duckdb'}"
    )
    assert result.ok, [r.error for r in result.failed]
    return result.rows


def _dlt_sink(sb: Any, folder: Path) -> int:
    import closesync

    destination = f"dlt:duckdb?dataset=crm&credentials={folder / 'd.duckdb'}&pipelines_dir={folder / 'p'}"
    result = closesync.sync(REPORTS, api_key=sb.api_key, base_url=sb.base_url, destination=destination)
    assert result.ok, [r.error for r in result.failed]
    return _rows(folder / "d.duckdb")


def _dlt_source(sb: Any, folder: Path) -> int:
    import dlt

    from closesync.integrations.dlt import close_source

    pipeline = dlt.pipeline(
        "bench",
        destination=dlt.destinations.duckdb(str(folder / "s.duckdb")),
        dataset_name="crm",
        pipelines_dir=str(folder / "p"),
    )
    pipeline.run(close_source(api_key=sb.api_key, base_url=sb.base_url, reports=REPORTS))
    return _rows(folder / "s.duckdb")


def _rows(path: Path) -> int:
    import duckdb

    with duckdb.connect(str(path), read_only=True) as db:
        return sum(db.sql(f"SELECT count(*) FROM crm.{slug}").fetchall()[0][0] for slug in REPORTS)


def _read(sb: Any) -> list[tuple[Any, Any]]:
    """Every report's (WriteSpec of a replace, Arrow batches) from one full read, shaped as the pipeline
    shapes them (and conformed to the read's schema, as a sink's writer does)."""
    from closesync.close import CloseClient
    from closesync.pipeline import resolve_reports
    from closesync.reports import ReportParams, group_by_source, open_read
    from closesync.sinks import WriteSpec
    from closesync.sinks.base import conform_batch

    data = []
    with CloseClient(sb.api_key, base_url=sb.base_url) as client:
        for group in group_by_source(resolve_reports(REPORTS)):
            read = open_read(client, group, ReportParams(), {}, full_refresh=True)
            batches: dict[str, list[Any]] = {spec.slug: [] for spec in group}
            for slug, batch in read.batches():
                batches[slug].append(conform_batch(batch, read.schemas[slug]))
            for spec in group:
                write = WriteSpec(spec.slug, read.schemas[spec.slug], "replace", spec.primary_key)
                data.append((write, batches[spec.slug]))
    return data


def _load_duckdb_sink(data: list[tuple[Any, Any]], folder: Path) -> int:
    from closesync.sinks import open_sink

    rows = 0
    with open_sink(f"duckdb:{folder / 'l.duckdb'}") as sink:
        for write, batches in data:
            with sink.writer(write) as writer:
                for batch in batches:
                    writer.write(batch)
            rows += writer.rows
    return rows


def _load_dlt(data: list[tuple[Any, Any]], folder: Path) -> int:
    import dlt
    import pyarrow as pa

    from closesync.integrations.dlt.hints import resource_hints, rows

    pipeline = dlt.pipeline(
        "bench_load",
        destination=dlt.destinations.duckdb(str(folder / "l.duckdb")),
        dataset_name="crm",
        pipelines_dir=str(folder / "p"),
    )
    resources = []
    for write, batches in data:
        tables = [rows(write, write.schema.empty_table())]  # as close_source: hints reach empty tables too
        tables += [rows(write, pa.Table.from_batches([b], write.schema)) for b in batches]
        resources.append(dlt.resource(tables, name=write.table, **resource_hints(write)))
    pipeline.run(resources)
    return _rows(folder / "l.duckdb")


def _rounds(paths: dict[str, Callable[[Path], int]], rounds: int) -> dict[str, tuple[int, float]]:
    """(rows, seconds) of each path's fastest round; the paths take turns, each into fresh files."""
    best: dict[str, tuple[int, float]] = {}
    for _ in range(rounds):
        for name, load in paths.items():
            with tempfile.TemporaryDirectory(prefix="closesync-bench-dlt-") as folder:
                started = time.perf_counter()
                rows = load(Path(folder))
                seconds = time.perf_counter() - started
            if name not in best or seconds < best[name][1]:
                best[name] = (rows, seconds)
    return best


def _results(best: dict[str, tuple[int, float]], peer: str, basis: str) -> list[dict[str, Any]]:
    peer_rows, peer_seconds = best[peer]
    results = []
    for name, (rows, seconds) in best.items():
        if rows != peer_rows:
            raise AssertionError(f"{name}: loaded {rows} rows, closesync's DuckDB sink {peer_rows}")
        rate = rows / seconds
        ratio = peer_seconds / seconds
        basis_text = "the peer itself" if name == peer else basis
        row = {"name": f"dlt.{name}", "value": round(rate, 1), "unit": "rows/s", "ratio": round(ratio, 4)}
        results.append({**row, "ratio_basis": basis_text, "rows": rows, "seconds": round(seconds, 3)})
        print(f"   {name}: {rows:,} rows in {seconds:.2f}s (peer {peer_seconds:.2f}s)", flush=True)
    return results


def run(quick: bool) -> list[dict[str, Any]]:
    import os

    from closesync.sandbox.process import SandboxProcess

    os.environ.setdefault("RUNTIME__LOG_LEVEL", "ERROR")  # dlt's schema notes would drown the figures
    leads, rounds = (150, 1) if quick else (2_000, 3)
    with SandboxProcess(seed=3, leads=leads, activities_per_lead=10) as sb:
        end_to_end = _rounds(
            {
                "duckdb_sink": lambda folder: _duckdb(sb, folder),
                "dlt_sink": lambda folder: _dlt_sink(sb, folder),
                "dlt_source": lambda folder: _dlt_source(sb, folder),
            },
            rounds,
        )
        data = _read(sb)
    load_only = _rounds(
        {
            "load_duckdb_sink": lambda folder: _load_duckdb_sink(data, folder),
            "load_dlt": lambda folder: _load_dlt(data, folder),
        },
        rounds,
    )
    basis = "rows/s through dlt (duckdb) / rows/s of closesync's DuckDB sink, same data, same run"
    return _results(end_to_end, "duckdb_sink", basis + ", read included") + _results(
        load_only, "load_duckdb_sink", basis + ", load only"
    )


if __name__ == "__main__":
    import sys

    for row in run("--quick" in sys.argv):
        print(row)
