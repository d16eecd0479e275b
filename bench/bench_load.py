"""Shaping + loading into DuckDB, next to the floor measured in the same run.

Datasets come from the sandbox generator directly (no HTTP): activities in the sandbox's mix of kinds
(calls, emails, threads, notes, status changes, custom activities; one table per report) and leads with
their nested contacts (``leads`` + ``leads_contacts``). For each dataset:

- ours: the pipeline's path: ``reports.read_records`` (``open_read``'s buffering sized by shaped bytes,
  shaping and nested reports, fed from the generator instead of HTTP) -> ``DuckDBSink.writer(...).write``
  with the sink's defaults, replace, commit. Only shaping and loading are timed (generating is not).
- floor: the same records (same seed) materialised in a list -> ``pyarrow.Table.from_pylist`` -> DuckDB
  ``CREATE TABLE AS``, timed the same way. The floor does no typing or custom-field work, so it is a bound,
  not a peer; the goal is ours/floor >= 0.7.
- sink only: the already-shaped batches loaded by the writer vs ``CREATE TABLE AS`` of the same Arrow
  table: what the sink itself costs over DuckDB's own bulk path, plus an upsert of 10% of the rows.

Every case runs in its own subprocess so each peak RSS (``ru_maxrss``, the kernel's exact high-water mark;
psutil gives the baseline after imports) is independent. Memory must stay flat as the size grows: peak RSS
is reported at two sizes (full: 100k and 1M activities, 10k and 100k leads; quick: 10k and 50k
activities, 2k and 10k leads) as ``load.duckdb.<dataset>_<size>.peak_rss`` (MB), ratio = peak / smaller peak.
"""

from __future__ import annotations

import itertools
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BATCH = 20_000  # records per shaping batch, as the pipeline reads (reports.extract.DEFAULT_BATCH_ROWS)
SEED = 7
ACTIVITIES_PER_LEAD = 20.0


# --------------------------------------------------------------------------------------------------
# Data and shaping (imported lazily: the child process does the work)


def _chunks(items: Iterable[dict], size: int) -> Iterator[list[dict]]:
    it = iter(items)
    while chunk := list(itertools.islice(it, size)):
        yield chunk


def _plan(dataset: str, n: int) -> tuple[Any, list[tuple[Any, str]]]:
    """(sandbox data, [(report spec, sandbox collection)]) for a dataset of about n top-level records."""
    from closesync.reports import get_report
    from closesync.sandbox.data import SandboxData
    from closesync.sandbox.layout import ACTIVITY_MIX

    if dataset == "activities":
        data = SandboxData(
            seed=SEED, leads=max(1, round(n / ACTIVITIES_PER_LEAD)), activities_per_lead=ACTIVITIES_PER_LEAD
        )
        specs = {spec.path.strip("/"): spec for spec in _all_reports() if spec.read == "by_date"}
        return data, [(specs[kind], kind) for kind in ACTIVITY_MIX if kind in specs]
    data = SandboxData(seed=SEED, leads=n, activities_per_lead=0.0)
    return data, [(get_report("Leads"), "lead")]


def _all_reports() -> tuple[Any, ...]:
    from closesync.reports import REPORTS

    return REPORTS


def _custom_fields(data: Any) -> list[Any]:
    from closesync.reports import CustomField

    out = []
    for kind in ("lead", "contact", "opportunity", "activity"):
        try:
            definitions = data.records(f"custom_field/{kind}")
        except KeyError:
            continue
        out += [CustomField.from_definition(d, kind) for d in definitions]
    return out


def _children(spec: Any, parents: list[dict]) -> list[dict]:
    """Rows of a nested report (e.g. leads_contacts) from parent records, as the pipeline builds them."""
    from closesync.reports.nesting import nested_rows

    return nested_rows(spec, parents)


# --------------------------------------------------------------------------------------------------
# Cases (each runs in a child process)


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 1e6


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3  # KiB on Linux


class _Untimed:
    """Records from the generator, pulled in small chunks while timing how long generating them took (the
    floor does not pay for generation either, so that time is taken out of ours)."""

    def __init__(self, records: Iterator[dict]) -> None:
        self._records = records
        self.seconds = 0.0

    def __iter__(self) -> Iterator[dict]:
        while True:
            t0 = time.perf_counter()
            chunk = list(itertools.islice(self._records, 500))
            self.seconds += time.perf_counter() - t0
            if not chunk:
                return
            yield from chunk


