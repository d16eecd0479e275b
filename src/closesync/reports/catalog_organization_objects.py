"""Reports beyond the classic 38: organization-level objects (pipelines, sequences, roles, groups, phone numbers,
bulk actions, …) (issue 14)."""

from __future__ import annotations

from closesync.reports.spec import ReportSpec

ORGANIZATION_OBJECT_REPORTS: tuple[ReportSpec, ...] = ()
