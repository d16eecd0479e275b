"""The catalog: one declarative `ReportSpec` per report, in the order of the product's report list.

This module is data (the 38 specs and the lookup by name); what a spec means is in `spec.py`, the column
sets several reports share in `column_sets.py`.
"""

from __future__ import annotations

from dataclasses import replace

from closesync.reports.builders import by_date_report, list_report
from closesync.reports.catalog_activity_objects import ACTIVITY_OBJECT_REPORTS
from closesync.reports.catalog_organization_objects import ORGANIZATION_OBJECT_REPORTS
from closesync.reports.column_sets import (
    CALL,
    CONTACT,
    CONTACT_WITH_ARRAYS,
    CUSTOM_ACTIVITY,
    EMAIL,
    EMAIL_THREAD,
    LEAD,
    LEAD_STATUS_CHANGE,
    MEMBERSHIP,
    NOTE,
    OPPORTUNITY,
    OPPORTUNITY_STATUS_CHANGE,
    ORGANIZATION,
    TASK,
)
from closesync.reports.columns import Column, cols
from closesync.reports.spec import Nested, ReadKind, ReportSpec, UnknownReportError

SMART_VIEW_TYPES = (
    "lead,contact,opportunity,call,email,sms,meeting,note,whatsapp_message,custom_activity,form_submission"
)

_LEAD_PARENT = (("lead_id", "id"),)
_CONTACT_PARENT = (("contact_id", "id"), ("lead_id", "lead_id"))
_ORG_PARENT = (("organization_id", "id"),)
_ME_PARENT = (("user_id", "id"),)


_activity = by_date_report
_list = list_report


def _contact_child(name: str, description: str, key: str, columns: tuple[Column, ...]) -> ReportSpec:
    return ReportSpec(
        name=name,
        description=description,
        source="contact",
        read=ReadKind.SEARCH,
        path="data/search/",
        method="POST",
        columns=columns,
        primary_key=("contact_id", "position"),
        parent_key=("contact_id",),
        nested=Nested((key,), _CONTACT_PARENT),
        cursor="date_updated",
    )


def _lead_child(
    name: str, description: str, key: str, columns: tuple[Column, ...], **kw: object
) -> ReportSpec:
    return ReportSpec(
        name=name,
        description=description,
        source="lead",
        read=ReadKind.SEARCH,
        path="data/search/",
        method="POST",
        columns=columns,
        parent_key=("lead_id",),
        nested=Nested((key,), _LEAD_PARENT),
        cursor="date_updated",
        **kw,  # type: ignore[arg-type]
    )


def _org_child(name: str, description: str, nested: Nested, columns: tuple[Column, ...]) -> ReportSpec:
    return ReportSpec(
        name=name,
        description=description,
        source="organization",
        read=ReadKind.OBJECT,
        path="organization/{organization_id}/",
        columns=columns,
        parent_key=("organization_id",),
        nested=nested,
    )


def _me_child(name: str, description: str, nested: Nested, columns: tuple[Column, ...]) -> ReportSpec:
    return ReportSpec(
        name=name,
        description=description,
        source="me",
        read=ReadKind.ME,
        path="me/",
        columns=columns,
        parent_key=("user_id",),
        nested=nested,
    )


