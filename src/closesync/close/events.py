"""Close's event-log object types for the collections closesync reads, and how the log may be queried.

Names follow Close's "List of Event Types" (developer.close.com/api/resources/events/list-of-event-types).
The event log's own prose also shows `status_change.opportunity` as an example: if a real account logs
that form, only deletion tracking of that report is affected, and its table still heals on a full refresh.

`GET /event/` takes only certain combinations of filters (developer.close.com/api/resources/events/list):
`action` alone is not one, `object_type` with `action` is. So deletions are read one `object_type` at a
time, and tasks, which log as `task.<_type>`, one subtype at a time.
"""

from __future__ import annotations

#: collection (API path without slashes) -> `object_type` in the event log
EVENT_OBJECT_TYPES: dict[str, str] = {
    "lead": "lead",
    "contact": "contact",
    "opportunity": "opportunity",
    "task": "task.",  # tasks log as task.<_type> (task.lead, task.missed_call, ...): see TASK_TYPES
    "activity/call": "activity.call",
    "activity/email": "activity.email",
    "activity/emailthread": "activity.email_thread",
    "activity/note": "activity.note",
    "activity/status_change/lead": "activity.lead_status_change",
    "activity/status_change/opportunity": "activity.opportunity_status_change",
    "activity/custom": "activity.custom_activity",
    # issue 14's incremental reports: `activity.<snake_case of _type>` like the ones above, the SMS,
    # WhatsApp and form-submission names as the API paths spell them (see REFERENCE.md §W)
    "activity/sms": "activity.sms",
    "activity/meeting": "activity.meeting",
    "activity/whatsapp_message": "activity.whatsapp_message",
    "activity/task_completed": "activity.task_completed",
    "activity/created": "activity.created",
    "activity/form_submission": "activity.form_submission",
    "activity/lead_merge": "activity.lead_merge",
    "custom_object": "custom_object",
}

#: The task `_type`s Close documents (developer.close.com/api/resources/tasks); a subtype Close adds later
#: is not asked for, so its deletions wait for a full refresh.
TASK_TYPES: tuple[str, ...] = (
    "lead",
    "incoming_email",
    "email_followup",
    "missed_call",
    "answered_detached_call",
    "voicemail",
    "opportunity_due",
    "incoming_sms",
    "outgoing_call",
)


def event_object_type(collection: str, record: dict) -> str | None:
    """The object type Close logs for one record of a collection (tasks carry their subtype)."""
    object_type = EVENT_OBJECT_TYPES.get(collection)
    if object_type == "task.":
        return f"task.{record.get('_type') or 'lead'}"
    return object_type


def deletion_object_types(event_type: str) -> tuple[str, ...]:
    """The `object_type`s to ask for, one query each: a prefix ("task.") stands for every known subtype."""
    if event_type.endswith("."):
        return tuple(f"{event_type}{subtype}" for subtype in TASK_TYPES)
    return (event_type,)
