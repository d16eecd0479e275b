"""Loading through dlt against closesync's own DuckDB sink: the same sandbox data, measured in the same run.

One sandbox (its own process, HTTP on 127.0.0.1, no rate limit) serves every path; each path does a full
read of the same reports (leads and their nested reports, contacts, opportunities, tasks, calls, emails):

- ``duckdb``: ``closesync.sync`` into closesync's DuckDB sink (the peer);
- ``dlt_sink``: ``closesync.sync`` into ``dlt:duckdb`` (`DltSink`: batches staged as Parquet, one dlt load
  per publish group);
- ``dlt_source``: ``dlt.pipeline(destination=duckdb).run(close_source(...))``.

value = rows loaded / wall time (reading from the sandbox included, as a user sees it); ratio = the dlt
path's rows/s over the DuckDB sink's (1.0 = as fast). Each path runs twice, into fresh files; the faster run
counts (the machine is shared). Quick: 150 leads (about 5k rows); full: 2,000 leads (about 60k rows).
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
RUNS = 2


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


def _best(load: Callable[[Any, Path], int], sb: Any) -> tuple[int, float]:
    """(rows, seconds) of the faster of RUNS full loads, each into fresh files."""
    best: tuple[int, float] | None = None
    for _ in range(RUNS):
        with tempfile.TemporaryDirectory(prefix="closesync-bench-dlt-") as folder:
            started = time.perf_counter()
            rows = load(sb, Path(folder))
            seconds = time.perf_counter() - started
        if best is None or seconds < best[1]:
            best = (rows, seconds)
    assert best is not None
    return best


def run(quick: bool) -> list[dict[str, Any]]:
    import os

    from closesync.sandbox.process import SandboxProcess

    os.environ.setdefault("RUNTIME__LOG_LEVEL", "ERROR")  # dlt's schema notes would drown the figures
    leads = 150 if quick else 2_000
    results = []
    with SandboxProcess(seed=3, leads=leads, activities_per_lead=10) as sb:
        peer_rows, peer_seconds = _best(_duckdb, sb)
        peer_rate = peer_rows / peer_seconds
        results.append(
            {
                "name": "dlt.duckdb_sink",
                "value": round(peer_rate, 1),
                "unit": "rows/s",
                "ratio": 1.0,
                "ratio_basis": "the peer itself",
                "rows": peer_rows,
                "seconds": round(peer_seconds, 3),
            }
        )
        for name, load in (("dlt_sink", _dlt_sink), ("dlt_source", _dlt_source)):
            rows, seconds = _best(load, sb)
            if rows != peer_rows:
                raise AssertionError(f"{name}: loaded {rows} rows, closesync's DuckDB sink {peer_rows}")
            rate = rows / seconds
            results.append(
                {
                    "name": f"dlt.{name}",
                    "value": round(rate, 1),
                    "unit": "rows/s",
                    "ratio": round(rate / peer_rate, 4),
                    "ratio_basis": "rows/s through dlt (duckdb) / rows/s of closesync's DuckDB sink, same data and run",
                    "rows": rows,
                    "seconds": round(seconds, 3),
                }
            )
            print(f"   {name}: {rows:,} rows in {seconds:.2f}s vs {peer_seconds:.2f}s", flush=True)
    return results


if __name__ == "__main__":
    import sys

    for row in run("--quick" in sys.argv):
        print(row)
