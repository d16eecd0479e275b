"""Where and how a table is written: destination strings and update methods (no pyarrow, no drivers).

The Data Center's models, forms and the CLI read these without loading any sink, so this module imports
nothing heavier than the standard library.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, get_args
from urllib.parse import parse_qsl, unquote

from closesync.sinks.errors import UnknownDestinationError

#: How a load changes its table: swap it whole, add rows, or merge by primary key.
Method = Literal["replace", "append", "upsert"]
METHODS: tuple[Method, ...] = get_args(Method)
DEFAULT_METHOD: Method = "upsert"
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]{0,30}):")
_PASSWORD_SPLIT = re.compile(r"[@/:?#&=%]")
_KINDS = "duckdb:PATH, postgres://…, parquet:DIR, csv:DIR or dlt:DESTINATION[?dataset=…]"
_DLT_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
DEFAULT_DLT_DATASET = "close"


@dataclass(frozen=True)
class Destination:
    """A parsed destination string: ``kind`` is duckdb | postgres | parquet | csv | dlt.

    ``target`` is the file/folder path for duckdb/parquet/csv, the full URL for postgres, and
    ``DESTINATION[?dataset=…&…]`` for dlt (see `DltTarget`).
    """

    kind: str
    target: str

    def __str__(self) -> str:
        return self.target if self.kind == "postgres" else f"{self.kind}:{self.target}"


@dataclass(frozen=True)
class DltTarget:
    """A ``dlt:DESTINATION[?dataset=…&pipeline=…&pipelines_dir=…&…]`` destination, loaded through dlt.

    ``destination`` is dlt's destination name (duckdb, postgres, filesystem, bigquery, snowflake…),
    ``dataset`` dlt's dataset (schema) name, ``pipeline`` the dlt pipeline that keeps its state (default
    ``closesync_DATASET``), ``pipelines_dir`` where dlt keeps the pipeline's working folder (default: dlt's
    own). Other parameters go to dlt: ``loader_file_format`` and ``table_format`` to the run, the rest
    (``credentials=``, ``bucket_url=``…) to the destination; credentials may also come from dlt's own
    configuration (environment variables, secrets.toml), which keeps them out of the string.
    """

    destination: str
    dataset: str = DEFAULT_DLT_DATASET
    pipeline: str = ""
    pipelines_dir: str | None = None
    options: tuple[tuple[str, str], ...] = ()

    @property
    def pipeline_name(self) -> str:
        return self.pipeline or f"closesync_{self.dataset}"


def parse_dlt_target(target: str) -> DltTarget:
    """Parse the part of a ``dlt:`` destination after the prefix (see `DltTarget`)."""
    name, _, query = target.strip().partition("?")
    if not _DLT_NAME.fullmatch(name):
        raise UnknownDestinationError(
            "dlt: needs dlt's destination name, e.g. dlt:duckdb?dataset=close or dlt:bigquery?dataset=crm"
        )
    params = dict(parse_qsl(query, keep_blank_values=True))
    dataset = params.pop("dataset", DEFAULT_DLT_DATASET)
    pipeline = params.pop("pipeline", "")
    for what, value in (("dataset", dataset), ("pipeline", pipeline or "x")):
        if not _DLT_NAME.fullmatch(value):
            raise UnknownDestinationError(f"dlt {what} names are letters, digits and _ (got {value!r})")
    pipelines_dir = params.pop("pipelines_dir", None) or None
    return DltTarget(name.lower(), dataset, pipeline, pipelines_dir, tuple(sorted(params.items())))


def parse_destination(destination: str) -> Destination:
    """Parse ``duckdb:PATH``, ``postgres://…``/``postgresql://…``, ``parquet:DIR``, ``csv:DIR`` or
    ``dlt:DESTINATION[?dataset=…]``.

    A bare path ending in ``.duckdb``/``.db`` is accepted as DuckDB, because that is what users type.
    """
    text = destination.strip()
    if not text:
        raise UnknownDestinationError(f"empty destination; use {_KINDS}")
    lower = text.lower()
    if lower.startswith(("postgres://", "postgresql://")):
        return Destination("postgres", text)
    if lower.startswith("dlt:"):
        parse_dlt_target(text[4:])
        return Destination("dlt", text[4:].strip())
    for kind in ("duckdb", "parquet", "csv"):
        prefix = kind + ":"
        if lower.startswith(prefix):
            target = text[len(prefix) :]
            if target.startswith("//"):  # tolerate duckdb:///abs/path and duckdb://rel
                target = target[2:]
            if not target:
                raise UnknownDestinationError(f"destination {kind}: needs a path, e.g. {kind}:./data")
            return Destination(kind, target)
    if lower.endswith((".duckdb", ".db")) and "://" not in lower:
        return Destination("duckdb", text)
    scheme = _SCHEME.match(text)  # never echo the text itself: it may be a conninfo with password=…
    named = f" {scheme.group(1)!r}" if scheme else ""
    raise UnknownDestinationError(f"unknown destination{named}; use {_KINDS}")


def _userinfo_end(rest: str) -> int:
    """Where the userinfo of a URL's part after `://` ends: the LAST "@" before the query (or -1)."""
    end = min((i for i in (rest.find("?"), rest.find("#")) if i >= 0), default=len(rest))
    return rest.rfind("@", 0, end)


def destination_passwords(destination: str) -> list[str]:
    """Every password a destination URL holds (in its userinfo or a `password=` parameter), as written."""
    _, sep, rest = destination.partition("://")
    if not sep:
        return []
    found = []
    at = _userinfo_end(rest)
    if at >= 0 and ":" in rest[:at]:
        found.append(rest[:at].split(":", 1)[1])
    found += re.findall(r"[?&]password=([^&#]*)", rest, flags=re.IGNORECASE)
    return [p for p in found if p]


def redact_password(message: str, destination: str) -> str:
    """`message` without the destination's passwords, whole, percent-decoded or in pieces.

    A password holding "@", "/" or ":" is split by libpq's URL parser, which then names a piece as a host
    ("failed to resolve host 'cret@localhost'"): every piece that stands as a word of its own is hidden too.
    """
    for password in destination_passwords(destination):
        for form in {password, unquote(password)}:
            message = message.replace(form, "***")
            for piece in filter(None, _PASSWORD_SPLIT.split(form)):
                message = re.sub(rf"(?<![A-Za-z0-9]){re.escape(piece)}(?![A-Za-z0-9])", "***", message)
    return message


def redact_destination(destination: str) -> str:
    """A destination as shown to people and logs: any password of a postgres:// URL replaced by ***.

    The userinfo ends at the LAST "@" before the query, so a password holding "@" or "/" is hidden whole
    (erring on the side of hiding); a `password=` query parameter (libpq accepts one) is hidden too.
    """
    scheme, sep, rest = destination.partition("://")
    if not sep:
        return destination
    at = _userinfo_end(rest)
    if at >= 0 and ":" in rest[:at]:
        rest = rest[:at].split(":", 1)[0] + ":***" + rest[at:]
    masked = f"{scheme}://{rest}"
    return re.sub(r"([?&]password=)[^&#]*", r"\1***", masked, flags=re.IGNORECASE)
