"""Helpers of the write-reliability tests: destinations, table snapshots, version duplicates."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

import closesync
from closesync.reports import get_report
from closesync.sandbox import Sandbox
from closesync.sinks import open_sink

LEADS = ["leads", "leads_addresses", "leads_contacts", "leads_opportunities", "leads_tasks"]


KINDS = ["duckdb", "postgres", "parquet"]


def make_destination(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The destination string of ``request.param`` (one of KINDS), fresh for the test."""
    if request.param == "postgres":
        return request.getfixturevalue("pg_sink_url")
    if request.param == "duckdb":
        return f"duckdb:{tmp_path / 'close.duckdb'}"
    return f"parquet:{tmp_path / 'files'}"


def run(sb: Sandbox, destination: str, reports: list[str], **options: object) -> closesync.SyncResult:
    return closesync.sync(reports, api_key=sb.api_key, base_url=sb.base_url, destination=destination, **options)


def rows(destination: str, table: str) -> list[dict]:
    sink = open_sink(destination)
    try:
        return [r for b in sink.iter_batches(table) for r in b.to_pylist()]
    finally:
        sink.close()


def snapshot(destination: str, tables: list[str]) -> dict[str, list[str]]:
    """Every table's rows, comparable across runs (sorted reprs)."""
    return {t: sorted(repr(sorted(r.items())) for r in rows(destination, t)) for t in tables}


def duplicated_versions(destination: str, slug: str) -> int:
    """Rows beyond the first of each record version (key + date_updated, or the whole row without it)."""
    table = rows(destination, slug)
    key = get_report(slug).primary_key
    versions = Counter(
        tuple(r[k] for k in key) + ((r["date_updated"],) if "date_updated" in r else tuple(sorted(r.items())))
        for r in table
    )
    return sum(n - 1 for n in versions.values())
