"""Contradictory answers from Close never replace good data: each is a protocol error that fails the report
and leaves the previous table as it was (issue 10 §2; issue 11's /me/ and id bullets)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest
from click.testing import CliRunner

import closesync
from closesync.cli import cli
from closesync.cli.common import EXIT_INPUT
from closesync.close import CloseClient, errors
from closesync.sandbox import Sandbox

LEAD_TABLES = ("leads", "leads_contacts", "leads_addresses")


def rows(db: Path, table: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return sorted(con.execute(f'SELECT * FROM "{table}"').fetchall(), key=repr)


def sync_into(sb: Sandbox, db: Path, reports: list[str], **options: Any) -> closesync.SyncResult:
    return closesync.sync(reports, api_key=sb.api_key, base_url=sb.base_url, destination=f"duckdb:{db}",
                          method="replace", **options)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", ["notalist", "nonobjects", "emptymore"])
def test_a_contradictory_list_page_fails_the_report_and_keeps_the_table(
    sandbox: Sandbox, tmp_path: Path, kind: str
) -> None:
    db = tmp_path / "close.duckdb"
    assert sync_into(sandbox, db, ["users"]).ok
    before = rows(db, "users")
    assert len(before) == len(sandbox.data.records("user"))
    sandbox.add_fault(kind, path="user/", count=1)
    result = sync_into(sandbox, db, ["users"])
    assert not result.ok
    error = result.failed[0].error or ""
    assert "unexpected answer" in error and "user/" in error, error
    assert rows(db, "users") == before


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", ["emptymore", "nonobjects", "notalist"])
def test_a_contradictory_search_page_keeps_every_lead_table(sandbox: Sandbox, tmp_path: Path, kind: str) -> None:
    db = tmp_path / "close.duckdb"
    assert sync_into(sandbox, db, list(LEAD_TABLES)).ok
    before = {t: rows(db, t) for t in LEAD_TABLES}
    sandbox.add_fault(kind, path="data/search/", count=1)
    result = sync_into(sandbox, db, list(LEAD_TABLES))
    assert [r.status for r in result.reports] == ["failed"] * 3
    assert all("unexpected answer" in (r.error or "") for r in result.reports)
    assert {t: rows(db, t) for t in LEAD_TABLES} == before


@pytest.mark.timeout(60)
def test_a_cursor_that_does_not_advance_is_an_error_not_a_loop(sandbox: Sandbox) -> None:
    sandbox.add_fault("stuckcursor", path="data/search/", count=1)
    with CloseClient(sandbox.api_key, sandbox.base_url) as client, pytest.raises(errors.ProtocolError) as info:
        list(client.search({"type": "object_type", "object_type": "lead"}, page_size=5))
    assert "cursor" in str(info.value) and "data/search/" in str(info.value)


@pytest.mark.parametrize("kind", ["notobject", "nested"])
def test_an_object_endpoint_answering_a_non_object_is_a_clear_error(sandbox: Sandbox, kind: str) -> None:
    sandbox.add_fault(kind, path="me/", count=1)
    with CloseClient(sandbox.api_key, sandbox.base_url) as client, pytest.raises(errors.ProtocolError) as info:
        client.get("me/")
    assert "Close returned an unexpected answer" in str(info.value) and "me/" in str(info.value)


@pytest.mark.parametrize("kind", ["notobject", "nested"])
def test_accounts_add_with_a_strange_me_answer_is_an_error_not_a_traceback(
    sandbox: Sandbox, home: Path, kind: str
) -> None:
    sandbox.add_fault(kind, path="me/", count=1)
    result = CliRunner().invoke(cli, ["--home", str(home), "accounts", "add", "acme", "--api-key",
                                      sandbox.api_key, "--base-url", sandbox.base_url])
    assert result.exit_code != 0 and not isinstance(result.exception, (RecursionError, AttributeError))
    assert "Traceback" not in result.output and "unexpected answer" in result.output, result.output


@pytest.mark.parametrize("kind", ["notobject", "nested"])
def test_the_organization_report_with_a_strange_answer_keeps_its_table(
    sandbox: Sandbox, tmp_path: Path, kind: str
) -> None:
    db = tmp_path / "close.duckdb"
    assert sync_into(sandbox, db, ["organizations"]).ok
    before = rows(db, "organizations")
    sandbox.add_fault(kind, path="organization/", count=1)
    result = sync_into(sandbox, db, ["organizations"])
    assert not result.ok and "unexpected answer" in (result.failed[0].error or "")
    assert rows(db, "organizations") == before


# -- ids go into paths only when they look like Close ids ------------------------------------------------


@pytest.mark.parametrize("bad", ["../me", "orga_x/../../me", "orga_%2e%2e", "orga_a?x=1", ""])
def test_sync_refuses_an_organization_id_that_is_not_one(
    sandbox: Sandbox, home: Path, tmp_path: Path, bad: str
) -> None:
    db = tmp_path / "close.duckdb"
    result = CliRunner().invoke(cli, ["--home", str(home), "sync", "organizations", "--organization-id", bad,
                                      "--api-key", sandbox.api_key, "--base-url", sandbox.base_url,
                                      "--db", str(db)])
    assert result.exit_code == EXIT_INPUT, result.output
    assert "--organization-id" in result.output and "Traceback" not in result.output
    assert sandbox.stats()["requests"]["total"] == 0


def test_sync_refuses_a_user_id_that_is_not_one(sandbox: Sandbox, home: Path) -> None:
    result = CliRunner().invoke(cli, ["--home", str(home), "sync", "users", "--user-id", "lead_x/../",
                                      "--api-key", sandbox.api_key, "--base-url", sandbox.base_url])
    assert result.exit_code == EXIT_INPUT and "--user-id" in result.output


def test_the_python_api_never_sends_a_bad_id_into_a_path(sandbox: Sandbox, tmp_path: Path) -> None:
    db = tmp_path / "close.duckdb"
    result = sync_into(sandbox, db, ["organizations"], organization_id="../me")
    assert not result.ok and "../me" in (result.failed[0].error or "")
    assert "GET me" not in sandbox.stats()["requests"]["by_group"]
    with CloseClient(sandbox.api_key, sandbox.base_url) as client:
        for path in ("organization/../me/", "lead/./", "http://elsewhere/api/", "lead/%2e%2e/"):
            with pytest.raises(errors.InvalidIdError):
                client.get(path)
        assert client.get(f"organization/{sandbox.data.organization()['id']}/")["id"].startswith("orga_")


def test_close_ids_have_a_prefix_and_letters_and_digits() -> None:
    from closesync.close.paths import check_id

    assert check_id("orga_RbREgmiiwcr1w2b4cOnCMQaQPSIFxMqAD2Dh243uxcH", "orga") == (
        "orga_RbREgmiiwcr1w2b4cOnCMQaQPSIFxMqAD2Dh243uxcH"
    )
    for bad in ("user_abc", "orga_", "orga_a-b", "orga_a.b", " orga_ab", "../me"):
        with pytest.raises(errors.InvalidIdError):
            check_id(bad, "orga")


@pytest.mark.timeout(60)
def test_a_page_that_is_never_a_list_ends_the_read_instead_of_looping(sandbox: Sandbox) -> None:
    sandbox.add_fault("notalist", path="user/", probability=1.0)  # every answer, for ever
    with CloseClient(sandbox.api_key, sandbox.base_url) as client, pytest.raises(errors.ProtocolError):
        list(client.paginate("user/"))
    assert sandbox.stats()["requests"]["total"] == 1
