"""Who owns each table of a destination, so two writers never take turns clobbering one table.

Every destination records, next to its tables (``_closesync_tables`` in a database, ``.closesync/tables.json``
in a folder), which writer loads each table: the owner (``closesync sync`` or a dataset), the report and
the read's parameters. A load whose claim names another owner or another report is refused with a message
naming the recorded owner, unless the claim says ``force`` (the user adopts the table on purpose). Tables
without a record (loaded before ownership was recorded, or by hand) are claimed by their first load.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from closesync.sinks.errors import TableOwnedError

#: The ownership table (databases) and file (folders, under .closesync/).
OWNERS_TABLE = "_closesync_tables"
OWNERS_FILE = "tables.json"
#: Table names starting with this are the destination's own bookkeeping: users may not load into them.
RESERVED_PREFIX = "_closesync_"
SYNC_OWNER = "closesync sync"


def is_reserved(table: str) -> bool:
    """True for names of closesync's bookkeeping tables (compared case-insensitively, as DuckDB does)."""
    return table.lower().startswith(RESERVED_PREFIX)


@dataclass(frozen=True)
class TableClaim:
    """A load's claim on its table: ``owner`` is a stable id ("closesync sync", "dataset:12"), ``label`` how
    people know it; ``parameters`` the read's parameters (JSON-able); ``force`` adopts a table of another owner."""

    owner: str
    report: str
    parameters: dict[str, Any]
    label: str = ""
    force: bool = False

    @property
    def parameters_json(self) -> str:
        return json.dumps(self.parameters, sort_keys=True, default=str)

    def check(self, table: str, recorded: dict[str, Any] | None) -> bool:
        """Raise TableOwnedError if ``recorded`` (the table's row, or None) belongs to another writer.

        Returns whether the record must be (re)written.
        """
        if recorded is None:
            return True
        same_owner = recorded.get("owner") == self.owner and recorded.get("report") == self.report
        if not same_owner and not self.force:
            who = recorded.get("owner_label") or recorded.get("owner")
            raise TableOwnedError(
                f"table {table!r} is loaded by {who} (report {recorded.get('report')}); refusing to let "
                f"{self.label or self.owner} (report {self.report}) write into it. Choose another table name, "
                "or pass --force to take the table over."
            )
        return not (same_owner and recorded.get("parameters") == self.parameters_json)

    def record(self, table: str) -> dict[str, Any]:
        """The row stored for ``table`` once this claim has loaded it."""
        return {
            "table_name": table,
            "owner": self.owner,
            "owner_label": self.label or self.owner,
            "report": self.report,
            "parameters": self.parameters_json,
        }
