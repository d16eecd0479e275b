"""Everything the commands print with rich: the live sync table and summary, and the Data Center's tables.

Commands import this module when they run (rich is not needed for `closesync --help`). Every piece of data
(names, CRM values, Close's error text) goes through :func:`safe`: rich never reads it as markup, and its
control characters are shown, not sent to the terminal. Only this module's own labels are markup.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from rich import box
from rich.console import Console
from rich.live import Live
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from closesync.cli.common import echo, printable
from closesync.datacenter.progress import describe_wait
from closesync.datacenter.schedule import format_duration

if TYPE_CHECKING:
    from closesync.datacenter import Account, Dataset, Preview, Run
    from closesync.datacenter.progress import RunProgress
    from closesync.pipeline import ReportResult, SyncResult
    from closesync.reports import ReportSpec

_SYNC_STYLE = {"pending": "dim", "running": "cyan", "success": "green", "failed": "bold red"}
_RUN_COLOUR = {"success": "green", "failed": "red", "running": "yellow"}


def console() -> Console:
    """Rich output; piped output gets a wide page so tables stay one row per line for grep and logs."""
    return Console() if sys.stdout.isatty() else Console(width=220)


def safe(value: object, style: str = "") -> Text:
    """`value` as rich text: never parsed as markup (`[/bold]`, `[link=…]`), control characters escaped."""
    return Text(printable(str(value)), style=style)


def table(title: str | None, columns: Sequence[str]) -> Table:
    """A table whose long cells fold rather than being cut (ids, errors); title and headers are data."""
    result = Table(title=None if title is None else safe(title), header_style="bold", title_justify="left")
    for column in columns:
        result.add_column(safe(column), overflow="fold")
    return result


def _cell(value: object) -> Text:
    """Data made safe; a Text already built by this module (a coloured status) is kept as it is."""
    return value if isinstance(value, Text) else safe(value)


def add_row(result: Table, *cells: object) -> None:
    result.add_row(*map(_cell, cells))


def when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "-"


def status(name: str | None) -> Text:
    """A run status in its colour."""
    return safe(name or "-", _RUN_COLOUR.get(name or "", ""))


def _labelled(out: Console, pairs: Iterable[tuple[str, object]]) -> None:
    for label, value in pairs:
        out.print(Text.assemble((f"{label}:", "bold"), " ", _cell(value)))


# -- sync ---------------------------------------------------------------------------------------------------
def results_table(results: Iterable[ReportResult], title: str | None = None) -> Table:
    """One row per report, named by its table (the name users query): what it loaded and what it cost."""
    result = Table(title=title, title_justify="left", header_style="bold")
    result.add_column("Table")
    result.add_column("Status")
    result.add_column("Rows", justify="right")
    result.add_column("Requests", justify="right")
    result.add_column("429 waits", justify="right")
    result.add_column("Time", justify="right")
    result.add_column("Note", overflow="fold", max_width=50)
    for r in results:
        label = r.status + (" (incremental)" if r.incremental and r.status == "success" else "")
        add_row(
            result,
            r.table,
            safe(label, _SYNC_STYLE.get(r.status, "")),
            f"{r.rows:,}",
            f"{r.requests:,}",
            f"{r.throttle_waits:,}",
            f"{r.duration_s:.1f}s" if r.started_at else "",
            "see below" if r.error else "; ".join(r.notes),
        )
    return result


class LiveProgress:
    """A live table of running reports; pass `.update` as the sync's progress callback."""

    def __init__(self, out: Console, results: list[ReportResult] | None = None) -> None:
        self._results: dict[str, ReportResult] = {r.slug: r for r in results or []}
        self._lock = threading.Lock()
        self._live = Live(console=out, refresh_per_second=4, transient=True)
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


class RunStatusLine:
    """`datasets run` in a terminal: a spinner and one line of the run's counts (and, while Close's rate limit
    holds it back, what it waits for), redrawn four times a second from the run's RunProgress; it goes away
    when the run ends, and the finished run is printed in its place."""

    def __init__(self, out: Console, name: str, progress: RunProgress) -> None:
        self._name = name
        self._progress = progress
        self._spinner = Spinner("dots", style="cyan")
        self._live = Live(console=out, refresh_per_second=4, transient=True, get_renderable=self._render)

    def __enter__(self) -> RunStatusLine:
        self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._live.__exit__(None, None, None)

    def _render(self) -> Spinner:
        counts = self._progress.snapshot()
        tally = ", ".join(
            f"{counts[key]:,} {word}{'' if counts[key] == 1 else 's'}"
            for key, word in (("requests", "request"), ("throttle_waits", "throttle wait"))
        )
        line = Text.assemble("Running ", safe(repr(self._name), "bold"), f": {counts['rows']:,} rows read, {tally}")
        waiting = describe_wait(counts["wait"], counts["rows"])
        if waiting:
            line.append_text(safe(f"\n{waiting}", "yellow"))
        self._spinner.update(text=line)
        return self._spinner


