"""Column sets shared by several reports of the catalog (activities, contacts, leads, opportunities, ...).

Compact ``"name:type"`` words (see `columns.cols`), written from Close's API reference; `catalog.py` uses
them, adding report-specific columns where a report has its own.
"""

from __future__ import annotations

from closesync.reports.columns import cols

ACTIVITY = cols(
    "id _type lead_id contact_id user_id user_name users:list organization_id created_by created_by_name"
    " updated_by updated_by_name date_created:ts date_updated:ts activity_at:ts"
)
CALL = ACTIVITY + cols(
    "direction status disposition duration:int voicemail_duration:int voicemail_url recording_url"
    " has_recording:bool recording_expires_at:ts phone remote_phone remote_phone_formatted remote_country_iso"
    " local_phone local_phone_formatted local_country_iso note note_html source call_method cost:float dialer_id"
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
    " note note_html date_won:date date_lost:date date_created:ts date_updated:ts created_by created_by_name"
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
