"""What a user chooses for a dataset, typed once.

:class:`DatasetSpec` is the one list of dataset fields. The service validates it; the JSON API's pydantic
models, the web form and the CLI's options are derived from it (or checked against it by tests), so a new
field is added here and nowhere else by hand. Each field's ``metadata["help"]`` is the sentence every front
end shows next to it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date, datetime

from closesync.sinks.destination import DEFAULT_METHOD, METHODS, Method

# The update methods are the sinks' vocabulary; re-exported so front ends need not import the sinks.
__all__ = [
    "DATASET_FIELDS",
    "DEFAULT_METHOD",
    "DEFAULT_RETRY_DELAY",
    "DEFAULT_SCHEDULE",
    "MAX_RETRIES",
    "METHODS",
    "METHOD_HELP",
    "DatasetSpec",
    "Method",
]

DEFAULT_SCHEDULE = "manual"
DEFAULT_RETRY_DELAY = "5m"
MAX_RETRIES = 20

#: What each update method does to the table, in the words every front end shows (help, form, CLI).
METHOD_HELP: dict[Method, str] = {
    "replace": "every run reads everything and the table becomes exactly what was read",
    "append": "every new or changed record version is added once; earlier rows stay",
    "upsert": "only what changed is read and merged by primary key; records deleted in Close are removed",
}


def methods_help() -> str:
    """One sentence per update method: the help of every --method option."""
    return " ".join(f"{m}: {METHOD_HELP[m]}." for m in METHODS)


def _help(text: str) -> dict[str, str]:
    return {"help": text}


@dataclass(frozen=True)
class DatasetSpec:
    """One report of one account loaded into one table, with its schedule and retry policy (user input)."""

    name: str = field(metadata=_help("A name for the dataset, unique in this home."))
    account: str | int = field(metadata=_help("Account name (or id)."))
    report: str = field(metadata=_help("Report name or slug, e.g. 'Activities Call'."))
    organization_id: str | None = field(
        default=None, metadata=_help("Organization to read [default: the key owner's first].")
    )
    user_id: str | None = field(default=None, metadata=_help("Only this user's rows."))
    since: str | date | datetime | None = field(
        default=None, metadata=_help("Only records from this date (2024-01-31).")
    )
    method: Method = field(default=DEFAULT_METHOD, metadata=_help("What a run does to the table. " + methods_help()))
    schedule: str = field(default=DEFAULT_SCHEDULE, metadata=_help("When to run (see the schedule forms)."))
    retries: int = field(default=0, metadata=_help("Retries after a failed run."))
    retry_delay: str | int = field(
        default=DEFAULT_RETRY_DELAY, metadata=_help("Wait before a retry, e.g. 30s, 5m (or seconds).")
    )
    destination: str | None = field(
        default=None,
        metadata=_help(
            "duckdb:PATH, postgres://…, parquet:DIR, csv:DIR or dlt:DESTINATION[?dataset=…] "
            "[default: duckdb:HOME/close.duckdb]."
        ),
    )
    table: str | None = field(default=None, metadata=_help("Table name [default: the report's slug]."))
    description: str = field(default="", metadata=_help("Free text."))
    enabled: bool = field(default=True, metadata=_help("Run on its schedule (false pauses it)."))

    def replace(self, **changes: object) -> DatasetSpec:
        """A copy with some fields changed (unknown names raise TypeError)."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


#: The dataset fields in form order: what the API models, the web form and the CLI options cover.
DATASET_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(DatasetSpec))
