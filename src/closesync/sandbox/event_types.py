"""What Close's event log calls the objects the sandbox serves: the `object_type` of each logged event.

The sandbox's own reading of Close's event-log reference ("List of Event Types"), kept apart from the client's
so that a wrong assumption in one is caught by tests against the other. An event names its object by kind:
`lead`, `contact`, `opportunity`; activities as `activity.<snake_case of their _type>` (a `LeadStatusChange`
logs as `activity.lead_status_change`; SMS and WhatsApp messages as their API paths spell them,
`activity.sms`, `activity.whatsapp_message`); tasks as `task.<_type>` (`task.lead`, `task.missed_call`, ...);
custom object instances as `custom_object`.
Collections without an entry here (users, statuses, templates, ...) log nothing in the sandbox.
"""

from __future__ import annotations

from typing import Any

#: sandbox collection (API path without slashes) -> `object_type` of its events
OBJECT_TYPES: dict[str, str] = {
    "lead": "lead",
    "contact": "contact",
    "opportunity": "opportunity",
    "activity/call": "activity.call",
    "activity/email": "activity.email",
    "activity/emailthread": "activity.email_thread",
    "activity/note": "activity.note",
    "activity/status_change/lead": "activity.lead_status_change",
    "activity/status_change/opportunity": "activity.opportunity_status_change",
    "activity/custom": "activity.custom_activity",
    "activity/sms": "activity.sms",
    "activity/meeting": "activity.meeting",
    "activity/whatsapp_message": "activity.whatsapp_message",
    "activity/task_completed": "activity.task_completed",
    "activity/created": "activity.created",
    "activity/form_submission": "activity.form_submission",
    "activity/lead_merge": "activity.lead_merge",
    "custom_object": "custom_object",  # custom object instances, whatever their type
}
TASK_DEFAULT_TYPE = "lead"  # a task without `_type` is a lead task, as in GET /task/'s default filter


def object_type(collection: str, record: dict[str, Any]) -> str | None:
    """The `object_type` an event about `record` of `collection` carries; None if the sandbox logs none."""
    if collection == "task":
        return f"task.{record.get('_type') or TASK_DEFAULT_TYPE}"
    return OBJECT_TYPES.get(collection)