CLASSIC: tuple[ReportSpec, ...] = (
    _activity("Activities Call", "Returns a list of Call activities.", "activity/call/", CALL),
    _activity(
        "Activities Email Threads",
        "Returns a list of Email Thread activities.",
        "activity/emailthread/",
        EMAIL_THREAD,
    ),
    _activity("Activities Emails", "Returns a list of Email activities.", "activity/email/", EMAIL),
    _activity(
        "Activities Lead Status Change",
        "Returns a list of Lead Status Change activities.",
        "activity/status_change/lead/",
        LEAD_STATUS_CHANGE,
    ),
    _activity("Activities Notes", "Returns a list of Note activities.", "activity/note/", NOTE),
    _activity(
        "Activities Opportunity Status Change",
        "Returns a list of Opportunity Status Change activities.",
        "activity/status_change/opportunity/",
        OPPORTUNITY_STATUS_CHANGE,
    ),
    _list(
        "Bulk Actions",
        "Returns a list of Bulk emails.",
        "bulk_action/email/",
        cols(
            "id organization_id created_by updated_by date_created:ts date_updated:ts status template_id"
            " email_account_id sender contact_preference query s_query:json results_limit:int sort:json"
            " send_done_email:bool n_leads:int n_leads_processed:int n_objects:int n_objects_processed:int"
        ),
    ),
    ReportSpec(
        name="Contacts",
        description="Returns a list of Contacts.",
        source="contact",
        read=ReadKind.SEARCH,
        path="data/search/",
        method="POST",
        columns=CONTACT,
        cursor="date_updated",
        custom_field_kind="contact",
        omit=("emails", "phones", "urls"),
        page_size=200,
    ),
    _contact_child(
        "Contacts Emails",
        "Returns a list of Emails for contacts.",
        "emails",
        cols("email type is_unsubscribed:bool"),
    ),
    _contact_child(
        "Contacts Phones",
        "Returns a list of Phone numbers for contacts.",
        "phones",
        cols("phone phone_formatted type country outbound_sms_blocked:bool tz_ids:list is_unsubscribed:bool"),
    ),
    _contact_child("Contacts Urls", "Returns a list of urls for Contacts.", "urls", cols("url type")),
    _activity(
        "Custom Activity Instances",
        "Returns a list of Custom Activity Instances.",
        "activity/custom/",
        CUSTOM_ACTIVITY,
        custom_field_kind="activity",
    ),
    _list(
        "Email Templates",
        "Returns a list of Email Templates.",
        "email_template/",
        cols(
            "id name subject body is_shared:bool is_archived:bool attachments:json organization_id created_by"
            " updated_by date_created:ts date_updated:ts used_by_sequences:json"
        ),
    ),
    _list(
        "Exports",
        "Returns a list all the Exports.",
        "export/",
        cols(
            "id type format date_format status download_url fields:list n_docs:int n_docs_processed:int"
            " s_query:json results_limit:int sort:json params:json send_done_email:bool organization_id"
            " created_by updated_by date_created:ts date_updated:ts"
        ),
    ),
    _list(
        "Lead Statuses",
        "Returns a list of Lead Statuses for an organization.",
        "status/lead/",
        cols("id label organization_id"),
    ),
    ReportSpec(
        name="Leads",
        description="Returns a list of Leads.",
        source="lead",
        read=ReadKind.SEARCH,
        path="data/search/",
        method="POST",
        columns=LEAD,
        cursor="date_updated",
        custom_field_kind="lead",
        omit=("contacts", "addresses", "opportunities", "tasks"),
        page_size=200,
    ),
    _lead_child(
        "Leads Addresses",
        "Returns list of Addresses for leads.",
        "addresses",
        cols("label address_1 address_2 city state zipcode country tz_ids:list"),
        primary_key=("lead_id", "position"),
    ),
    _lead_child(
        "Leads Contacts",
        "Returns the list of Contacts for leads.",
        "contacts",
        CONTACT_WITH_ARRAYS,
        custom_field_kind="contact",
    ),
    _lead_child(
        "Leads Opportunities",
        "Returns a list of Opportunities for leads.",
        "opportunities",
        OPPORTUNITY,
        custom_field_kind="opportunity",
    ),
    _lead_child("Leads Tasks", "Returns the list of Tasks for leads.", "tasks", TASK),
    ReportSpec(
        name="Opportunities",
        description="Returns a list of Opportunities.",
        source="opportunity",
        read=ReadKind.BY_DATE,
        path="opportunity/",
        columns=OPPORTUNITY,
        cursor="date_updated",
        custom_field_kind="opportunity",
        user_filter="user_id",
        page_size=250,
        date_field="date_created",
    ),
    _list(
        "Opportunity Statuses",
        "Returns a list Opportunity Statuses for an organization.",
        "status/opportunity/",
        cols("id label type pipeline_id organization_id"),
    ),
    ReportSpec(
        name="Organizations",
        description="Returns Organization's details, including its current members, lead and opportunity "
        "statuses, etc.",
        source="organization",
        read=ReadKind.OBJECT,
        path="organization/{organization_id}/",
        columns=ORGANIZATION,
        omit=("lead_statuses", "memberships", "inactive_memberships", "opportunity_statuses", "invoices"),
        page_size=None,
    ),
    _org_child(
        "Organizations Inactive Memberships",
        "Returns a list of organization's Inactive Members.",
        Nested(("inactive_memberships",), _ORG_PARENT),
        MEMBERSHIP,
    ),
    _org_child(
        "Organizations Invoices",
        "Returns the list of organization's Invoices.",
        Nested(("invoices",), _ORG_PARENT),
        cols(
            "id number status amount:int amount_due:int currency period_start:date period_end:date"
            " date_created:ts date_paid:ts pdf_url url"
        ),
    ),
    _org_child(
        "Organizations Lead Statuses",
        "Returns the list of organization's Lead Statuses.",
        Nested(("lead_statuses",), _ORG_PARENT),
        cols("id label"),
    ),
    _org_child(
        "Organizations Memberships",
        "Returns a list of organization's members.",
        Nested(("memberships",), _ORG_PARENT),
        MEMBERSHIP,
    ),
    _org_child(
        "Organizations Opportunity Statuses",
        "Returns a list of organization's Opportunity Statuses.",
        Nested(
            ("pipelines", "statuses"),
            _ORG_PARENT,
            fallback=("opportunity_statuses",),
            container_columns=(("pipeline_id", "id"), ("pipeline_name", "name")),
        ),
        cols("pipeline_id pipeline_name id label type"),
    ),
    ReportSpec(
        name="Reporting Activity",
        description="Returns an Activity Report for an organization.",
        source="report/activity",
        read=ReadKind.REPORT_ACTIVITY,
        path="report/activity/",
        method="POST",
        columns=cols("organization_id user_id datetime:ts"),
        primary_key=("organization_id", "datetime"),
        parent_key=("organization_id",),
        page_size=None,
    ),
    ReportSpec(
        name="Reporting Sent Emails",
        description="Returns a report about Sent Emails for organization.",
        source="report/sent_emails",
        read=ReadKind.REPORT_SENT_EMAILS,
        path="report/sent_emails/{organization_id}/",
        columns=cols(
            "organization_id position:int user_id date_start:date date_end:date name template_id template_url"
            " is_shared:bool total:int opened:int responded:int percentage_opened:int"
            " percentage_responded:int _queries:json"
        ),
        primary_key=("organization_id", "position"),
        parent_key=("organization_id",),
        page_size=None,
    ),
    _list(
        "Smart Views",
        "Returns a list Smart Views.",
        "saved_search/",
        cols(
            "id name description type query s_query:json is_shared:bool is_user_dependent:bool user_id"
            " organization_id selected_fields:json shared_with:list sharing_settings:json used_recently:bool"
            " date_created:ts date_updated:ts"
        ),
        fixed_params=(("type__in", SMART_VIEW_TYPES),),
    ),
    ReportSpec(
        name="Tasks",
        description="Returns a list of Tasks.",
        source="task",
        read=ReadKind.BY_DATE,
        path="task/",
        columns=TASK,
        cursor="date_updated",
        fixed_params=(("_type", "all"),),
        user_filter="assigned_to",
        page_size=1000,
        date_field="date_created",
    ),
    _list(
        "Users",
        "Returns a list Users.",
        "user/",
        cols(
            "id first_name last_name email image organizations:list last_used_timezone email_verified_at:ts"
            " date_created:ts date_updated:ts"
        ),
    ),
    _me_child(
        "Users Self Email Accounts",
        "Returns list of Self Email Accounts.",
        Nested(("email_accounts",), _ME_PARENT),
        cols("id _type identities:json organization_id"),
    ),
    _me_child(
        "Users Self Email Signatures",
        "Returns list of Self Email Signatures.",
        Nested(("email_signatures",), _ME_PARENT),
        cols("id name body body_html organization_id is_default:bool date_created:ts date_updated:ts"),
    ),
    _me_child(
        "Users Self Memberships",
        "Returns list of Self Memberships.",
        Nested(("memberships",), _ME_PARENT),
        MEMBERSHIP,
    ),
    _me_child(
        "Users Self Organizations",
        "Returns list of Self Organizations.",
        Nested(("organizations",), _ME_PARENT),
        cols(
            "id name created_by updated_by date_created:ts date_updated:ts lead_statuses:json pipelines:json"
        ),
    ),
    _me_child(
        "Users Self Sip Numbers",
        "Returns list of Self Sip Numbers.",
        Nested(("sip_numbers",), _ME_PARENT, fallback=("phone_numbers",)),
        cols(
            "id number label type sip_uri organization_id is_group_number:bool date_created:ts"
            " date_updated:ts"
        ),
    ),
)

