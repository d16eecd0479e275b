"""What the models read and write: the reports they need, the marts they build and where (docs/analytics.md).

Cheap to import (no dbt, no driver), so the web app and the CLI can name the marts and their schema.
"""

from __future__ import annotations

from closesync.sinks.destination import parse_destination

#: Reports whose tables the staging models read (`closesync sync` them first).
REQUIRED_REPORTS: tuple[str, ...] = (
    "Activities Call",
    "Activities Emails",
    "Activities Notes",
    "Activities Lead Status Change",
    "Activities Opportunity Status Change",
    "Leads",
    "Contacts",
    "Opportunities",
    "Opportunity Statuses",
    "Lead Statuses",
    "Users",
    "Tasks",
)

#: Reports the models use when their tables exist (meetings and SMS in the activity mart).
OPTIONAL_REPORTS: tuple[str, ...] = ("Activities Meetings", "Activities SMS")

#: The marts, in the order docs/analytics.md describes them.
MARTS: tuple[str, ...] = (
    "close_pipeline_now",
    "close_won_lost_by_month",
    "close_activity_by_user_day",
    "close_lead_status_funnel",
    "close_lead_time_in_status",
    "close_task_backlog",
    "close_opportunity_status_transitions",
    "close_leads",
    "close_opportunities",
)

MODELS_SCHEMA = "analytics"
_DEFAULT_SCHEMAS = {"duckdb": "main", "postgres": "public"}


def source_schema(destination: str) -> str:
    """The schema holding closesync's tables: `main` in DuckDB, the URL's `?schema=` (else public)."""
    parsed = parse_destination(destination)
    if parsed.kind == "postgres":
        from closesync.sinks.postgres.names import split_destination

        return split_destination(parsed.target)[1]
    return _DEFAULT_SCHEMAS.get(parsed.kind, "main")


def models_schema(destination: str) -> str:
    """The schema the models are built in: `analytics`, or `S_analytics` beside a PostgreSQL schema S other
    than public (so two closesync schemas of one database keep their models apart)."""
    schema = source_schema(destination)
    return MODELS_SCHEMA if schema in _DEFAULT_SCHEMAS.values() else f"{schema}_{MODELS_SCHEMA}"
