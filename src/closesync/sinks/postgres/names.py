"""PostgreSQL names: identifiers cut to the 63-byte limit, the destination URL, lock keys, server messages."""

from __future__ import annotations

import hashlib
from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit

MAX_IDENT_BYTES = 63  # NAMEDATALEN - 1: PostgreSQL silently truncates longer names, we do it ourselves
NAME_COMMENT_PREFIX = "closesync original name: "
SEQ_COLUMN = "_closesync_seq"
INTERNAL_PREFIX = "_closesync"
STAGING_PREFIXES = (f"{INTERNAL_PREFIX}_new_", f"{INTERNAL_PREFIX}_stage_")


def pg_ident(name: str) -> str:
    """The identifier PostgreSQL will store for `name`: unchanged if it fits, else cut + hash of the full name.

    Deterministic, so the same custom field maps to the same column on every run.
    """
    clean = name.encode("utf-8", "replace").decode("utf-8").replace("\x00", "")
    if clean == name and name and len(name.encode("utf-8")) <= MAX_IDENT_BYTES:
        return name
    digest = hashlib.sha1(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    budget = MAX_IDENT_BYTES - len(digest) - 1
    prefix = clean.encode("utf-8")[:budget].decode("utf-8", "ignore")
    return f"{prefix}_{digest}"


def split_destination(url: str, schema: str | None = None) -> tuple[str, str]:
    """(libpq conninfo without our `schema` parameter, schema name); the kwarg wins over `?schema=`."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    url_schema = next(
        (v for k, v in reversed(query) if k == "schema"), None
    )  # the last one wins (CLI --schema)
    rest = [(k, v) for k, v in query if k != "schema"]
    conninfo = _unsplit(parts._replace(query=urlencode(rest)))
    chosen = schema or url_schema or "public"
    return conninfo, chosen


def _unsplit(parts: SplitResult) -> str:
    """urlunsplit keeping `//` with an empty host (`postgresql:///db?host=/run/postgresql` is valid libpq)."""
    out = f"{parts.scheme}://{parts.netloc}{parts.path}"
    if parts.query:
        out += "?" + parts.query
    if parts.fragment:
        out += "#" + parts.fragment
    return out


def advisory_key(schema: str, table: str) -> int:
    """A signed 64-bit lock key per target table, so commit phases of concurrent writers serialise."""
    h = hashlib.sha1(f"closesync\x00{schema}\x00{table}".encode()).digest()
    return int.from_bytes(h[:8], "big", signed=True)


def pg_message(e: BaseException) -> str:
    """The server's primary message (psycopg's str() can carry context lines we don't need)."""
    diag = getattr(e, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    return (primary or str(e) or type(e).__name__).strip().splitlines()[0]