def print_summary(out: Console, result: SyncResult) -> None:
    """The end-of-sync table, then each failure named with its reason."""
    out.print(results_table(result.reports, title="Sync summary"))
    ok = sum(r.status == "success" for r in result.reports)
    out.print(
        f"{ok}/{len(result.reports)} reports succeeded, {result.rows:,} rows, {result.requests:,} requests."
    )
    for r in result.failed:
        http = f" (HTTP {r.http_status})" if r.http_status else ""
        out.print(Text.assemble((f"✗ {printable(r.name)}{http}:", "bold red"), " ", safe(r.error)))


#: The parameters a report may take, as `closesync reports` heads them, and the options that set them.
REPORT_PARAMETERS = (("organization_id", "Org\nID"), ("user_id", "User\nID"), ("since", "Since/\nUntil"))


def print_reports(reports: Sequence[ReportSpec], *, wide: bool = False) -> None:
    """The catalog: each report, the parameters it takes and how it reads only what changed, fitting an
    80-column terminal (cells wrap); from 120 columns the slug too, and with `wide` what it reads and its key."""
    from closesync.reports.spec import CLASSIC_GROUP, grouped

    out = console() if wide else Console()  # the narrow table fits the terminal, even when piped
    with_slug = wide or out.width >= 120
    result = Table(title=f"{len(reports)} reports", box=box.SIMPLE_HEAD, pad_edge=False, title_justify="left")
    result.add_column("Report", overflow="fold")
    if with_slug:
        result.add_column("Slug", no_wrap=True)  # a slug is typed back: never cut, the name wraps instead
    for _, header in REPORT_PARAMETERS:
        result.add_column(header, justify="center", no_wrap=True)
    result.add_column("Incremental", overflow="fold", max_width=24)
    if wide:
        for header in ("Source", "Key"):
            result.add_column(header, overflow="fold")
    for label, specs in grouped(reports):  # the 38 classic reports first, then one section per family
        heading = f"{label} ({len(specs)})" if label == CLASSIC_GROUP else label
        result.add_row(safe(heading, "bold"), end_section=False)
        for spec in specs:
            takes = ["✓" if parameter in spec.parameters else "-" for parameter, _ in REPORT_PARAMETERS]
            extra = [spec.source_label, ", ".join(spec.primary_key)] if wide else []
            add_row(result, spec.name, *([spec.slug] if with_slug else []), *takes, spec.incremental_label, *extra)
        result.rows[-1].end_section = True
    out.print(result)
    out.print(
        "Org ID: --organization-id (default: the key owner's first), User ID: --user-id, Since/Until: --since/"
        "--until (sync; a dataset takes --since). Names or slugs both work; --wide or --json for more.",
        highlight=False,
    )


# -- accounts -----------------------------------------------------------------------------------------------
def print_accounts(accounts: Sequence[Account]) -> None:
    result = table(None, ["Name", "Key", "User", "Organizations", "Status", "Datasets", "Checked"])
    for a in accounts:
        key = a.key_hint if a.key_source == "stored" else f"${a.key_env} ({a.key_hint})"
        add_row(
            result,
            a.name,
            key,
            a.user_email or "-",
            ", ".join(c.label for c in a.organizations),
            safe(a.status, "green") if a.status == "ok" else safe(f"{a.status}: {a.last_error}", "red"),
            str(a.dataset_count),
            when(a.last_checked_at),
        )
    console().print(
        result if accounts else "No accounts yet: `closesync accounts add NAME --api-key-env VAR`."
    )


def print_account(a: Account) -> None:
    out = console()
    key = a.key_hint if a.key_source == "stored" else f"from ${a.key_env} ({a.key_hint})"
    _labelled(
        out,
        (
            ("Name", a.name),
            ("Id", a.id),
            ("Key", key),
            ("Base URL", a.base_url),
            ("User", f"{a.user_name or '-'} <{a.user_email or '-'}> ({a.user_id})"),
            ("Status", a.status + (f": {a.last_error}" if a.last_error else "")),
            ("Checked", when(a.last_checked_at)),
            ("Datasets", a.dataset_count),
        ),
    )
    # plain lines, not a table: ids must never be folded, users copy them into --organization-id / --user-id
    out.print("[bold]Organizations[/bold] (--organization-id):")
    for c in a.organizations:
        echo(f"  {c.id}  {c.label}")
    out.print("[bold]Users[/bold] (--user-id):")
    for c in a.users:
        echo(f"  {c.id}  {c.label}")


