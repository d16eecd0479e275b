"""Reports beyond the classic 38: organization-level objects (pipelines, sequences, roles, groups, phone numbers,
bulk actions, templates, …) (issue 14).

Written from Close's API reference (docs/close-api/REFERENCE.md §O lists the sources). None of these list
endpoints takes a date filter, so none has an incremental cursor: each read is a full refresh (the tables are
small: an organization's configuration). `NOT_LISTED` names the objects Close offers no list of.
"""

from __future__ import annotations

from closesync.reports.builders import list_report
from closesync.reports.columns import Column, cols
from closesync.reports.spec import Fanout, Nested, ReadKind, ReportSpec

_BULK = (
    "id organization_id created_by updated_by date_created:ts date_updated:ts status query s_query:json"
    " results_limit:int sort:json send_done_email:bool n_leads:int n_leads_processed:int n_objects:int"
    " n_objects_processed:int"
)
_SCHEDULING_LINK = cols(
    "id name description url duration_in_minutes:int type source source_id source_type template_tag user_id"
    " oauth_client_id organization_id"
)


def _list(
    family: str, name: str, description: str, path: str, columns: tuple[Column, ...], **kw: object
) -> ReportSpec:
    return list_report(name, description, path, columns, family=family, **kw)


def _fanout(
    family: str, name: str, description: str, path: str, fanout: Fanout, columns: tuple[Column, ...], **kw: object
) -> ReportSpec:
    return ReportSpec(
        name=name,
        description=description,
        source=str(kw.pop("source", path.rstrip("/"))),
        read=ReadKind.FANOUT,
        path=path,
        fanout=fanout,
        columns=columns,
        family=family,
        **kw,  # type: ignore[arg-type]
    )


