"""The spec machinery: what a report is (`ReportSpec`, `ReadKind`, `Nested`), the parameters of a read
(`ReportParams`) and plain-data views of specs. The 38 specs themselves are data, in `catalog.py`.

A spec says what a report reads (a list endpoint, a date-walked list, a search, a nested array of a
parent object, a single object or a report request), its parameters, keys, incremental cursor and typed
columns. Extraction and shaping are generic over specs; nothing here talks HTTP.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from closesync.close.groups import endpoint_group
from closesync.errors import ClosesyncError
from closesync.reports.columns import Column


class UnknownReportError(ClosesyncError, KeyError):
    """Raised by `get_report` for a name or slug that is not in the catalog."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown report"


@dataclass(frozen=True)
class ReportParams:
    """User-chosen parameters of a read; None means the report's default (see DESIGN.md)."""

    organization_id: str | None = None
    user_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def __post_init__(self) -> None:
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                object.__setattr__(self, name, value.replace(tzinfo=UTC))
        if self.since is not None and self.until is not None and self.since >= self.until:
            raise ValueError(
                f"since ({self.since.isoformat()}) must be before until ({self.until.isoformat()})"
            )


@dataclass(frozen=True)
class Nested:
    """Where a nested report's rows live inside its parent object.

    `path` may go through one list of containers (``("pipelines", "statuses")``); `fallback` is tried when
    the parent lacks the first key (older Close responses, or keys real accounts do not have).
    `parent_columns` copies parent values onto each row: (column, key in parent or container).
    """

    path: tuple[str, ...]
    parent_columns: tuple[tuple[str, str], ...]
    fallback: tuple[str, ...] = ()
    container_columns: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Fanout:
    """A source Close lists only per parent: read `path` (a `_skip` list) and, for each of its records, the
    report's own path with the parent's id, as the query parameter `param` or, without one, in place of
    `{id}` in the path (one object per parent)."""

    path: str
    param: str | None = None


class ReadKind(StrEnum):
    """How the source of a report is read; `readers.READERS` maps each kind to its reader."""

    LIST = "list"  # GET a `_skip` list endpoint to the end
    BY_DATE = "by_date"  # GET a list endpoint in date windows (past the `_skip` cap)
    SEARCH = "search"  # POST data/search/, a keyset walk on the cursor field
    OBJECT = "object"  # GET one object (its arrays are nested reports)
    ME = "me"  # GET me/ (its arrays are nested reports)
    REPORT_ACTIVITY = "report_activity"  # POST report/activity/ with the account's metrics
    REPORT_SENT_EMAILS = "report_sent_emails"  # GET report/sent_emails/{organization_id}/
    FANOUT = "fanout"  # GET a parent list, then the report's path once per parent (`ReportSpec.fanout`)
    EVENTS = "events"  # GET event/, `_cursor` paging, newest first, bounded by date_updated

    @property
    def is_report(self) -> bool:
        """A Close report request: takes an organization, a user and a date range of its own."""
        return self in (ReadKind.REPORT_ACTIVITY, ReadKind.REPORT_SENT_EMAILS)