# -- datasets -----------------------------------------------------------------------------------------------
def rows_of(run: Run) -> str:
    """"1000 rows", or "0 written (1000 read)" when fewer reached the table than were read (a failed run)."""
    if run.rows_written is None or run.rows_written == run.rows:
        return f"{run.rows} rows"
    return f"{run.rows_written} written ({run.rows} read)"


def _read_by(run: Run) -> str:
    """What a dataset's last run read ("1 read": new or changed rows), or what it wrote of it."""
    return f"{run.rows} read" if run.rows_written in (None, run.rows) else rows_of(run)


def _last_run(d: Dataset) -> Text:
    run = d.last_run
    if run is None:
        return Text("never")
    return Text.assemble(status(run.status), f" {when(run.started_at)} ({_read_by(run)})")


def _table_rows(d: Dataset) -> str:
    """Rows in the table now; "-" before the first run or while its destination is busy."""
    return "-" if d.table_rows is None else f"{d.table_rows:,}"


def _whose(d: Dataset) -> str:
    """The account, and the organization and user the dataset reads, by name (and id)."""
    chosen = [
        value
        for parameter, value in (("organization_id", d.organization_display), ("user_id", d.user_display))
        if value and parameter in d.parameters
    ]
    return "\n".join([d.account_name, *chosen])


def print_datasets(datasets: Sequence[Dataset]) -> None:
    result = table(None, ["Name", "Report", "Account", "Schedule", "Method", "Rows", "Last run", "Next run"])
    for d in datasets:
        schedule = d.schedule if d.enabled else f"{d.schedule} (paused)"
        nxt = "running" if d.running else f"not planned: {d.problem}" if d.problem else when(d.next_run_at)
        add_row(result, d.name, d.report_name, _whose(d), schedule, d.method, _table_rows(d), _last_run(d), nxt)
    console().print(
        result if datasets else "No datasets yet: `closesync datasets create NAME --account A --report R`."
    )


def _parameters(d: Dataset) -> list[tuple[str, object]]:
    """The report's parameters only (an organization's report has no User ID), ids with their names."""
    shown: dict[str, tuple[str, object]] = {
        "organization_id": ("Organization ID", d.organization_display or "default (the key owner's first)"),
        "user_id": ("User ID", d.user_display or "all users"),
        "since": ("Since", when(d.since) if d.since else "the whole history"),
    }
    return [shown[p] for p in d.parameters if p in shown]


def print_dataset(d: Dataset) -> None:
    retry = f"{d.retries} after {format_duration(d.retry_delay_s)}" if d.retries else "none"
    _labelled(
        console(),
        (
            ("Name", d.name),
            ("Id", d.id),
            ("Description", d.description or "-"),
            ("Account", d.account_name),
            ("Report", f"{d.report_name} ({d.report})"),
            *_parameters(d),
            ("Method", d.method),
            ("Schedule", d.schedule + ("" if d.enabled else " (paused)")),
            ("Retries", retry),
            ("Destination", d.destination_display),
            ("Table", d.table),
            ("Rows in table", _table_rows(d)),
            ("Next run", "running now" if d.running else when(d.next_run_at)),
            ("Last run", _last_run(d)),
            *([("Problem", d.problem)] if d.problem else []),
        ),
    )


def print_run(run: Run) -> None:
    """One finished run in a line (and its error on the next)."""
    line = Text.assemble(f"Run {run.id} of ", safe(repr(run.dataset_name)), ": ", status(run.status))
    refresh = ", full refresh" if run.full_refresh else ""
    line.append(f"{refresh}, {rows_of(run)}, {run.requests} requests, {run.throttle_waits} throttle waits")
    line.append(f", {run.duration_s or 0:.1f}s.")
    if run.error:
        where = f" in {run.error_report}" if run.error_report else ""
        http = f" (HTTP {run.http_status})" if run.http_status else ""
        line.append_text(safe(f"\nError{where}{http}: {run.error}"))
    console().print(line)


def _run_error(r: Run) -> str:
    """The report that failed, the HTTP status (once) and the error, on one line."""
    if not r.error:
        return ""
    http = f"HTTP {r.http_status} " if r.http_status and f"HTTP {r.http_status}" not in r.error else ""
    return f"{r.error_report + ': ' if r.error_report else ''}{http}{r.error}"


