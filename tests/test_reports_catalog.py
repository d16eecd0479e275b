"""The report catalog: 38 specs with the product's names, slugs, keys, sources and parameters."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from closesync.cli import cli
from closesync.reports import REPORTS, ReadKind, ReportSpec, UnknownReportError, get_report, group_by_source
from closesync.reports.catalog import CLASSIC
from closesync.reports.columns import ARROW_TYPES
from closesync.reports.readers import READERS

NAMES = [
    "Activities Call",
    "Activities Email Threads",
    "Activities Emails",
    "Activities Lead Status Change",
    "Activities Notes",
    "Activities Opportunity Status Change",
    "Bulk Actions",
    "Contacts",
    "Contacts Emails",
    "Contacts Phones",
    "Contacts Urls",
    "Custom Activity Instances",
    "Email Templates",
    "Exports",
    "Lead Statuses",
    "Leads",
    "Leads Addresses",
    "Leads Contacts",
    "Leads Opportunities",
    "Leads Tasks",
    "Opportunities",
    "Opportunity Statuses",
    "Organizations",
    "Organizations Inactive Memberships",
    "Organizations Invoices",
    "Organizations Lead Statuses",
    "Organizations Memberships",
    "Organizations Opportunity Statuses",
    "Reporting Activity",
    "Reporting Sent Emails",
    "Smart Views",
    "Tasks",
    "Users",
    "Users Self Email Accounts",
    "Users Self Email Signatures",
    "Users Self Memberships",
    "Users Self Organizations",
    "Users Self Sip Numbers",
]


def test_catalog_has_the_38_reports_in_spec_order() -> None:
    # "the 38" are CLASSIC (issue 14): they open REPORTS, unchanged; the new families follow
    assert [s.name for s in CLASSIC] == NAMES == [s.name for s in REPORTS[:38]]


def test_slugs_are_lowercase_names_with_underscores_and_unique() -> None:
    slugs = [s.slug for s in CLASSIC]
    assert slugs == [n.lower().replace(" ", "_") for n in NAMES]
    assert len(set(slugs)) == 38 and len({s.slug for s in REPORTS}) == len(REPORTS)
    assert "users_self_sip_numbers" in slugs and "leads_addresses" in slugs


def test_get_report_by_name_or_slug() -> None:
    assert get_report("Activities Call") is get_report("activities_call") is REPORTS[0]
    assert get_report("  leads addresses ").slug == "leads_addresses"
    with pytest.raises(UnknownReportError) as exc:
        get_report("Leeds")
    assert "Leeds" in str(exc.value)


@pytest.mark.parametrize("spec", REPORTS, ids=lambda s: s.slug)
def test_every_spec_is_complete(spec) -> None:
    assert spec.description.startswith("Returns")
    names = [c.name for c in spec.columns]
    assert len(names) == len(set(names)), "duplicate column"
    assert all(c.type in ARROW_TYPES for c in spec.columns)
    assert spec.primary_key
    if spec.nested is not None:
        assert spec.parent_key, "nested reports carry their parent's key"
    assert spec.group.split(" ", 1)[0] in ("GET", "POST")


def test_keys_cursors_and_sources() -> None:
    assert get_report("leads_addresses").primary_key == ("lead_id", "position")
    assert get_report("leads_addresses").parent_key == ("lead_id",)
    assert get_report("contacts_phones").primary_key == ("contact_id", "position")
    assert get_report("leads_contacts").primary_key == ("id",)
    assert get_report("activities_call").cursor == "date_created"
    assert get_report("opportunities").cursor == "date_updated"
    assert get_report("tasks").cursor == "date_updated"
    assert get_report("leads").cursor == "date_updated"
    assert get_report("leads_tasks").cursor == "date_updated"  # with its parent
    assert get_report("users").cursor is None
    assert dict(get_report("tasks").fixed_params) == {"_type": "all"}
    smart = dict(get_report("smart_views").fixed_params)["type__in"].split(",")
    assert {"lead", "contact", "opportunity", "call", "email"} <= set(smart)
    assert get_report("activities_call").group == "GET activity/call"
    assert get_report("leads").group == "POST data/search"
    assert get_report("organizations").group == "GET organization"
    assert get_report("reporting_activity").group == "POST report/activity"
    assert get_report("reporting_sent_emails").group == "GET report/sent_emails"
    orgs = get_report("organizations_opportunity_statuses").nested
    assert (
        orgs is not None
        and orgs.path == ("pipelines", "statuses")
        and orgs.fallback == ("opportunity_statuses",)
    )
    sip = get_report("users_self_sip_numbers").nested
    assert sip is not None and sip.fallback == ("phone_numbers",)


def test_parameters() -> None:
    assert get_report("organizations").uses_organization_id
    assert get_report("reporting_sent_emails").parameters == ("organization_id", "user_id", "since", "until")
    assert get_report("activities_notes").uses_user_id and get_report("activities_notes").uses_date_range
    assert get_report("opportunities").uses_user_id and get_report("opportunities").uses_date_range
    assert not get_report("users").uses_date_range and not get_report("leads").uses_date_range
    assert get_report("tasks").user_filter == "assigned_to"
    assert get_report("users").parameters == ()
    assert not get_report("leads").uses_organization_id


def test_group_by_source_feeds_nested_reports_from_one_pass() -> None:
    groups = {tuple(s.slug for s in g) for g in group_by_source(CLASSIC)}
    assert ("leads", "leads_addresses", "leads_contacts", "leads_opportunities", "leads_tasks") in groups
    assert ("contacts", "contacts_emails", "contacts_phones", "contacts_urls") in groups
    assert len(next(g for g in groups if g[0] == "organizations")) == 6
    assert len(next(g for g in groups if g[0].startswith("users_self"))) == 5
    assert sum(len(g) for g in groups) == 38
    # order within a group follows the caller's order; duplicates collapse
    assert [[s.slug for s in g] for g in group_by_source([REPORTS[16], REPORTS[15], REPORTS[16]])] == [
        ["leads_addresses", "leads"]
    ]


def test_cli_reports_table_and_json() -> None:
    runner = CliRunner()
    table = runner.invoke(cli, ["reports"], env={"COLUMNS": "240"})
    assert table.exit_code == 0, table.output
    assert "Users Self Sip Numbers" in table.output and "activities_call" in table.output
    listed = runner.invoke(cli, ["reports", "--json"])
    assert listed.exit_code == 0
    rows = json.loads(listed.output)
    assert [r["name"] for r in rows][:38] == NAMES
    first = rows[0]
    assert first["slug"] == "activities_call" and first["primary_key"] == ["id"]
    assert first["description"] and first["parameters"] == ["user_id", "since", "until"]
    assert first["incremental"] is True


def test_report_params_are_utc_and_ordered() -> None:
    from datetime import UTC, datetime

    from closesync.reports import ReportParams

    params = ReportParams(since=datetime(2024, 1, 1), until=datetime(2024, 2, 1, tzinfo=UTC))
    assert params.since is not None and params.since.tzinfo is UTC
    with pytest.raises(ValueError, match="before"):
        ReportParams(since=datetime(2024, 2, 1), until=datetime(2024, 1, 1))


def test_every_read_kind_has_a_reader_and_every_spec_a_read_kind() -> None:
    assert set(READERS) == set(ReadKind)
    assert all(isinstance(spec.read, ReadKind) for spec in REPORTS)
    assert ReportSpec("X", "", "x", "list", "x/", ()).read is ReadKind.LIST  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown read 'scan'"):
        ReportSpec("X", "", "x", "scan", "x/", ())  # type: ignore[arg-type]