@dataclass(frozen=True)
class ReportSpec:
    """Everything the pipeline needs to know about one report, without reading anything."""

    name: str
    description: str
    source: str  # reports sharing a source are fed by one pass (see group_by_source)
    read: ReadKind
    path: str  # endpoint of the source, relative to the API base; {organization_id} is substituted
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ("id",)
    parent_key: tuple[str, ...] = ()
    nested: Nested | None = None
    cursor: str | None = None
    fixed_params: tuple[tuple[str, str], ...] = ()
    page_size: int | None = 100
    custom_field_kind: str | None = None  # lead | contact | opportunity | activity
    omit: tuple[str, ...] = ()  # keys that are their own (nested) report, so not columns or extra
    user_filter: str | None = None  # list param that takes params.user_id
    date_field: str | None = None  # field bounded by params.since/until (records created in the range)
    method: str = "GET"
    family: str = ""  # the object family a report is listed under (`closesync reports`, the web's menu)
    classic: bool = False  # one of the 38 reports of the connector closesync replaces (catalog.CLASSIC)
    fanout: Fanout | None = None  # for ReadKind.FANOUT: the parent list read first
    row_filter: tuple[tuple[str, str], ...] = ()  # only source records with these values (one type's table)
    per_type: bool = False  # a template: one table per custom object type, discovered at run time
    slug: str = field(init=False)

    def __post_init__(self) -> None:
        try:  # a plain string names its kind too
            object.__setattr__(self, "read", ReadKind(self.read))
        except ValueError:
            raise ValueError(f"{self.name}: unknown read {self.read!r}") from None
        if (self.read is ReadKind.FANOUT) != (self.fanout is not None):
            raise ValueError(f"{self.name}: a fanout read needs `fanout`, and only it takes one")
        object.__setattr__(self, "slug", re.sub(r"[^0-9a-z]+", "_", self.name.lower()).strip("_"))

    @property
    def group(self) -> str:
        """The endpoint group (rate-limit unit) of the source's main request."""
        path = self.path.replace("{organization_id}", "orga_PLACEHOLDER0").replace("{id}", "x_PLACEHOLDER0")
        return endpoint_group(self.method, path)

    @property
    def uses_organization_id(self) -> bool:
        return "{organization_id}" in self.path or self.read.is_report

    @property
    def uses_user_id(self) -> bool:
        return self.user_filter is not None or self.read.is_report

    @property
    def uses_date_range(self) -> bool:
        return self.date_field is not None or self.read.is_report

    @property
    def parameters(self) -> tuple[str, ...]:
        """UI parameter names this report takes: organization_id, user_id, since/until."""
        out = []
        if self.uses_organization_id:
            out.append("organization_id")
        if self.uses_user_id:
            out.append("user_id")
        if self.uses_date_range:
            out += ["since", "until"]
        return tuple(out)

    @property
    def incremental(self) -> bool:
        return self.cursor is not None

    @property
    def source_label(self) -> str:
        """Human description of what is read, for `closesync reports`."""
        if self.nested is not None:
            label = f"nested {self.source}.{'[].'.join(self.nested.path)}[]"
            if self.nested.fallback:
                label += f" (else {'[].'.join(self.nested.fallback)}[])"
            return label
        label = f"{self.method} /{self.path}"
        if self.fanout is not None:
            per = f"?{self.fanout.param}=" if self.fanout.param else ""
            label += f"{per} per record of /{self.fanout.path}"
        if self.fixed_params:
            label += "?" + "&".join(f"{k}={_short(v)}" for k, v in self.fixed_params)
        if self.read is ReadKind.SEARCH:
            label += f" ({self.source}s by {self.cursor})"
        return label

    @property
    def incremental_label(self) -> str:
        """How the report reads only what changed, for `closesync reports`."""
        if self.cursor is None:
            return "-"
        if self.nested is not None:
            return f"with parent ({self.cursor})"
        if self.cursor == "date_created":
            return "date_created + look-back"
        return self.cursor


def _short(value: str) -> str:
    items = value.split(",")
    return value if len(items) <= 3 else f"{','.join(items[:2])},…({len(items)})"


def group_by_source(specs: list[ReportSpec] | tuple[ReportSpec, ...]) -> list[list[ReportSpec]]:
    """Group specs that one pass over a source can feed, keeping catalog order within and between groups."""
    groups: dict[str, list[ReportSpec]] = {}
    for spec in specs:
        bucket = groups.setdefault(spec.source, [])
        if spec not in bucket:
            bucket.append(spec)
    return list(groups.values())


CLASSIC_GROUP = "Classic"


def grouped(specs: list[ReportSpec] | tuple[ReportSpec, ...]) -> list[tuple[str, list[ReportSpec]]]:
    """The report menu: the classic 38 first (as "Classic", in catalog order), then every other report under
    its family, families in order of first appearance (for `closesync reports` and the web's menu)."""
    groups: dict[str, list[ReportSpec]] = {}
    for spec in specs:
        groups.setdefault(CLASSIC_GROUP if spec.classic else spec.family or "Other", []).append(spec)
    classic = groups.pop(CLASSIC_GROUP, [])
    return ([(CLASSIC_GROUP, classic)] if classic else []) + list(groups.items())


def describe(spec: ReportSpec) -> dict[str, object]:
    """The catalog entry as plain data (for `closesync reports --json` and the web app)."""
    return {
        "name": spec.name,
        "slug": spec.slug,
        "description": spec.description,
        "family": spec.family,
        "classic": spec.classic,
        "source": spec.source_label,
        "group": spec.group,
        "primary_key": list(spec.primary_key),
        "parent_key": list(spec.parent_key),
        "incremental": spec.incremental,
        "cursor": spec.cursor,
        "incremental_mode": spec.incremental_label,
        "parameters": list(spec.parameters),
        "columns": [{"name": c.name, "type": c.type} for c in spec.columns],
    }
