"""Reports beyond the classic 38: the remaining activity types, call outcomes, custom activity and object
types, custom field definitions, custom objects (one table per type) and the event log (issue 14).

Data, like `catalog.py`: endpoints, paging and fields from Close's reference (docs/close-api/REFERENCE.md §N).
"""

from __future__ import annotations

from closesync.reports.builders import by_date_report, list_report
from closesync.reports.column_sets import ACTIVITY
from closesync.reports.columns import Column, cols
from closesync.reports.spec import ReadKind, ReportSpec

ACTIVITIES, CUSTOM_OBJECTS, CUSTOM_FIELDS, EVENTS = "Activities", "Custom objects", "Custom fields", "Events"

_SEQUENCE = " sequence_id sequence_name sequence_subscription_id"
_PHONES = " local_phone local_phone_formatted remote_phone remote_phone_formatted"
_DEFINITION = cols(
    "id name description type accepts_multiple_values:bool choices:list editable_with_roles:list is_shared:bool"
    " organization_id created_by updated_by date_created:ts date_updated:ts"
)
_STAMPS = " organization_id created_by updated_by date_created:ts date_updated:ts"


def _activity(name: str, path: str, columns: tuple[Column, ...]) -> ReportSpec:
    """An activity type's list: date_created windows (past the `_skip` cap), a look-back for edits."""
    description = f"Returns a list of {name.removeprefix('Activities ')} activities."
    return by_date_report(name, description, path, ACTIVITY + columns, family=ACTIVITIES)


def _definitions(name: str, description: str, path: str, family: str, extra: str = "") -> ReportSpec:
    """A small configuration list, read whole each run (Close offers no change filter on these)."""
    fields = family == CUSTOM_FIELDS
    columns = _DEFINITION + cols(extra) if fields else cols(extra)
    return list_report(name, description, path, columns, page_size=1000 if fields else None, family=family)


ACTIVITY_OBJECT_REPORTS: tuple[ReportSpec, ...] = (
    _activity(
        "Activities SMS",
        "activity/sms/",
        cols(
            "direction status text date_sent:ts date_scheduled:ts error_message cost local_country_iso"
            " remote_country_iso source template_id attachments:json agent_config_id agent_action_reason"
            + _PHONES
            + _SEQUENCE
        ),
    ),
    _activity(
        "Activities Meetings",
        "activity/meeting/",
        cols(
            "title status source location note user_note_html starts_at:ts ends_at:ts duration:int"
            " attendees:json is_recurring:bool provider_calendar_event_id provider_calendar_ids:list"
            " provider_calendar_type conference_links:json integrations:json"
        ),
    ),
    _activity(
        "Activities WhatsApp Messages",
        "activity/whatsapp_message/",
        cols(
            "direction text message_html message_markdown attachments:json external_whatsapp_message_id"
            " integration_link integration_name response_to_id source" + _PHONES + _SEQUENCE
        ),
    ),
    _activity(
        "Activities Task Completed",
        "activity/task_completed/",
        cols("task_id task_text task_assigned_to task_assigned_to_name"),
    ),
    _activity("Activities Created", "activity/created/", cols("source import_id")),
    _activity(
        "Activities Form Submissions",
        "activity/form_submission/",
        cols(
            "form_id form_name form_configuration_id ip_address origin source_url source_url_normalized"
            " values:json values_by_name:json"
        ),
    ),
    _activity(
        "Activities Lead Merges",
        "activity/lead_merge/",
        cols("source_lead_id source_lead_name destination_lead_id destination_lead_name"),
    ),
    _definitions(
        "Outcomes",
        "Returns the list of call and meeting Outcomes of the organization.",
        "outcome/",
        ACTIVITIES,
        "id name description type applies_to:list" + _STAMPS,
    ),
    _definitions(
        "Custom Activity Types",
        "Returns the list of Custom Activity Types, each with its fields.",
        "custom_activity/",
        ACTIVITIES,
        "id name description api_create_only:bool editable_with_roles:list fields:json" + _STAMPS,
    ),
    _definitions(
        "Custom Fields Lead", "Returns the list of Lead Custom Fields.", "custom_field/lead/", CUSTOM_FIELDS
    ),
    _definitions(
        "Custom Fields Contact",
        "Returns the list of Contact Custom Fields.",
        "custom_field/contact/",
        CUSTOM_FIELDS,
    ),
    _definitions(
        "Custom Fields Opportunity",
        "Returns the list of Opportunity Custom Fields.",
        "custom_field/opportunity/",
        CUSTOM_FIELDS,
    ),
    _definitions(
        "Custom Fields Activity",
        "Returns the list of Custom Activity Custom Fields.",
        "custom_field/activity/",
        CUSTOM_FIELDS,
        "custom_activity_type_id required:bool",
    ),
    _definitions(
        "Custom Fields Custom Object",
        "Returns the list of Custom Object Custom Fields.",
        "custom_field/custom_object_type/",
        CUSTOM_FIELDS,
        "custom_object_type_id required:bool",
    ),
    _definitions(
        "Custom Fields Shared",
        "Returns the list of Shared Custom Fields, each with the object types it is associated with.",
        "custom_field/shared/",
        CUSTOM_FIELDS,
        "associations:json",
    ),
    _definitions(
        "Custom Object Types",
        "Returns the list of Custom Object Types, with their fields and back references.",
        "custom_object_type/",
        CUSTOM_OBJECTS,
        "id name name_plural description api_create_only:bool editable_with_roles:list fields:json"
        " back_reference_fields:json" + _STAMPS,
    ),
    ReportSpec(
        name="Custom Objects",
        description="Returns a list of Custom Objects, one table per Custom Object Type with its custom fields "
        "as columns (types are discovered when a sync starts).",
        source="custom_object",
        read=ReadKind.SEARCH,
        path="data/search/",
        method="POST",
        columns=cols("id name custom_object_type_id lead_id" + _STAMPS),
        cursor="date_updated",
        custom_field_kind="custom_object_type",
        page_size=200,
        per_type=True,
        family=CUSTOM_OBJECTS,
    ),
    ReportSpec(
        name="Events",
        description="Returns the Event Log: every change to the account's objects. Close keeps about 30 days "
        "of events, so older history is not available; sync at least monthly to keep it whole.",
        source="event",
        read=ReadKind.EVENTS,
        path="event/",
        columns=cols(
            "id date_created:ts date_updated:ts action object_type object_id lead_id user_id organization_id"
            " request_id api_key_id oauth_client_id oauth_scope changed_fields:list data:json"
            " previous_data:json meta:json"
        ),
        cursor="date_updated",
        page_size=50,
        family=EVENTS,
    ),
)
