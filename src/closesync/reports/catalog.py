"""The catalog: one declarative `ReportSpec` per report, in the order of the product's report list.

A spec says what a report reads (a list endpoint, a date-walked list, a search, a nested array of a
parent object, a single object or a report request), its parameters, keys, incremental cursor and typed
columns. Extraction and shaping are generic over specs; nothing here talks HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from closesync.close.groups import endpoint_group
from closesync.errors import ClosesyncError
from closesync.reports.columns import Column, cols


class UnknownReportError(ClosesyncError, KeyError):
    """Raised by `get_report` for a name or slug that is not in the catalog."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown report"


@dataclass(frozen=True)
class ReportParams:
    """User-chosen parameters of a read; None means the report's default (see DESIGN.md)."""

    organization_id: str | None = None
    user_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def __post_init__(self) -> None:
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                object.__setattr__(self, name, value.replace(tzinfo=UTC))
        if self.since is not None and self.until is not None and self.since >= self.until:
            raise ValueError(
                f"since ({self.since.isoformat()}) must be before until ({self.until.isoformat()})"
            )


@dataclass(frozen=True)
class Nested:
    """Where a nested report's rows live inside its parent object.

    `path` may go through one list of containers (``("pipelines", "statuses")``); `fallback` is tried when
    the parent lacks the first key (older Close responses, or keys real accounts do not have).
    `parent_columns` copies parent values onto each row: (column, key in parent or container).
    """

    path: tuple[str, ...]
    parent_columns: tuple[tuple[str, str], ...]
    fallback: tuple[str, ...] = ()
    container_columns: tuple[tuple[str, str], ...] = ()


# How the source of a report is read (see extract.py).
READS = ("list", "by_date", "search", "object", "me", "report_activity", "report_sent_emails")


@dataclass(frozen=True)
class ReportSpec:
    """Everything the pipeline needs to know about one report, without reading anything."""

    name: str
    description: str
    source: str  # reports sharing a source are fed by one pass (see group_by_source)
    read: str  # one of READS
    path: str  # endpoint of the source, relative to the API base; {organization_id} is substituted
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ("id",)
    parent_key: tuple[str, ...] = ()
    nested: Nested | None = None
    cursor: str | None = None
    fixed_params: tuple[tuple[str, str], ...] = ()
    page_size: int | None = 100
    custom_field_kind: str | None = None  # lead | contact | opportunity | activity
    omit: tuple[str, ...] = ()  # keys that are their own (nested) report, so not columns or extra
    user_filter: str | None = None  # list param that takes params.user_id
    date_field: str | None = None  # field bounded by params.since/until (records created in the range)
    method: str = "GET"
    slug: str = field(init=False)

    def __post_init__(self) -> None:
        if self.read not in READS:
            raise ValueError(f"{self.name}: unknown read {self.read!r}")
        object.__setattr__(self, "slug", self.name.lower().replace(" ", "_"))

    @property
    def group(self) -> str:
        """The endpoint group (rate-limit unit) of the source's main request."""
        path = self.path.replace("{organization_id}", "orga_PLACEHOLDER0")
        return endpoint_group(self.method, path)

    @property
    def uses_organization_id(self) -> bool:
        return "{organization_id}" in self.path or self.read in ("report_activity", "report_sent_emails")

    @property
    def uses_user_id(self) -> bool:
        return self.user_filter is not None or self.read in ("report_activity", "report_sent_emails")

    @property
    def uses_date_range(self) -> bool:
        return self.date_field is not None or self.read in ("report_activity", "report_sent_emails")

    @property
    def parameters(self) -> tuple[str, ...]:
        """UI parameter names this report takes: organization_id, user_id, since/until."""
        out = []
        if self.uses_organization_id:
            out.append("organization_id")
        if self.uses_user_id:
            out.append("user_id")
        if self.uses_date_range:
            out += ["since", "until"]
        return tuple(out)

    @property
    def incremental(self) -> bool:
        return self.cursor is not None

    @property
    def source_label(self) -> str:
        """Human description of what is read, for `closesync reports`."""
        if self.nested is not None:
            label = f"nested {self.source}.{'[].'.join(self.nested.path)}[]"
            if self.nested.fallback:
                label += f" (else {'[].'.join(self.nested.fallback)}[])"
            return label
        label = f"{self.method} /{self.path}"
        if self.fixed_params:
            label += "?" + "&".join(f"{k}={_short(v)}" for k, v in self.fixed_params)
        if self.read == "search":
            label += f" ({self.source}s by {self.cursor})"
        return label

    @property
    def incremental_label(self) -> str:
        """How the report reads only what changed, for `closesync reports`."""
        if self.cursor is None:
            return "-"
        if self.nested is not None:
            return f"with parent ({self.cursor})"
        if self.cursor == "date_created":
            return "date_created + look-back"
        return self.cursor


