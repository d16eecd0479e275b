"""What the sandbox holds for each report, read from its data rather than over HTTP: the expected side of
end-to-end tests (test_pipeline, test_incremental_deletes)."""

from __future__ import annotations

from closesync.sandbox import Sandbox

LIST_SOURCES = {
    "activities_call": "activity/call",
    "activities_email_threads": "activity/emailthread",
    "activities_emails": "activity/email",
    "activities_lead_status_change": "activity/status_change/lead",
    "activities_notes": "activity/note",
    "activities_opportunity_status_change": "activity/status_change/opportunity",
    "custom_activity_instances": "activity/custom",
    "bulk_actions": "bulk_action/email",
    "contacts": "contact",
    "email_templates": "email_template",
    "exports": "export",
    "lead_statuses": "status/lead",
    "leads": "lead",
    "opportunities": "opportunity",
    "opportunity_statuses": "status/opportunity",
    "smart_views": "saved_search",
    "tasks": "task",
    "users": "user",
    # issue 14 (catalog_activity_objects.py)
    "activities_sms": "activity/sms",
    "activities_meetings": "activity/meeting",
    "activities_whatsapp_messages": "activity/whatsapp_message",
    "activities_task_completed": "activity/task_completed",
    "activities_created": "activity/created",
    "activities_form_submissions": "activity/form_submission",
    "activities_lead_merges": "activity/lead_merge",
    "outcomes": "outcome",
    "custom_fields_lead": "custom_field/lead",
    "custom_fields_contact": "custom_field/contact",
    "custom_fields_opportunity": "custom_field/opportunity",
    "custom_fields_activity": "custom_field/activity",
    "custom_fields_custom_object": "custom_field/custom_object_type",
    "custom_fields_shared": "custom_field/shared",
    "custom_object_types": "custom_object_type",
    "events": "event",
}
CUSTOM_OBJECTS_PREFIX = "custom_objects_"  # one table per custom object type, named after the type
NESTED_BY_ID = {  # report -> (parent collection or object, key of the nested array)
    "leads_contacts": ("lead", "contacts"),
    "leads_opportunities": ("lead", "opportunities"),
    "leads_tasks": ("lead", "tasks"),
    "organizations_inactive_memberships": ("organization", "inactive_memberships"),
    "organizations_invoices": ("organization", "invoices"),
    "organizations_lead_statuses": ("organization", "lead_statuses"),
    "organizations_memberships": ("organization", "memberships"),
    "users_self_email_accounts": ("me", "email_accounts"),
    "users_self_email_signatures": ("me", "email_signatures"),
    "users_self_memberships": ("me", "memberships"),
    "users_self_organizations": ("me", "organizations"),
    "users_self_sip_numbers": ("me", "sip_numbers"),
}
NESTED_BY_POSITION = {  # report -> (parent collection, nested array, parent key column)
    "contacts_emails": ("contact", "emails", "contact_id"),
    "contacts_phones": ("contact", "phones", "contact_id"),
    "contacts_urls": ("contact", "urls", "contact_id"),
    "leads_addresses": ("lead", "addresses", "lead_id"),
}


def expected_ids(sb: Sandbox, slug: str) -> list[str]:
    """The ids the sandbox holds for a report, read from its data rather than over HTTP."""
    data = sb.data
    if slug in LIST_SOURCES:
        return [r["id"] for r in data.records(LIST_SOURCES[slug])]
    if slug == "custom_activity_types":
        return [t["id"] for t in data.catalog.custom_activity_types]
    if slug.startswith(CUSTOM_OBJECTS_PREFIX):
        return [r["id"] for r in data.records("custom_object") if r["custom_object_type_id"] == custom_object_types(sb)[slug]]
    if slug == "organizations":
        return [data.organization()["id"]]
    if slug == "organizations_opportunity_statuses":
        return [s["id"] for p in data.organization()["pipelines"] for s in p["statuses"]]
    parent, key = NESTED_BY_ID[slug]
    parents = {"organization": [data.organization()], "me": [data.me()]}.get(parent) or data.records(parent)
    return [item["id"] for record in parents for item in record.get(key) or []]


def expected_positions(sb: Sandbox, slug: str) -> list[tuple[str, int]]:
    parent, key, _ = NESTED_BY_POSITION[slug]
    return [(r["id"], i) for r in sb.data.records(parent) for i, _ in enumerate(r.get(key) or [])]


def custom_object_types(sb: Sandbox) -> dict[str, str]:
    """custom_objects_<type> table -> custom object type id, from the sandbox's own types."""
    return {CUSTOM_OBJECTS_PREFIX + t["name"].lower().replace(" ", "_"): t["id"]
            for t in sb.data.records("custom_object_type")}
