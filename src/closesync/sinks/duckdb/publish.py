"""DuckDBGroup: publishes the tables of one read in one DuckDB transaction, with their ownership records.

Each writer stages on its own cursor and commits its private staging tables first; the group then takes the
tables' locks (sorted, so two groups never wait on each other in a cycle) and, on one cursor, runs every
writer's publish step and the ownership checks in a single transaction. DuckDB's MVCC covers the catalog,
so readers see every table old or every table new, and a failure (a full disk included) rolls all back.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from contextlib import ExitStack
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import duckdb

from closesync.sinks.base import PublishGroup, TableWriter, quote_ident
from closesync.sinks.duckdb.writer import DuckDBTableWriter
from closesync.sinks.errors import SinkError
from closesync.sinks.ownership import OWNERS_TABLE
from closesync.sinks.writespec import WriteSpec

if TYPE_CHECKING:
    from closesync.sinks.duckdb.sink import DuckDBSink

#: Columns of the ownership table, in order (see sinks.ownership).
OWNER_COLUMNS = ("table_name", "owner", "owner_label", "report", "parameters")


def read_owner(cur: duckdb.DuckDBPyConnection, table: str) -> dict[str, Any] | None:
    """The ownership row of ``table``, matched case-insensitively as DuckDB matches table names; None when
    the table is gone (a record outlives a table dropped by hand)."""
    row = cur.execute(
        f"SELECT {', '.join(OWNER_COLUMNS)} FROM {quote_ident(OWNERS_TABLE)} "
        "WHERE lower(table_name) = lower(?) AND EXISTS (SELECT 1 FROM duckdb_tables() WHERE "
        "database_name = current_database() AND schema_name = 'main' AND lower(table_name) = lower(?)) "
        "ORDER BY updated_at DESC LIMIT 1",
        [table, table],
    ).fetchone()
    return dict(zip(OWNER_COLUMNS, row, strict=True)) if row else None


class DuckDBGroup(PublishGroup):
    """Writers of one DuckDB file published in one transaction."""

    sink: DuckDBSink

    def _new_writer(self, spec: WriteSpec) -> TableWriter:
        if self.sink.read_only:
            raise SinkError(f"DuckDB file {self.sink.path} is open read-only")
        return DuckDBTableWriter(self, self.sink, spec)

    def _publish(self, writers: Sequence[TableWriter]) -> list[int]:
        duck = [w for w in writers if isinstance(w, DuckDBTableWriter)]
        for w in duck:
            w._prepare()
        db = self.sink._db
        names = ", ".join(repr(w.table) for w in duck)
        with ExitStack() as locks:
            for table in sorted({w.table.lower() for w in duck}):
                locks.enter_context(db.table_lock(table))
            cur = self.sink._cursor()
            try:
                cur.begin()
                claimed = [w for w in duck if self._claims_anew(cur, w)]  # before publishing creates tables
                rows = [w._publish(cur) for w in duck]
                for w in claimed:
                    self._record_owner(cur, w)
                cur.commit()
            except duckdb.Error as e:
                with contextlib.suppress(duckdb.Error):
                    cur.rollback()
                raise SinkError(f"publishing {names} failed, no table was changed: {e}") from None
            except BaseException:
                with contextlib.suppress(duckdb.Error):
                    cur.rollback()
                raise
            finally:
                cur.close()
        for w in duck:
            w._close_cursor()
        return rows

    @staticmethod
    def _claims_anew(cur: duckdb.DuckDBPyConnection, writer: TableWriter) -> bool:
        """Check the writer's claim (TableOwnedError for another owner's table); True if it must be recorded."""
        claim = writer.spec.claim
        return claim is not None and claim.check(writer.table, read_owner(cur, writer.table))

    @staticmethod
    def _record_owner(cur: duckdb.DuckDBPyConnection, writer: TableWriter) -> None:
        claim = writer.spec.claim
        assert claim is not None
        record = claim.record(writer.table)
        owners = quote_ident(OWNERS_TABLE)
        cur.execute(f"DELETE FROM {owners} WHERE lower(table_name) = lower(?)", [writer.table])
        cur.execute(
            f"INSERT INTO {owners} VALUES (?, ?, ?, ?, ?, ?)",
            [*(record[c] for c in OWNER_COLUMNS), datetime.now(UTC)],
        )
