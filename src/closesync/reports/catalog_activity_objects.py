"""Reports beyond the classic 38: the remaining activity types, custom objects, custom field definitions and
the event log (issue 14)."""

from __future__ import annotations

from closesync.reports.spec import ReportSpec

ACTIVITY_OBJECT_REPORTS: tuple[ReportSpec, ...] = ()
