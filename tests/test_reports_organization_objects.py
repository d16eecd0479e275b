"""Issue 14, organization objects: pipelines, sequences (steps, subscriptions), every bulk action kind, roles,
groups and members, connected accounts, send-as, unsubscribed emails, phone numbers, dialer sessions,
scheduling links, comment threads and comments, integration links and webhooks. Each syncs from the sandbox
over HTTP into DuckDB (every record once, the skip cap small), PostgreSQL and Parquet; `closesync reports`,
`closesync sync` and the Python API keep the 38 classic reports first and by default."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pytest
from click.testing import CliRunner

import closesync
from closesync.cli import cli
from closesync.pipeline import resolve_reports
from closesync.reports import CLASSIC_REPORTS, REPORTS, ReadKind, describe, get_report, grouped
from closesync.reports.catalog_organization_objects import NOT_LISTED, ORGANIZATION_OBJECT_REPORTS
from closesync.sandbox import Sandbox
from fixtures_sandbox import sandbox_client

SLUGS = [s.slug for s in ORGANIZATION_OBJECT_REPORTS]
COLLECTIONS = {  # report -> sandbox collection it lists
    "pipelines": "pipeline", "sequences": "sequence", "sequence_subscriptions": "sequence_subscription",
    "bulk_actions_edit": "bulk_action/edit", "bulk_actions_delete": "bulk_action/delete",
    "bulk_actions_sequence_subscription": "bulk_action/sequence_subscription", "roles": "role", "groups": "group",
    "connected_accounts": "connected_account", "phone_numbers": "phone_number", "dialer_sessions": "dialer",
    "scheduling_links": "scheduling_link", "shared_scheduling_links": "shared_scheduling_link",
    "comment_threads": "comment_thread", "blocked_phone_numbers": "blocked_phone_number",
    "sms_templates": "sms_template", "playbooks": "playbook", "comments": "comment", "integration_links": "integration_link",
    "webhook_subscriptions": "webhook",
}


def expected_keys(sb: Sandbox, slug: str) -> list[tuple[str, ...]]:
    """The primary keys the sandbox holds for a report, read from its data rather than over HTTP."""
    data = sb.data
    owner = data.catalog.active_user_ids[0]
    if slug == "sequence_steps":
        return [(s["id"], step["id"]) for s in data.records("sequence") for step in s["steps"]]
    if slug == "group_members":
        return [(g["id"], m["user_id"]) for g in data.records("group") for m in g["members"]]
    if slug == "unsubscribed_emails":
        return [(r["email"],) for r in data.records("unsubscribe/email")]
    if slug == "send_as":  # the key's user as the allowing user, Close's default
        return [(r["id"],) for r in data.records("send_as") if r["allowing_user_id"] == owner]
    return [(r["id"],) for r in data.records(COLLECTIONS[slug])]


def table_keys(db: Path, slug: str) -> list[tuple[str, ...]]:
    columns = ", ".join(f'"{c}"' for c in get_report(slug).primary_key)
    with duckdb.connect(str(db), read_only=True) as con:
        return [tuple(row) for row in con.execute(f'SELECT {columns} FROM "{slug}"').fetchall()]


def sync_into(sb: Sandbox, destination: str, reports: list[str] | None = None, **options: Any):
    return closesync.sync(SLUGS if reports is None else reports, api_key=sb.api_key, base_url=sb.base_url,
                          destination=destination, **options)


@pytest.fixture(scope="module")
def big() -> Any:
    """250 leads and a skip cap of 100: subscriptions, comment threads and dialer sessions take two pages."""
    with Sandbox(seed=3, leads=250, skip_cap=100) as sb:
        yield sb


# -- the catalog -------------------------------------------------------------------------------------------
def test_every_new_report_is_complete_and_comes_after_the_38() -> None:
    assert REPORTS[: len(CLASSIC_REPORTS)] == CLASSIC_REPORTS and len(CLASSIC_REPORTS) == 38
    names = {s.name for s in REPORTS}
    for expected in ("Pipelines", "Sequences", "Sequence Steps", "Sequence Subscriptions", "Bulk Actions Edit",
                     "Bulk Actions Delete", "Bulk Actions Sequence Subscription", "Roles", "Groups",
                     "Group Members", "Phone Numbers", "Dialer Sessions", "Connected Accounts", "Send As",
                     "Unsubscribed Emails", "Blocked Phone Numbers", "SMS Templates", "Playbooks", "Scheduling Links", "Comment Threads", "Comments",
                     "Integration Links", "Webhook Subscriptions"):
        assert expected in names, expected
    for spec in ORGANIZATION_OBJECT_REPORTS:
        assert spec.family and not spec.classic and spec.description.startswith("Returns"), spec.slug
        assert spec.primary_key and spec.columns, spec.slug
        assert spec.cursor is None, f"{spec.slug}: Close's list takes no date filter, so no cursor"
        assert "signature_key" not in {c.name for c in spec.columns}
    assert get_report("sequence_subscriptions").read is ReadKind.FANOUT
    assert get_report("sequence_subscriptions").source_label == (
        "GET /sequence_subscription/?sequence_id= per record of /sequence/"
    )
    assert "Memberships" in NOT_LISTED  # an object Close does not list, with its reason


def test_the_menu_lists_the_classic_38_first_then_one_group_per_family() -> None:
    groups = grouped(REPORTS)
    assert groups[0][0] == "Classic" and [s.name for s in groups[0][1]] == [s.name for s in CLASSIC_REPORTS]
    families = [label for label, _ in groups[1:]]
    assert len(families) == len(set(families)), "each family once"
    assert {"Sequences", "Bulk Actions", "Users", "Calling & SMS", "Comments", "Integrations"} <= set(families)
    assert {s.family for s in CLASSIC_REPORTS} >= {"Activities", "Leads", "Users"}
    assert describe(get_report("leads"))["classic"] is True
    assert describe(get_report("roles"))["family"] == "Users"


def test_sync_defaults_to_the_38_and_all_reports_takes_every_one() -> None:
    assert resolve_reports(None) == list(CLASSIC_REPORTS)
    assert resolve_reports(None, all_reports=True) == list(REPORTS)
    assert [s.slug for s in resolve_reports(["roles", "Leads"])] == ["leads", "roles"]
    with pytest.raises(ValueError, match="not both"):
        resolve_reports(["roles"], all_reports=True)


def test_cli_reports_groups_and_json_marks_classic() -> None:
    runner = CliRunner()
    table = runner.invoke(cli, ["reports"], env={"COLUMNS": "240"})
    assert table.exit_code == 0, table.output
    out = table.output
    assert out.index("Classic (38)") < out.index("Users Self Sip Numbers") < out.index("Sequences")
    assert out.index("Sequence Subscriptions") < out.index("Bulk Actions Edit")
    rows = json.loads(runner.invoke(cli, ["reports", "--json"]).output)
    assert [r["classic"] for r in rows] == [True] * 38 + [False] * (len(rows) - 38)
    by_slug = {r["slug"]: r for r in rows}
    assert by_slug["dialer_sessions"]["family"] == "Calling & SMS" and by_slug["activities_call"]["family"] == "Activities"


def test_cli_sync_all_and_names_together_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["sync", "roles", "--all", "--api-key", "api_x", "--db", str(tmp_path / "x")])
    assert result.exit_code == 2 and "--all" in result.output


def test_cli_sync_all_syncs_every_report(sandbox: Sandbox, tmp_path: Path) -> None:
    args = ["sync", "--all", "--json", "--api-key-env", "SANDBOX_KEY", "--base-url", sandbox.base_url,
            "--db", str(tmp_path / "all.duckdb")]
    result = CliRunner().invoke(cli, args, env={"SANDBOX_KEY": sandbox.api_key})
    assert result.exit_code == 0, result.output
    slugs = [r["slug"] for r in json.loads(result.stdout)["reports"]]
    types = [t["name"] for t in sandbox.data.iter_records("custom_object_type")]
    # "Custom Objects" is a template: it becomes one report per custom object type of the account
    per_type = [f"custom_objects_{name.lower().replace(' ', '_')}" for name in types]
    expected = [t for s in REPORTS for t in (per_type if s.per_type else [s.slug])]
    assert len(types) >= 2 and slugs == expected


# -- over HTTP into DuckDB -----------------------------------------------------------------------------
def test_every_organization_report_lands_each_record_exactly_once(big: Sandbox, tmp_path: Path) -> None:
    db = tmp_path / "org.duckdb"
    result = sync_into(big, f"duckdb:{db}")
    assert [(r.slug, r.error) for r in result.failed] == []
    for report in result.reports:
        got = table_keys(db, report.slug)
        assert len(got) == len(set(got)), f"{report.slug}: a record twice"
        assert sorted(got) == sorted(expected_keys(big, report.slug)), report.slug
        assert report.rows == len(got), report.slug
        with duckdb.connect(str(db), read_only=True) as con:  # every key the sandbox serves is a column
            extra = con.execute(f'SELECT extra FROM "{report.slug}" WHERE extra IS NOT NULL').fetchall()
        assert {k for (e,) in extra for k in json.loads(e)} == set(), report.slug
    assert len(table_keys(db, "sequence_subscriptions")) > 400  # over 100 per sequence: two pages each
    assert len(table_keys(db, "dialer_sessions")) > 100


def test_columns_are_typed_and_secrets_stay_out(big: Sandbox, tmp_path: Path) -> None:
    db = tmp_path / "typed.duckdb"
    assert sync_into(big, f"duckdb:{db}", ["sequence_steps", "roles", "phone_numbers", "webhook_subscriptions",
                                            "dialer_sessions", "connected_accounts"]).ok
    with duckdb.connect(str(db), read_only=True) as con:
        types = dict(((t, c), ty) for t, c, ty in con.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns").fetchall())
        assert types[("dialer_sessions", "date_created")] == "TIMESTAMP WITH TIME ZONE"
        assert types[("sequence_steps", "delay")] == "BIGINT"
        assert types[("roles", "permissions")] == "VARCHAR[]"
        assert types[("phone_numbers", "last_billed_price")] == "DOUBLE"
        assert types[("phone_numbers", "is_group_number")] == "BOOLEAN"
        dump = json.dumps(con.execute("SELECT * FROM webhook_subscriptions").fetchall(), default=str)
        smtp = json.dumps(con.execute("SELECT * FROM connected_accounts").fetchall(), default=str)
    key = big.data.records("webhook")[0]["signature_key"]
    assert key not in dump, "a webhook's signing key is a secret"
    assert "smtp.example.com" not in smtp


def test_a_second_run_reads_everything_again_and_shows_changes_and_deletions(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """No cursor (Close's lists take no date filter): each run is a full read whose table replaces the last."""
    db = tmp_path / "again.duckdb"
    reports = ["sequences", "sequence_steps", "dialer_sessions", "group_members"]
    assert sync_into(sandbox, f"duckdb:{db}", reports).ok
    data = sandbox.data
    gone = data.records("dialer")[0]["id"]
    data.delete("dialer", gone)
    sequence = data.records("sequence")[0]
    data.update("sequence", sequence["id"], name="Renamed", steps=sequence["steps"][:1])
    group = data.records("group")[0]
    data.update("group", group["id"], members=group["members"][1:])

    second = sync_into(sandbox, f"duckdb:{db}", reports)
    assert second.ok and all(r.rows > 0 for r in second.reports)
    assert (gone,) not in table_keys(db, "dialer_sessions")
    for slug in reports:
        assert sorted(table_keys(db, slug)) == sorted(expected_keys(sandbox, slug)), slug
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT name FROM sequences WHERE id = ?", [sequence["id"]]).fetchall() == [("Renamed",)]


# -- Close's rules, as the sandbox serves them --------------------------------------------------------
def test_the_sandbox_serves_closes_paging_and_filters(sandbox: Sandbox) -> None:
    data = sandbox.data
    owner = data.catalog.active_user_ids[0]
    with sandbox_client(sandbox) as http:
        assert http.get("sequence_subscription/").status_code == 400  # one of three filters is required
        sequence_id = data.records("sequence")[0]["id"]
        subs = http.get("sequence_subscription/", params={"sequence_id": sequence_id, "_limit": 2}).json()
        assert len(subs["data"]) == 2 and {s["sequence_id"] for s in subs["data"]} == {sequence_id}
        assert http.get("comment/").status_code == 400
        thread = data.records("comment_thread")[0]
        both = http.get("comment/", params={"thread_id": thread["id"], "object_id": thread["object_id"]})
        assert both.status_code == 400  # exactly one of thread_id and object_id
        comments = http.get("comment/", params={"thread_id": thread["id"]}).json()["data"]
        assert len(comments) == thread["num_comments"]
        groups = http.get("group/").json()["data"]
        assert groups and all("members" not in g for g in groups)
        assert "members" in http.get(f"group/{groups[0]['id']}/").json()
        send_as = http.get("send_as/").json()["data"]
        assert send_as and {s["allowing_user_id"] for s in send_as} == {owner}
        other = data.catalog.active_user_ids[1]
        assert http.get("send_as/", params={"allowing_user_id": other}).status_code == 400
        unpaged = http.get("unsubscribe/email/", params={"_limit": 5}).json()
        assert unpaged["has_more"] is False and len(unpaged["data"]) == data.count("unsubscribe/email")
        phones = http.get("phone_number/", params={"is_group_number": "true"}).json()["data"]
        assert phones and all(p["is_group_number"] for p in phones)
    truth = sandbox.truth("unsubscribe/email")  # the sandbox's ground truth knows records without an id
    assert {r["id"] for r in truth} == {r["email"] for r in data.records("unsubscribe/email")}


# -- PostgreSQL and Parquet ----------------------------------------------------------------------------
@pytest.mark.postgres
def test_organization_reports_land_in_postgres_as_in_duckdb(big: Sandbox, tmp_path: Path, pg_sink_url: str) -> None:
    from fixtures_postgres import assert_same_tables

    db = tmp_path / "org.duckdb"
    assert sync_into(big, f"duckdb:{db}").ok
    result = sync_into(big, pg_sink_url)
    assert [r.error for r in result.failed] == []
    assert_same_tables(f"duckdb:{db}", pg_sink_url, [report.table for report in result.reports])


def test_organization_reports_land_in_parquet(big: Sandbox, tmp_path: Path) -> None:
    folder = tmp_path / "parquet"
    result = sync_into(big, f"parquet:{folder}")
    assert [r.error for r in result.failed] == []
    con = duckdb.connect()
    for report in result.reports:
        key = ", ".join(f'"{c}"' for c in get_report(report.slug).primary_key)
        glob = str(folder / f"{report.table}.*parquet")
        got = [tuple(r) for r in con.execute(f"SELECT {key} FROM read_parquet(?, union_by_name = true)",
                                             [glob]).fetchall()]
        assert sorted(got) == sorted(expected_keys(big, report.slug)), report.slug