def case_ours(dataset: str, n: int, workdir: str) -> dict[str, Any]:
    """The pipeline's own path: ``reports.read_records`` (the buffering, shaping and nested reports of
    ``open_read``, fed from the generator instead of HTTP) into ``DuckDBSink`` writers, as ``pipeline`` does."""
    from closesync.reports import get_report, read_records
    from closesync.sinks.duckdb import DuckDBSink
    from closesync.sinks.writespec import WriteSpec

    data, plan = _plan(dataset, n)
    fields = _custom_fields(data)
    base = _rss_mb()
    sink = DuckDBSink(os.path.join(workdir, "ours.duckdb"))
    timed = 0.0
    rows = 0
    try:
        for spec, collection in plan:
            specs = [spec] + ([get_report("Leads Contacts")] if dataset == "leads" else [])
            source = _Untimed(data.iter_records(collection))
            read = read_records(specs, lambda src=source: iter(src), fields)
            with ExitStack() as stack:
                writers = {
                    s.slug: stack.enter_context(
                        sink.writer(WriteSpec(s.slug, read.schemas[s.slug], "replace", s.primary_key))
                    )
                    for s in specs
                }
                changes = read.changes()
                while True:
                    # generating the records is not timed: only shaping (inside changes()) and loading are
                    t0 = time.perf_counter()
                    change = next(changes, None)
                    if change is None:
                        break
                    slug, _kind, batch = change
                    writers[slug].write(batch)
                    timed += time.perf_counter() - t0
                    rows += batch.num_rows
                t0 = time.perf_counter()
            timed += time.perf_counter() - t0  # the commits (writers close with the stack)
            timed -= source.seconds
        sink.checkpoint()
    finally:
        sink.close()
    return {"rows": rows, "seconds": timed, "base_rss_mb": base, "peak_rss_mb": _peak_mb()}


def case_floor(dataset: str, n: int, workdir: str) -> dict[str, Any]:
    import duckdb
    import pyarrow as pa

    from closesync.reports import get_report

    data, plan = _plan(dataset, n)
    base = _rss_mb()
    con = duckdb.connect(os.path.join(workdir, "floor.duckdb"))
    timed = 0.0
    rows = 0
    for spec, collection in plan:
        records = list(data.iter_records(collection))
        tables = [(spec.slug, records)]
        if dataset == "leads":
            tables.append(
                (get_report("Leads Contacts").slug, [c for r in records for c in r.get("contacts") or ()])
            )
        for slug, recs in tables:
            t0 = time.perf_counter()
            table = pa.Table.from_pylist(recs)
            con.register("floor_src", table)
            con.execute(f'CREATE TABLE "{slug}" AS SELECT * FROM floor_src')
            con.unregister("floor_src")
            timed += time.perf_counter() - t0
            rows += len(recs)
            del table
        del records, tables
    con.execute("CHECKPOINT")
    con.close()
    return {"rows": rows, "seconds": timed, "base_rss_mb": base, "peak_rss_mb": _peak_mb()}


