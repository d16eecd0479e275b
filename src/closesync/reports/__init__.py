"""The report catalog, extraction plans and shaping of Close records into typed Arrow batches.

from closesync.reports import REPORTS, CLASSIC_REPORTS, get_report, UnknownReportError, ReportParams, group_by_source
read = open_read(client, specs, params, states, full_refresh=False)
read.schemas / read.incremental / read.custom_fields / read.notes
for slug, batch in read.batches(): ...
read.new_states
read_records(specs, lambda: records, custom_fields)  # same buffering and shaping, records at hand
"""

from closesync.reports.catalog import CLASSIC_REPORTS, REPORTS, get_report
from closesync.reports.columns import Column
from closesync.reports.custom_fields import CustomField
from closesync.reports.extract import DEFAULT_LOOKBACK, SourceRead, open_read, read_records
from closesync.reports.readers import default_organization_id
from closesync.reports.shaping import EXTRA, POSITION, Shaper
from closesync.reports.spec import (
    Nested,
    ReadKind,
    ReportParams,
    ReportSpec,
    UnknownReportError,
    describe,
    group_by_source,
    grouped,
)

__all__ = [
    "CLASSIC_REPORTS",
    "DEFAULT_LOOKBACK",
    "EXTRA",
    "POSITION",
    "REPORTS",
    "Column",
    "CustomField",
    "Nested",
    "ReadKind",
    "ReportParams",
    "ReportSpec",
    "Shaper",
    "SourceRead",
    "UnknownReportError",
    "default_organization_id",
    "describe",
    "get_report",
    "group_by_source",
    "grouped",
    "open_read",
    "read_records",
]
