"""Rich renderings of a sync: the live table while reports run and the summary after (`closesync sync`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

from rich.console import Console
from rich.live import Live
from rich.table import Table

from closesync.pipeline import ReportResult, SyncResult

_STATUS_STYLE = {"pending": "dim", "running": "cyan", "success": "green", "failed": "bold red"}


def results_table(results: Iterable[ReportResult], title: str | None = None) -> Table:
    """One row per report, named by its table (the name users query): what it loaded and what it cost."""
    table = Table(title=title, title_justify="left", header_style="bold")
    table.add_column("Table")
    table.add_column("Status")
    table.add_column("Rows", justify="right")
    table.add_column("Requests", justify="right")
    table.add_column("429 waits", justify="right")
    table.add_column("Time", justify="right")
    table.add_column("Note", overflow="fold", max_width=50)
    for r in results:
        style = _STATUS_STYLE.get(r.status, "")
        status = r.status + (" (incremental)" if r.incremental and r.status == "success" else "")
        table.add_row(
            r.table,
            f"[{style}]{status}[/]",
            f"{r.rows:,}",
            f"{r.requests:,}",
            f"{r.throttle_waits:,}",
            f"{r.duration_s:.1f}s" if r.started_at else "",
            "see below" if r.error else "; ".join(r.notes),
        )
    return table


class LiveProgress:
    """A live table of running reports; pass `.update` as the sync's progress callback."""

    def __init__(self, console: Console, results: list[ReportResult] | None = None) -> None:
        self._console = console
        self._results: dict[str, ReportResult] = {r.slug: r for r in results or []}
        self._lock = threading.Lock()
        self._live = Live(console=console, refresh_per_second=4, transient=True)
        self._last = 0.0

    def __enter__(self) -> LiveProgress:
        self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._live.__exit__(None, None, None)

    def update(self, result: ReportResult) -> None:
        with self._lock:
            self._results[result.slug] = result
            now = time.monotonic()
            if now - self._last < 0.2 and result.status == "running":
                return
            self._last = now
            running = [r for r in self._results.values() if r.status in ("running", "pending")]
            done = len(self._results) - len(running)
            self._live.update(
                results_table(running, title=f"Syncing… {done}/{len(self._results)} reports done")
            )


def print_summary(console: Console, result: SyncResult) -> None:
    """The end-of-sync table, then each failure named with its reason."""
    console.print(results_table(result.reports, title="Sync summary"))
    ok = sum(r.status == "success" for r in result.reports)
    console.print(
        f"{ok}/{len(result.reports)} reports succeeded, {result.rows:,} rows, {result.requests:,} requests."
    )
    for r in result.failed:
        status = f" (HTTP {r.http_status})" if r.http_status else ""
        console.print(f"[bold red]✗ {r.name}{status}:[/] {r.error}")
