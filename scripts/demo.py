"""`make demo`: start the local Close sandbox, sync all 38 reports into ./data/close.duckdb, show queries.

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

from closesync.sandbox import Sandbox

DB = Path("data/close.duckdb")
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
            "--api-key-env", "CLOSE_API_KEY", "--base-url", sandbox.base_url, "--db", str(DB),
        ]  # fmt: skip
        console.print("$ closesync sync --api-key-env CLOSE_API_KEY --base-url … --db data/close.duckdb")
        code = subprocess.call(command, env=env)
        stats = sandbox.stats()
    console.print(
        f"Sandbox served {stats['requests']['total']:,} requests, {stats['throttled']} answered 429."
    )
    if code != 0:
        console.print("[bold red]The sync reported failures (see above).[/]")
        return code

    with duckdb.connect(str(DB), read_only=True) as con:
        for title, sql in QUERIES.items():
            relation = con.sql(sql)
            table = Table(title=title, title_justify="left")
            for column in relation.columns:
                table.add_column(column)
            for row in relation.fetchall():
                table.add_row(*(str(v) for v in row))
            console.print(table)
            console.print(f"[dim]{' '.join(sql.split())}[/]\n")
    console.print("Try your own queries:", style="bold")
    command = f"import duckdb; duckdb.connect('{DB}').sql('SHOW TABLES').show()"
    console.print(f'  .venv/bin/python -c "{command}"', markup=False, soft_wrap=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
