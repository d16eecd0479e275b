"""`closesync sandbox`: options, output, and that it serves what it prints."""

from __future__ import annotations

import re
import subprocess
import sys

import click
import httpx
import pytest
from click.testing import CliRunner

from closesync.cli import cli
from closesync.cli.sandbox import parse_rate


def test_parse_rate() -> None:
    assert parse_rate("20/1") == (20, 1.0)
    assert parse_rate("600/15") == (600, 15.0)
    assert parse_rate(None) is None
    for bad in ("x/1", "0/1", "5/0"):
        with pytest.raises(click.BadParameter):
            parse_rate(bad)


def test_bad_options_are_usage_errors() -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["sandbox", "--faults", "teapot:0.5"]).exit_code == 2
    assert runner.invoke(cli, ["sandbox", "--rate-limit", "fast"]).exit_code == 2
    assert "--rate-limit" in runner.invoke(cli, ["sandbox", "--help"]).output


def test_serves_what_it_prints() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "closesync", "sandbox", "--port", "0", "--leads", "12",
                             "--api-key", "api_cli_test", "--rate-limit", "7/2", "--seed", "3"],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = re.search(r"(http://127\.0\.0\.1:\d+/api/v1/)", proc.stdout.readline()).group(1)  # type: ignore[union-attr]
        assert "api_cli_test" in proc.stdout.readline()
        r = httpx.get(url + "lead/", auth=("api_cli_test", ""))
        assert r.json()["total_results"] == 12 and "limit=7" in r.headers["RateLimit"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
