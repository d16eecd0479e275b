"""Parquet and CSV folders shared by several reports report clean runs as clean (issue 10 §3)."""

from __future__ import annotations

from pathlib import Path

import pytest

import closesync
from closesync.pipeline import CUSTOM_FIELDS_TABLE
from closesync.sandbox import Sandbox
from closesync.sinks import open_sink


@pytest.mark.timeout(120)
@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_reports_after_custom_activity_instances_in_one_folder_succeed(
    sandbox: Sandbox, tmp_path: Path, fmt: str
) -> None:
    """`custom_activity_instances` stores its activity type in `_closesync_custom_fields`; the leads,
    contacts and opportunities rows there have no type (a null column), which once failed every one of
    them with `Unsupported cast from string to null` although their tables were written."""
    folder = f"{fmt}:{tmp_path / 'out'}"
    first = closesync.sync(
        ["custom_activity_instances"], api_key=sandbox.api_key, base_url=sandbox.base_url, destination=folder
    )
    assert first.ok, [r.error for r in first.reports]
    for method in ("replace", "append", "upsert"):
        later = closesync.sync(
            ["leads", "contacts", "opportunities"],
            api_key=sandbox.api_key,
            base_url=sandbox.base_url,
            destination=folder,
            method=method,
        )
        assert later.ok, (method, [r.error for r in later.reports])
    stored = open_sink(folder).preview(CUSTOM_FIELDS_TABLE, 100_000).to_pylist()
    assert {row["report"] for row in stored} >= {"custom_activity_instances", "leads", "contacts"}
    assert any(row["custom_activity_type_id"] for row in stored), "the activity types were kept"