def _short(value: str) -> str:
    items = value.split(",")
    return value if len(items) <= 3 else f"{','.join(items[:2])},…({len(items)})"


# ---------------------------------------------------------------------------------------------------------
# Column sets shared by several reports.

ACTIVITY = cols(
    "id _type lead_id contact_id user_id user_name users:list organization_id created_by created_by_name"
    " updated_by updated_by_name date_created:ts date_updated:ts activity_at:ts"
)
CALL = ACTIVITY + cols(
    "direction status disposition duration:int voicemail_duration:int voicemail_url recording_url"
    " has_recording:bool recording_expires_at:ts phone remote_phone remote_phone_formatted remote_country_iso"
    " local_phone local_phone_formatted local_country_iso note note_html source call_method cost dialer_id"
    " dialer_saved_search_id outcome_id sequence_id sequence_name sequence_subscription_id transferred_from"
    " transferred_to transferred_from_user_id transferred_to_user_id is_forwarded:bool forwarded_to"
    " is_joinable:bool is_to_group_number:bool coach_legs:json date_answered:ts recording_transcript:json"
    " quality_info:json conversation_type_id playbook_id"
)
EMAIL_THREAD = ACTIVITY + cols(
    "latest_normalized_subject n_emails:int participants:json emails:json latest_emails:json"
)
EMAIL = ACTIVITY + cols(
    "status direction subject sender to:list cc:list bcc:list body_text body_html body_preview"
    " body_text_quoted:json body_html_quoted:json attachments:json envelope:json message_ids:list"
    " references:list in_reply_to_id thread_id email_account_id template_id template_name"
    " bulk_email_action_id date_sent:ts date_scheduled:ts has_reply:bool opens:json opens_summary"
    " send_attempts:json send_as_id need_smtp_credentials:bool followup_sequence_id"
    " followup_sequence_delay:int followup_sequence_add_cc_bcc:bool sequence_id sequence_name"
    " sequence_subscription_id agent_config_id agent_action_reason"
)
LEAD_STATUS_CHANGE = ACTIVITY + cols(
    "old_status_id old_status_label new_status_id new_status_label _paused_subscriptions:json"
)
NOTE = ACTIVITY + cols(
    "note note_html title pinned:bool pinned_at:ts note_mentions:json attachments:json source"
)
OPPORTUNITY_STATUS_CHANGE = ACTIVITY + cols(
    "opportunity_id old_status_id old_status_label old_status_type new_status_id new_status_label"
    " new_status_type old_pipeline_id old_pipeline_name new_pipeline_id new_pipeline_name"
    " opportunity_value:int opportunity_value_currency opportunity_value_formatted opportunity_value_period"
    " opportunity_confidence:int opportunity_date_won:date"
)
CUSTOM_ACTIVITY = ACTIVITY + cols(
    "custom_activity_type_id status last_published_at:ts pinned:bool pinned_at:ts mentions:json"
    " mentions_updated_at:ts source"
)
CONTACT = cols(
    "id lead_id organization_id name display_name title integration_links:json created_by updated_by"
    " date_created:ts date_updated:ts timezone timezone_source lead_suggestions_operation_id"
    " recent_calls:json subscriptions:json"
)
CONTACT_WITH_ARRAYS = CONTACT + cols("emails:json phones:json urls:json")
LEAD = cols(
    "id name display_name description url html_url status_id status_label organization_id created_by"
    " created_by_name updated_by updated_by_name date_created:ts date_updated:ts contact_ids:list"
    " integration_links:json primary_email:json primary_phone:json primary_address_summary contacts_summary"
    " localtime source recent_calls:json summaries:json"
)
OPPORTUNITY = cols(
    "id lead_id lead_name contact_id contact_name user_id user_name organization_id status_id status_label"
    " status_type status_display_name pipeline_id pipeline_name value:int value_currency value_formatted"
    " value_period annualized_value:int expected_value:int annualized_expected_value:int confidence:int"
    " note note_html date_won:date date_lost:ts date_created:ts date_updated:ts created_by created_by_name"
    " updated_by updated_by_name integration_links:json attachments:json is_stalled:bool stall_status:json"
    " suggested_action:json comment_summary:json lead_primary_email:json lead_primary_phone:json"
)
TASK = cols(
    "id _type organization_id lead_id lead_name contact_id contact_name assigned_to assigned_to_name text"
    " date:ts due_date:ts is_complete:bool is_dateless:bool view object_type object_id created_by"
    " created_by_name updated_by updated_by_name date_created:ts date_updated:ts emails:list subject"
    " body_preview email_id total_emails_count_in_thread:int phone phone_formatted phone_number_description"
    " local_phone voicemail_url voicemail_duration:int recording_url opportunity_note opportunity_value:int"
    " opportunity_value_currency opportunity_value_formatted opportunity_value_period remote_phone"
    " remote_phone_formatted remote_phone_description attachments:json sequence_id sequence_subscription_id"
    " step_id resolution deduplication_key is_primary_lead_notification:bool agent_config_id"
)
MEMBERSHIP = cols(
    "id organization_id user_id role_id role permissions_granted:list track_email_opens:bool"
    " auto_record_calls user_email user_first_name user_last_name user_full_name user_phone"
)
ORGANIZATION = cols(
    "id name created_by updated_by date_created:ts date_updated:ts pipelines:json plan_type currency"
    " currency_symbol enable_unsubscribe_link:bool require_unsubscribe_link:bool status user_count:int"
    " billing_account_id payment_fail_date:ts cancellation_date:ts trial_ends:ts leads_email"
    " lead_custom_fields:json"
)