def runs_table(title: str, runs: Sequence[Run], *, with_dataset: bool = False) -> Table:
    """Runs as rows: what `datasets history` and `runs list` print."""
    columns = ["Run", "Dataset", "Status", "Started", "Duration", "Rows", "Requests", "Throttle waits",
               "Attempt", "Trigger", "Error"]
    result = table(title, columns if with_dataset else [c for c in columns if c != "Dataset"])
    for r in runs:
        duration = f"{r.duration_s:.1f}s" if r.duration_s is not None else "-"
        cells = [str(r.id), r.dataset_name, status(r.status), when(r.started_at), duration,
                 rows_of(r).removesuffix(" rows"), str(r.requests), str(r.throttle_waits), str(r.attempt),
                 r.trigger + (" (full refresh)" if r.full_refresh else ""), _run_error(r)]
        add_row(result, *(cells if with_dataset else cells[:1] + cells[2:]))
    return result


def print_history(name: str, runs: Sequence[Run], *, only: str | None = None) -> None:
    """A dataset's runs (`only` names the status they were filtered by)."""
    empty = f"Dataset {name!r} has no {only} runs." if only else f"Dataset {name!r} has not run yet."
    console().print(runs_table(f"Runs of {name}", runs) if runs else safe(empty))


def print_runs(runs: Sequence[Run], *, filtered: bool = False) -> None:
    empty = "No runs match these filters." if filtered else "No runs yet: `closesync datasets run NAME`."
    console().print(runs_table("Runs, newest first", runs, with_dataset=True) if runs else safe(empty))


def print_run_detail(run: Run) -> None:
    """One run in full: its counts, each report's line, the error whole and the notes."""
    out = console()
    finished = when(run.finished_at) if run.finished_at else "-"
    duration = "running" if run.status == "running" else f"{run.duration_s or 0:.1f}s"
    _labelled(
        out,
        (
            ("Run", run.id),
            ("Dataset", f"{run.dataset_name} (id {run.dataset_id})"),
            ("Status", status(run.status)),
            ("Trigger", run.trigger),
            ("Attempt", run.attempt),
            ("Started", when(run.started_at)),
            ("Finished", finished),
            ("Duration", duration),
            ("Rows", run.rows),
            ("Requests", run.requests),
            ("Throttle waits", run.throttle_waits),
            ("Retries", run.retries),
        ),
    )
    if run.http_status:
        _labelled(out, (("HTTP status", run.http_status),))
    if run.reports:
        reports = table("Reports", ["Report", "Table", "Status", "Rows", "Requests", "Throttle waits",
                                    "Retries", "Duration"])
        for rep in run.reports:
            add_row(reports, rep.get("report", ""), rep.get("table", ""), status(rep.get("status")),
                    str(rep.get("rows", 0)), str(rep.get("requests", 0)), str(rep.get("throttle_waits", 0)),
                    str(rep.get("retries", 0)), f"{rep.get('duration_s') or 0:.1f}s")
        out.print(reports)
    for rep in run.reports:
        for note in rep.get("notes") or []:
            out.print(Text.assemble(("Note", "bold"), " ", safe(f"({rep.get('report', '')}): {note}")))
    if run.error:
        where = f" in {run.error_report}" if run.error_report else ""
        out.print(Text.assemble((f"Error{printable(where)}:", "bold red")))
        out.print(safe(run.error), soft_wrap=True)  # whole, never cut: users paste it into a ticket


def print_preview(preview: Preview, shown: Sequence[str], expanded: bool, chosen: bool) -> None:
    """The `shown` columns of a preview: one table (cells cut at 60 characters) or one block per row.

    ``chosen`` says the user picked the columns, so no "more columns" hint is printed.
    """
    index = [preview.columns.index(c) for c in shown]
    out = console()
    title = f"{preview.table} (first {len(preview.rows)} rows)"
    if expanded:
        out.print(safe(title))
        for n, row in enumerate(preview.rows, 1):
            block = table(f"row {n}", ["Column", "Value"])
            for c, i in zip(shown, index, strict=True):
                add_row(block, c, "" if row[i] is None else row[i])
            out.print(block)
        return
    result = table(title, shown)
    for row in preview.rows:
        add_row(result, *("" if row[i] is None else str(row[i])[:60] for i in index))
    out.print(result)
    hidden = len(preview.columns) - len(shown)
    if hidden > 0 and not chosen:
        out.print(f"({hidden} more columns: use --columns A,B or --expanded)", highlight=False)
