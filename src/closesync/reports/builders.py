"""The two shapes most reports share, for the catalog modules: an activity-like list read in date windows, and
a plain list read whole."""

from __future__ import annotations

from closesync.reports.columns import Column
from closesync.reports.spec import ReadKind, ReportSpec


def by_date_report(
    name: str, description: str, path: str, columns: tuple[Column, ...], **kw: object
) -> ReportSpec:
    """A list Close filters by `date_created`: read in windows (past the `_skip` cap), incremental on it,
    narrowed by the user and date parameters."""
    return ReportSpec(
        name=name,
        description=description,
        source=path.rstrip("/"),
        read=ReadKind.BY_DATE,
        path=path,
        columns=columns,
        cursor="date_created",
        user_filter="user_id",
        date_field="date_created",
        **kw,  # type: ignore[arg-type]
    )


def list_report(name: str, description: str, path: str, columns: tuple[Column, ...], **kw: object) -> ReportSpec:
    """A list without a change filter: read whole each run."""
    return ReportSpec(
        name=name,
        description=description,
        source=path.rstrip("/"),
        read=ReadKind.LIST,
        path=path,
        columns=columns,
        **kw,  # type: ignore[arg-type]
    )