# The object family of each classic report, by the start of its name (first match): the menus list the 38
# together, and `closesync reports --json` still says which family each belongs to.
CLASSIC_FAMILIES: tuple[tuple[str, str], ...] = (
    ("Activities", "Activities"),
    ("Custom Activity", "Activities"),
    ("Bulk Actions", "Bulk Actions"),
    ("Contacts", "Contacts"),
    ("Email Templates", "Email"),
    ("Exports", "Exports"),
    ("Lead Statuses", "Pipelines & Statuses"),
    ("Opportunity Statuses", "Pipelines & Statuses"),
    ("Leads", "Leads"),
    ("Opportunities", "Opportunities"),
    ("Organizations", "Organization"),
    ("Reporting", "Reporting"),
    ("Smart Views", "Smart Views"),
    ("Tasks", "Tasks"),
    ("Users", "Users"),
)


def _classic_family(name: str) -> str:
    return next(family for prefix, family in CLASSIC_FAMILIES if name.startswith(prefix))


# The product's contract: the 38 reports above keep their names, order and tables. Every other Close object
# comes after them, one module per object family.
REPORTS: tuple[ReportSpec, ...] = (
    tuple(replace(spec, classic=True, family=_classic_family(spec.name)) for spec in CLASSIC)
    + ACTIVITY_OBJECT_REPORTS
    + ORGANIZATION_OBJECT_REPORTS
)
CLASSIC_REPORTS: tuple[ReportSpec, ...] = tuple(spec for spec in REPORTS if spec.classic)

_BY_KEY: dict[str, ReportSpec] = {}
for _spec in REPORTS:
    _BY_KEY[_spec.slug] = _spec
    _BY_KEY[_spec.name.lower()] = _spec


def get_report(name_or_slug: str) -> ReportSpec:
    """Look a report up by display name or slug (case-insensitive)."""
    key = name_or_slug.strip().lower()
    spec = _BY_KEY.get(key) or _BY_KEY.get(key.replace("-", "_"))
    if spec is None:
        raise UnknownReportError(f"unknown report {name_or_slug!r}; run `closesync reports` to list them")
    return spec

