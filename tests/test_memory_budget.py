"""The memory budget: one limit for the whole sync, honoured by construction (not by timing or RSS).

A sync with the smallest budget that holds one source still loads every record, never reserves more than
its limit, and reads one source at a time; a bad `--memory-limit` is a clear error before anything runs.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

import closesync
from closesync.cli import cli
from closesync.memory_budget import MIN_LIMIT_BYTES, SLOT_BYTES, MemoryBudget, MemoryLimitError, parse_size
from closesync.pipeline import ReportResult
from closesync.reports import get_report
from closesync.sandbox import Sandbox
from closesync.sinks.duckdb import DuckDBSink

REPORTS = ["leads", "leads_contacts", "activities_emails", "activities_call", "opportunities", "tasks", "users"]
SOURCE = {slug: get_report(slug).source for slug in REPORTS}


@pytest.mark.parametrize(
    ("text", "size"),
    [("400MB", 400_000_000), ("1GB", 10**9), ("512MiB", 512 << 20), ("0.5 GiB", 1 << 29), (300 << 20, 300 << 20)],
)
def test_sizes_are_read_in_the_usual_units(text: str | int, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize(("text", "says"), [("lots", "not a memory size"), ("-5MB", "not a memory size"),
                                            ("100MB", "too small"), ("12", "too small")])
def test_a_bad_limit_says_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(MemoryLimitError, match=says):
        parse_size(text)


def test_the_command_line_refuses_a_bad_limit_before_reading(home: Path) -> None:
    result = CliRunner().invoke(
        cli, ["--home", str(home), "sync", "users", "--api-key", "api_x", "--base-url",
              "http://127.0.0.1:9/api/v1/", "--memory-limit", "a lot"]
    )
    assert result.exit_code == 2
    assert "--memory-limit" in result.output and "not a memory size" in result.output
    assert "Traceback" not in result.output


def test_slots_follow_the_budget() -> None:
    assert MemoryBudget(MIN_LIMIT_BYTES).slots == 1
    assert MemoryBudget("2GB").slots > MemoryBudget("400MB").slots >= 2


def test_a_small_budget_loads_everything_one_source_at_a_time(sandbox: Sandbox, tmp_path: Path) -> None:
    running: set[str] = set()
    most = [0]
    lock = threading.Lock()

    def progress(result: ReportResult) -> None:
        with lock:
            (running.add if result.status == "running" else running.discard)(result.slug)
            most[0] = max(most[0], len({SOURCE[slug] for slug in running}))

    small = MemoryBudget(MIN_LIMIT_BYTES)
    sink = DuckDBSink(str(tmp_path / "small.duckdb"))
    try:
        result = closesync.sync(REPORTS, api_key=sandbox.api_key, base_url=sandbox.base_url, destination=sink,
                                memory_limit=small, progress=progress)
        cache = sink._fetch("SELECT current_setting('memory_limit')")[0][0]
    finally:
        sink.close()
    large = closesync.sync(REPORTS, api_key=sandbox.api_key, base_url=sandbox.base_url,
                           destination=f"duckdb:{tmp_path / 'large.duckdb'}", memory_limit="4GB")

    assert result.ok and large.ok, [r.error for r in result.failed + large.failed]
    assert [(r.slug, r.rows) for r in result.reports] == [(r.slug, r.rows) for r in large.reports]
    assert all(r.rows > 0 for r in result.reports)
    assert small.peak <= small.total  # never more reserved than the limit...
    assert small.peak >= SLOT_BYTES  # ...though the sources did reserve their share
    assert small.reserved == 0  # and gave everything back
    assert small.slots == 1 and most[0] == 1  # one slot: the sources ran one after the other
    assert cache.endswith("MiB") and float(cache.split()[0]) <= small.sink_bytes / 2**20  # DuckDB's share


def test_a_sync_checks_its_limit_before_reading(sandbox: Sandbox, tmp_path: Path) -> None:
    with pytest.raises(MemoryLimitError, match="too small"):
        closesync.sync(["users"], api_key=sandbox.api_key, base_url=sandbox.base_url,
                       destination=f"duckdb:{tmp_path / 'x.duckdb'}", memory_limit="64MB")
    assert not (tmp_path / "x.duckdb").exists()
