"""DuckDB sink: one file, one table per report, loaded through Arrow in bulk.

Modules: ``database`` (the per-process shared instance of a file), ``sink`` (DuckDBSink: state and reads)
and ``writer`` (staging and publishing).

How a writer loads (why it is shaped like this):
- Batches are registered as Arrow views and copied with ``INSERT … SELECT`` into a private staging table,
  all inside one transaction, so DuckDB writes the row groups straight to the file (no row-by-row path,
  no WAL copy) and memory stays flat however many rows arrive.
- Publishing is a second, short transaction, shared by every table of a publish group (``publish``):
  ``replace`` drops the target and renames staging into its place; ``append`` inserts the staged rows
  whose version (``version_key``) the table lacks; ``upsert`` deletes target rows whose key (parent_key
  if given, else primary_key) appears in staging or among the covered keys (``cover()``, staged in a second private
  table ``_closesync_stage_<uuid>_keys``), then inserts. Delete + insert is used rather than
  ``INSERT OR REPLACE`` because the latter is orders of magnitude slower on nested columns.
  DuckDB's MVCC covers the catalog too, so a reader on another connection sees the old table or the new.
- A writer that fails or is aborted rolls back; one killed between the two transactions leaves a
  ``_closesync_stage_*`` table, dropped the next time the file is opened read-write.

Concurrency: DuckDB lets one process open a file read-write (or several read-only). Inside a process every
DuckDBSink on the same file shares one database instance (refcounted), and each writer and each read gets
its own cursor, so the pipeline's report threads, the CLI and the web preview cooperate. If another
process holds the file, opening raises :class:`SinkLockedError` naming that process.
"""

from closesync.sinks.duckdb.database import DEFAULT_MEMORY_LIMIT, STAGE_PREFIX
from closesync.sinks.duckdb.publish import DuckDBGroup
from closesync.sinks.duckdb.sink import DuckDBSink
from closesync.sinks.duckdb.writer import DuckDBTableWriter

__all__ = ["DEFAULT_MEMORY_LIMIT", "STAGE_PREFIX", "DuckDBGroup", "DuckDBSink", "DuckDBTableWriter"]