SMART_VIEW_TYPES = (
    "lead,contact,opportunity,call,email,sms,meeting,note,whatsapp_message,custom_activity,form_submission"
)

_LEAD_PARENT = (("lead_id", "id"),)
_CONTACT_PARENT = (("contact_id", "id"), ("lead_id", "lead_id"))
_ORG_PARENT = (("organization_id", "id"),)
_ME_PARENT = (("user_id", "id"),)


def _activity(
    name: str, description: str, path: str, columns: tuple[Column, ...], **kw: object
) -> ReportSpec:
    return ReportSpec(
        name=name,
        description=description,
        source=path.rstrip("/"),
        read="by_date",
        path=path,
        columns=columns,
        cursor="date_created",
        user_filter="user_id",
        date_field="date_created",
        **kw,  # type: ignore[arg-type]
    )


def _list(name: str, description: str, path: str, columns: tuple[Column, ...], **kw: object) -> ReportSpec:
    return ReportSpec(
        name=name,
        description=description,
        source=path.rstrip("/"),
        read="list",
        path=path,
        columns=columns,
        **kw,  # type: ignore[arg-type]
    )


def _contact_child(name: str, description: str, key: str, columns: tuple[Column, ...]) -> ReportSpec:
    return ReportSpec(
        name=name,
        description=description,
        source="contact",
        read="search",
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
        read="search",
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
        read="object",
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
        read="me",
        path="me/",
        columns=columns,
        parent_key=("user_id",),
        nested=nested,
    )


REPORTS: tuple[ReportSpec, ...] = (
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
        read="search",
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
        read="search",
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
        read="by_date",
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
        read="object",
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
        read="report_activity",
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
        read="report_sent_emails",
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
        read="by_date",
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


def group_by_source(specs: list[ReportSpec] | tuple[ReportSpec, ...]) -> list[list[ReportSpec]]:
    """Group specs that one pass over a source can feed, keeping catalog order within and between groups."""
    groups: dict[str, list[ReportSpec]] = {}
    for spec in specs:
        bucket = groups.setdefault(spec.source, [])
        if spec not in bucket:
            bucket.append(spec)
    return list(groups.values())


def describe(spec: ReportSpec) -> dict[str, object]:
    """The catalog entry as plain data (for `closesync reports --json` and the web app)."""
    return {
        "name": spec.name,
        "slug": spec.slug,
        "description": spec.description,
        "source": spec.source_label,
        "group": spec.group,
        "primary_key": list(spec.primary_key),
        "parent_key": list(spec.parent_key),
        "incremental": spec.incremental,
        "cursor": spec.cursor,
        "incremental_mode": spec.incremental_label,
        "parameters": list(spec.parameters),
        "columns": [{"name": c.name, "type": c.type} for c in spec.columns],
    }