ORGANIZATION_OBJECT_REPORTS: tuple[ReportSpec, ...] = (
    _list(
        "Pipelines & Statuses",
        "Pipelines",
        "Returns the list of Pipelines (named, ordered groups of opportunity statuses).",
        "pipeline/",
        cols("id name organization_id statuses:json created_by updated_by date_created:ts date_updated:ts"),
    ),
    _list(
        "Sequences",
        "Sequences",
        "Returns a list of Sequences (workflows).",
        "sequence/",
        cols(
            "id name status timezone schedule:json schedule_id organization_id created_by_id updated_by_id"
            " date_created:ts date_updated:ts"
        ),
        omit=("steps",),
    ),
    ReportSpec(
        name="Sequence Steps",
        description="Returns the list of Steps of every Sequence.",
        source="sequence",
        read=ReadKind.LIST,
        path="sequence/",
        columns=cols(
            "sequence_id id step_type delay:int required:bool threading email_template_id sms_template_id"
            " step_allowed_delay:int created_by_id updated_by_id date_created:ts date_updated:ts"
        ),
        primary_key=("sequence_id", "id"),
        parent_key=("sequence_id",),
        nested=Nested(("steps",), (("sequence_id", "id"),)),
        family="Sequences",
    ),
    _fanout(
        "Sequences",
        "Sequence Subscriptions",
        "Returns the Subscriptions of every Sequence (Close lists them per sequence).",
        "sequence_subscription/",
        Fanout("sequence/", "sequence_id"),
        cols(
            "id sequence_id contact_id contact_email lead_id status status_reason start_date:ts sender_account_id"
            " sender_name sender_email calls_assigned_to:list organization_id created_by_id updated_by_id"
            " date_created:ts date_updated:ts"
        ),
    ),
    _list(
        "Bulk Actions",
        "Bulk Actions Edit",
        "Returns a list of Bulk edits.",
        "bulk_action/edit/",
        cols(_BULK + " type lead_status_id custom_field_name custom_field_value"),
    ),
    _list(
        "Bulk Actions",
        "Bulk Actions Delete",
        "Returns a list of Bulk deletes.",
        "bulk_action/delete/",
        cols(_BULK + " bulk_object_type"),
    ),
    _list(
        "Bulk Actions",
        "Bulk Actions Sequence Subscription",
        "Returns a list of Bulk sequence subscriptions (subscribe, pause, resume).",
        "bulk_action/sequence_subscription/",
        cols(
            _BULK + " action_type sequence_id sender_account_id sender_name sender_email contact_preference"
            " from_phone_number_id calls_assigned_to:list"
        ),
    ),
    _list(
        "Users",
        "Roles",
        "Returns the list of Roles defined for the organization.",
        "role/",
        cols("id name editable:bool permissions:list visibility_user_lcf_ids:list visibility_user_lcf_behavior"),
    ),
    _list(
        "Users",
        "Groups",
        "Returns the list of Groups of users.",
        "group/",
        cols("id name organization_id"),
        omit=("members",),
    ),
    _fanout(
        "Users",
        "Group Members",
        "Returns the members of every Group (Close lists members only per group).",
        "group/{id}/",
        Fanout("group/"),
        cols("group_id user_id"),
        source="group_member",
        primary_key=("group_id", "user_id"),
        parent_key=("group_id",),
        nested=Nested(("members",), (("group_id", "id"),)),
    ),
    _list(
        "Email",
        "Connected Accounts",
        "Returns the list of Connected accounts (email, calendar, Zoom) of the organization's users.",
        "connected_account/",
        cols(
            "id _type email user_id organization_id identities:json default_identity:json synced_calendars:list"
            " available_calendars:json enabled_features:list available_features:list receive_status send_status"
            " email_receive_status calendar_receive_status latest_receive_error:json latest_send_error:json"
            " sync_all_calendars:bool is_imap_archive_sync_enabled:bool has_meeting_creation_scopes:bool"
            " zoom_account_plan date_created:ts"
        ),
        omit=("imap", "smtp", "calendly"),  # connection settings (hosts, usernames), not data
        user_filter="user_id",
    ),
    _list(
        "Email",
        "Send As",
        "Returns the Send As associations where the API key's user lets others send as them.",
        "send_as/",
        cols("id allowing_user_id allowed_user_id organization_id"),
    ),
    _list(
        "Email",
        "Unsubscribed Emails",
        "Returns the list of unsubscribed email addresses.",
        "unsubscribe/email/",
        cols("email"),
        primary_key=("email",),
    ),
    _list(
        "Calling & SMS",
        "Phone Numbers",
        "Returns the list of the organization's Phone numbers (personal and group).",
        "phone_number/",
        cols(
            "id number number_formatted label type is_group_number:bool user_id participants:list"
            " phone_numbers:list phone_numbers_formatted:list forward_to forward_to_formatted forward_to_enabled:bool press_1_to_accept:bool"
            " voicemail_greeting_url country carrier carrier_type sms_enabled:bool mms_enabled:bool"
            " supports_sms_to_countries:list supports_mms_to_countries:list is_verified:bool is_premium:bool"
            " was_ported:bool last_billed_price:float next_billing_on:ts address_id bundle_id organization_id"
            " date_created:ts date_updated:ts"
        ),
        user_filter="user_id",
    ),
    _list(
        "Calling & SMS",
        "Dialer Sessions",
        "Returns a list of Dialer sessions (power and predictive dialers over Smart Views).",
        "dialer/",
        cols(
            "id type status source_type source_value user_id users:json caller_id ring_mode music_preference"
            " is_user_dependent:bool organization_id date_created:ts date_updated:ts"
        ),
        user_filter="user_id",
    ),
    _list(
        "Calling & SMS",
        "Blocked Phone Numbers",
        "Returns the list of Blocked phone numbers (calls and texts from them are refused).",
        "blocked_phone_number/",
        cols("id phone reason organization_id created_by updated_by date_created:ts date_updated:ts"),
    ),
    _list(
        "Calling & SMS",
        "SMS Templates",
        "Returns the list of SMS templates.",
        "sms_template/",
        cols(
            "id name text status is_shared:bool owned_by attachments:json organization_id created_by updated_by"
            " date_created:ts date_updated:ts"
        ),
    ),
    _list(
        "Calling & SMS",
        "Playbooks",
        "Returns the list of call Playbooks (archived ones too), by position.",
        "playbook/",
        cols(
            "id name description position:int summary_guidance outcome_ids:list custom_field_ids:list"
            " archived_at:ts archived_by_id organization_id created_by_id updated_by_id created_at:ts updated_at:ts"
        ),
    ),
    _list(
        "Scheduling",
        "Scheduling Links",
        "Returns the API key's user's Scheduling links.",
        "scheduling_link/",
        _SCHEDULING_LINK,
    ),
    _list(
        "Scheduling",
        "Shared Scheduling Links",
        "Returns the organization's Shared scheduling links.",
        "shared_scheduling_link/",
        _SCHEDULING_LINK,
    ),
    _list(
        "Comments",
        "Comment Threads",
        "Returns a list of Comment threads (on leads, opportunities, activities, …).",
        "comment_thread/",
        cols(
            "id object_id object_type lead_id num_comments:int participating:list organization_id created_at:ts"
            " updated_at:ts"
        ),
    ),
    _fanout(
        "Comments",
        "Comments",
        "Returns the Comments of every thread (Close lists comments per thread or commented object).",
        "comment/",
        Fanout("comment_thread/", "thread_id"),
        cols(
            "id thread_id lead_id body mentions:json removed_at:ts removed_by organization_id created_by updated_by"
            " created_at:ts updated_at:ts"
        ),
    ),
    _list(
        "Integrations",
        "Integration Links",
        "Returns the list of Integration links (URL templates shown on leads, contacts and opportunities).",
        "integration_link/",
        cols("id name type url organization_id created_by updated_by date_created:ts date_updated:ts"),
    ),
    _list(
        "Integrations",
        "Webhook Subscriptions",
        "Returns the list of Webhook subscriptions of the organization.",
        "webhook/",
        cols(
            "id url status events:json verify_ssl:bool health_status pause_reason latest_error:json"
            " recent_consecutive_fail_buckets_cnt:int created_by updated_by date_created:ts date_updated:ts"
        ),
        omit=("signature_key", "counters"),  # the key signs deliveries: a secret, never copied
    ),
)

#: Organization objects Close's API has no list of, so no report (each with the reason).
NOT_LISTED: dict[str, str] = {
    "Memberships": "/membership/ takes only POST and PUT; members come from Organizations Memberships.",
    "Send As between other users": "GET /send_as/ answers only for the key's own user (as allowing user by "
    "default); associations between two other users are not listed.",
    "Comments without a thread list": "GET /comment/ needs a thread_id or object_id; Comments reads them per "
    "thread of GET /comment_thread/.",
}