def case_sink(dataset: str, n: int, workdir: str) -> dict[str, Any]:
    """Sink cost alone: shaped batches through the writer vs CREATE TABLE AS; then an upsert of 10%."""
    import duckdb
    import pyarrow as pa

    from closesync.reports import Shaper
    from closesync.sinks.duckdb import DuckDBSink
    from closesync.sinks.writespec import WriteSpec

    data, plan = _plan(dataset, n)
    spec, collection = plan[0]
    shaper = Shaper(spec, _custom_fields(data))
    batches = [shaper.shape(records) for records in _chunks(data.iter_records(collection), BATCH)]
    rows = sum(b.num_rows for b in batches)

    con = duckdb.connect(os.path.join(workdir, "ctas.duckdb"))
    t0 = time.perf_counter()
    con.register("src", pa.Table.from_batches(batches, schema=shaper.schema))
    con.execute("CREATE TABLE t AS SELECT * FROM src")
    ctas = time.perf_counter() - t0
    con.close()

    sink = DuckDBSink(os.path.join(workdir, "sink.duckdb"))
    t0 = time.perf_counter()
    with sink.writer(WriteSpec(spec.slug, shaper.schema, "replace", spec.primary_key)) as w:
        for b in batches:
            w.write(b)
    ours = time.perf_counter() - t0
    tenth = pa.Table.from_batches(batches, schema=shaper.schema).slice(0, max(1, rows // 10)).to_batches()
    t0 = time.perf_counter()
    with sink.writer(WriteSpec(spec.slug, shaper.schema, "upsert", spec.primary_key)) as w:
        for b in tenth:
            w.write(b)
    upsert = time.perf_counter() - t0
    assert sink.row_count(spec.slug) == rows, "upsert duplicated rows"
    sink.close()
    return {
        "table": spec.slug,
        "rows": rows,
        "sink_seconds": ours,
        "ctas_seconds": ctas,
        "upsert_rows": sum(b.num_rows for b in tenth),
        "upsert_seconds": upsert,
    }


CASES = {"ours": case_ours, "floor": case_floor, "sink": case_sink}


def _child() -> None:
    args = json.loads(sys.argv[1])
    with tempfile.TemporaryDirectory(prefix="bench_load_") as workdir:
        result = CASES[args["case"]](args["dataset"], args["n"], workdir)
    print("RESULT " + json.dumps(result), flush=True)


def _run_case(case: str, dataset: str, n: int) -> dict[str, Any]:
    code = f"import sys; sys.path[:0] = [{str(ROOT)!r}, {str(ROOT / 'src')!r}]; from bench.bench_load import _child; _child()"
    arg = json.dumps({"case": case, "dataset": dataset, "n": n})
    proc = subprocess.run([sys.executable, "-c", code, arg], capture_output=True, text=True, check=False)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    raise RuntimeError(f"bench case {case}/{dataset}/{n} failed:\n{proc.stderr[-3000:]}")


# --------------------------------------------------------------------------------------------------


def _label(n: int) -> str:
    return f"{n // 1_000_000}m" if n % 1_000_000 == 0 else f"{n // 1000}k"


def run(quick: bool) -> list[dict]:
    sizes = {"activities": (10_000, 50_000), "leads": (2_000, 10_000)}
    if not quick:
        sizes = {"activities": (100_000, 1_000_000), "leads": (10_000, 100_000)}
    results: list[dict] = []
    for dataset, (small, big) in sizes.items():
        ours_small = _run_case("ours", dataset, small)
        ours = _run_case("ours", dataset, big)
        floor = _run_case("floor", dataset, big)
        ours_rate = ours["rows"] / ours["seconds"]
        floor_rate = floor["rows"] / floor["seconds"]
        results.append(
            {
                "name": f"load.duckdb.{dataset}_{_label(big)}.rows_per_s",
                "value": ours_rate,
                "unit": "rows/s",
                "ratio": ours_rate / floor_rate,
                "bound": "pyarrow.Table.from_pylist + DuckDB CREATE TABLE AS, same records, same run",
                "floor_rows_per_s": floor_rate,
                "rows": ours["rows"],
                "seconds": ours["seconds"],
                "floor_rows": floor["rows"],
                "floor_seconds": floor["seconds"],
                "goal": ">= 0.7",
            }
        )
        for size, case in ((small, ours_small), (big, ours)):
            results.append(
                {
                    "name": f"load.duckdb.{dataset}_{_label(size)}.peak_rss",
                    "value": case["peak_rss_mb"],
                    "unit": "MB",
                    "ratio": case["peak_rss_mb"] / ours_small["peak_rss_mb"],
                    "bound": f"ratio = this peak / peak at {_label(small)} {dataset} (flat memory: close to 1; "
                    "goal <= 1.3 at the larger size)",
                    "base_rss_mb": case["base_rss_mb"],
                    "rows": case["rows"],
                    **({"floor_peak_rss_mb": floor["peak_rss_mb"]} if size == big else {}),
                }
            )
        sink = _run_case("sink", dataset, big)
        results.append(
            {
                "name": f"load.duckdb.{dataset}_{_label(big)}.sink_only_rows_per_s",
                "value": sink["rows"] / sink["sink_seconds"],
                "unit": "rows/s",
                "ratio": sink["ctas_seconds"] / sink["sink_seconds"],
                "bound": f"CREATE TABLE AS of the same shaped Arrow table ({sink['table']})",
                "table": sink["table"],
                "rows": sink["rows"],
            }
        )
        results.append(
            {
                "name": f"load.duckdb.{dataset}_{_label(big)}.upsert_10pct_rows_per_s",
                "value": sink["upsert_rows"] / sink["upsert_seconds"],
                "unit": "rows/s",
                "ratio": (sink["upsert_rows"] / sink["upsert_seconds"])
                / (sink["rows"] / sink["sink_seconds"]),
                "bound": "ratio = upsert rows/s over replace rows/s (delete + insert in one transaction)",
                "table": sink["table"],
                "rows": sink["upsert_rows"],
                "existing_rows": sink["rows"],
            }
        )
    return results
