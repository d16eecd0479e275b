"""`make demo`: start the local Close sandbox, sync the 38 classic reports plus meetings and SMS into
./data/close.duckdb, show queries, then build the analytics models (dbt) on that data and print answers from
the marts.

The sync runs through the real `closesync sync` command over real HTTP, exactly as it would against
api.close.com; only the base URL and the key differ.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
from rich.console import Console
from rich.table import Table

from closesync.analytics import OPTIONAL_REPORTS, ModelsError, build_models
from closesync.analytics.runner import default_work_dir
from closesync.reports import CLASSIC_REPORTS
from closesync.sandbox import Sandbox

DB = Path("data/close.duckdb")
#: The classic reports, and the meetings and SMS the activity mart counts (a few pages more).
REPORTS = [*(report.name for report in CLASSIC_REPORTS), *OPTIONAL_REPORTS]
QUERIES = {
    "Calls per user and direction": """
        SELECT user_name, direction, count(*) AS calls, round(sum(duration) / 3600.0, 1) AS hours
        FROM activities_call GROUP BY ALL ORDER BY calls DESC LIMIT 5""",
    "Open pipeline by status (money is in cents)": """
        SELECT status_label, count(*) AS opportunities, sum(value) // 100 AS dollars
        FROM opportunities WHERE status_type = 'active' GROUP BY ALL ORDER BY dollars DESC""",
    "Leads created per year": """
        SELECT year(date_created) AS year, count(*) AS leads FROM leads GROUP BY ALL ORDER BY year""",
    "Emails sent per month, last 6 months with mail": """
        SELECT date_trunc('month', date_created) AS month, count(*) AS emails
        FROM activities_emails WHERE direction = 'outgoing' GROUP BY ALL ORDER BY month DESC LIMIT 6""",
}

# Answers from the marts (schema `analytics`, docs/analytics.md). The sandbox's data ends before today, so
# "recent" means the latest months and week that have data.
ANSWERS = {
    "Open pipeline by status (dollars, and weighted by confidence)": """
        SELECT status_label, pipeline_name, sum(opportunity_count) AS opportunities,
               sum(total_value) // 100 AS dollars, sum(expected_value) // 100 AS expected_dollars
        FROM analytics.close_pipeline_now WHERE status_type = 'active' GROUP BY ALL ORDER BY dollars DESC""",
    "Win rate, the last 6 months with closed deals": """
        SELECT strftime(close_month, '%Y-%m') AS month, sum(won_count) AS won, sum(lost_count) AS lost,
               round(100.0 * sum(won_count) / (sum(won_count) + sum(lost_count)), 1) AS win_rate_pct,
               round(sum(total_days_to_close) / nullif(sum(won_count), 0), 1) AS avg_days_to_win
        FROM analytics.close_won_lost_by_month GROUP BY ALL ORDER BY month DESC LIMIT 6""",
    "Who did what, the last 12 months with activity (meetings held, SMS sent and received)": """
        SELECT user_name, sum(calls) AS calls, sum(emails_sent) AS emails_sent, sum(meetings) AS meetings,
               sum(sms_sent) AS sms_sent, sum(sms_received) AS sms_in, sum(total_activities) AS total
        FROM analytics.close_activity_by_user_day
        WHERE activity_date > (SELECT max(activity_date) - INTERVAL 1 YEAR
                               FROM analytics.close_activity_by_user_day)
        GROUP BY ALL ORDER BY total DESC, user_name LIMIT 5""",
}


def show(console: Console, queries: dict[str, str]) -> None:
    """Run each query on the demo's DuckDB file and print its rows as a table, then the SQL."""
    with duckdb.connect(str(DB), read_only=True) as con:
        for title, sql in queries.items():
            relation = con.sql(sql)
            table = Table(title=title, title_justify="left")
            for column in relation.columns:
                table.add_column(column)
            for row in relation.fetchall():
                table.add_row(*(str(v) for v in row))
            console.print(table)
            console.print(f"[dim]{' '.join(sql.split())}[/]\n")


def show_models(console: Console) -> int:
    """Build the analytics models on the synced data (`closesync models build`) and print answers."""
    destination = f"duckdb:{DB}"
    console.print("$ closesync models build   (dbt: staging models, marts and their tests)")
    try:
        result = build_models(destination, work_dir=default_work_dir(destination, DB.parent))
    except ModelsError as error:
        console.print(f"Models not built: {error}", style="bold red", markup=False, highlight=False)
        return 1
    console.print(f"Built {result.models} models, {result.tests} tests passed ({result.elapsed_s:.0f} s).\n")
    show(console, ANSWERS)
    console.print("See them as charts: [bold]closesync serve[/], then open http://127.0.0.1:8080/insights")
    console.print("The models' own documentation: closesync models docs")
    return 0


def main() -> int:
    console = Console()
    DB.parent.mkdir(parents=True, exist_ok=True)
    with Sandbox(seed=1, leads=500, rate_limit=(40, 1.0)) as sandbox:
        console.print(
            f"[bold]Close sandbox[/] at {sandbox.base_url} (500 leads, 40 requests/s per endpoint group)"
        )
        env = {**os.environ, "CLOSE_API_KEY": sandbox.api_key}
        command = [
            sys.executable, "-m", "closesync", "sync",
            "--api-key-env", "CLOSE_API_KEY", "--base-url", sandbox.base_url, "--db", str(DB), *REPORTS,
        ]  # fmt: skip
        console.print(
            "$ closesync sync --api-key-env CLOSE_API_KEY --base-url … --db data/close.duckdb"
            " <the 38 classic reports> 'Activities Meetings' 'Activities SMS'"
        )
        code = subprocess.call(command, env=env)
        stats = sandbox.stats()
    console.print(
        f"Sandbox served {stats['requests']['total']:,} requests, {stats['throttled']} answered 429."
    )
    if code != 0:
        console.print("[bold red]The sync reported failures (see above).[/]")
        return code

    show(console, QUERIES)
    console.print("Try your own queries:", style="bold")
    command = f"import duckdb; duckdb.connect('{DB}').sql('SHOW TABLES').show()"
    console.print(f'  .venv/bin/python -c "{command}"', markup=False, soft_wrap=True)
    console.print()
    return show_models(console)


if __name__ == "__main__":
    raise SystemExit(main())
