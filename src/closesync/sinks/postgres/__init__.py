"""PostgreSQL destination: `postgres://user@host:port/db?schema=close` (psycopg 3, COPY bulk load).

Why it looks like this:
- Rows go in with `COPY … FROM STDIN (FORMAT csv)`; each Arrow batch is encoded to CSV by pyarrow's C++
  writer (lists are turned into PostgreSQL array literals with vectorised compute first), so no Python
  loop runs per row except for the rare nested-list/struct/binary columns.
- Types: timestamp -> TIMESTAMPTZ, date -> DATE, integers -> BIGINT, floats -> DOUBLE PRECISION,
  bool -> BOOLEAN, string -> TEXT, JSON-flagged string -> JSONB, binary -> BYTEA. Lists of scalars
  become native arrays of the element type (TEXT[], BIGINT[], TIMESTAMPTZ[], …) so `'x' = ANY(col)` works;
  lists of lists/structs and struct columns become JSONB. NUL characters (which PostgreSQL text and JSONB
  cannot hold) are replaced with U+FFFD.
- replace: one transaction creates a fresh table, COPYs into it, indexes the key, copies the old table's
  GRANTs, drops the old table and renames the new one into place; readers see the old table until commit
  and the new one after, never an empty one (they wait only for the final drop/rename).
- append/upsert: COPY into a TEMP staging table (invisible, no locks on the target while loading), then one
  short transaction adds new columns (ALTER TABLE ADD COLUMN) and moves the rows: append = INSERT SELECT,
  upsert = DELETE by parent key (if given) + `INSERT … ON CONFLICT (primary key) DO UPDATE` backed by a
  unique index the sink creates. Staged duplicates are collapsed (last one wins). Covered keys (`cover()`)
  are COPYed into a second TEMP table between row COPYs (buffered up to COVER_FLUSH_ROWS) and their target
  rows deleted in the same transaction, before the insert.
- Identifiers are always composed with psycopg.sql.Identifier. Names longer than PostgreSQL's 63-byte
  limit (or containing NUL) are cut deterministically and suffixed with a hash of the full name; the full
  name is kept in the column comment and restored by columns()/preview()/iter_batches().
- The writers of a publish group (the tables of one read) share one connection and commit in one
  transaction (`publish`), so the tables change together; groups in several threads don't interfere.
  Anything that fails (including the server dropping the connection) rolls back and leaves every table
  as it was. Commit phases on one table are serialised with a transaction-scoped advisory lock.
- append skips staged rows whose `version_key` the table (or a later staged row) has already.
- Sessions run in UTC (naive timestamps are taken as UTC) with lz4 TOAST compression when available.

Modules: `names` (identifiers, the URL), `encoding` (Arrow -> CSV for COPY), `reading` (PostgreSQL ->
Arrow), `sink` (PostgresSink: connections, state, reads), `writer` (staging and publishing) and `catalog`
(the catalog queries a commit needs).
"""

from closesync.sinks.postgres.publish import PostgresGroup
from closesync.sinks.postgres.sink import PostgresSink
from closesync.sinks.postgres.writer import PostgresTableWriter

__all__ = ["PostgresGroup", "PostgresSink", "PostgresTableWriter"]
