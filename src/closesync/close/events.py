"""Close's event-log object types for the collections closesync reads.

Names follow Close's "List of Event Types" (developer.close.com/api/resources/events/list-of-event-types).
The event log's own prose also shows `status_change.opportunity` as an example: if a real account logs
that form, only deletion tracking of that report is affected, and its table still heals on a full refresh.
"""

from __future__ import annotations

#: collection (API path without slashes) -> `object_type` in the event log
EVENT_OBJECT_TYPES: dict[str, str] = {
    "lead": "lead",
    "contact": "contact",
    "opportunity": "opportunity",
    "task": "task.",  # tasks log as task.<_type> (task.lead, task.missed_call, ...): matched by prefix
    "activity/call": "activity.call",
    "activity/email": "activity.email",
    "activity/emailthread": "activity.email_thread",
    "activity/note": "activity.note",
    "activity/status_change/lead": "activity.lead_status_change",
    "activity/status_change/opportunity": "activity.opportunity_status_change",
    "activity/custom": "activity.custom_activity",
}


def event_object_type(collection: str, record: dict) -> str | None:
    """The object type Close logs for one record of a collection (tasks carry their subtype)."""
    object_type = EVENT_OBJECT_TYPES.get(collection)
    if object_type == "task.":
        return f"task.{record.get('_type') or 'lead'}"
    return object_type
