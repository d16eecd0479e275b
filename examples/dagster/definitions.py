"""Close CRM tables as Dagster assets, refreshed every hour.

    pip install 'closesync[dagster]'
    export CLOSE_API_KEY=api_...                      # read when a step runs, never stored by Dagster
    dagster dev -f examples/dagster/definitions.py    # then open http://localhost:3000

Try it without a Close account: run `closesync sandbox` in another terminal, and set
CLOSE_API_KEY=api_sandbox_0123456789abcdefABCDEF and CLOSE_BASE_URL=http://127.0.0.1:8000/api/v1/.
CLOSESYNC_DESTINATION picks where the tables go (a DuckDB file by default; postgres://…, parquet:DIR…).
"""

import os

from dagster import AssetSelection, Definitions, EnvVar, ScheduleDefinition, define_asset_job

from closesync.integrations.dagster import closesync_assets

close_assets = closesync_assets(
    reports=["leads", "leads_contacts", "opportunities", "users", "activities_call"],
    destination=os.environ.get("CLOSESYNC_DESTINATION", "duckdb:data/close.duckdb"),
    api_key=EnvVar("CLOSE_API_KEY"),  # or account="acme": a Data Center account (`closesync accounts add`)
    base_url=os.environ.get("CLOSE_BASE_URL", "https://api.close.com/api/v1/"),
)

close_job = define_asset_job("close_tables", selection=AssetSelection.groups("closesync"))

defs = Definitions(
    assets=close_assets,
    jobs=[close_job],
    schedules=[ScheduleDefinition(job=close_job, cron_schedule="0 * * * *")],
)
