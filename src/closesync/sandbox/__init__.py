"""The sandbox: a faithful local stand-in for the Close API v1, served from a seeded data generator.

Start one in-process (tests, benchmarks)::

    from closesync.sandbox import Sandbox
    with Sandbox(seed=1, leads=20, api_key="api_test", rate_limit=(20, 1.0), skip_cap=250_000,
                 latency_ms=0, faults=None) as sb:
        sb.base_url        # "http://127.0.0.1:<port>/api/v1/"  (HTTP Basic auth: api key as username)
        sb.api_key

or from the shell: `closesync sandbox --port 8000 --leads 500 --rate-limit 20/1 --faults "500:0.02"`.

Constructor: `Sandbox(seed=1, leads=20, api_key=DEFAULT_API_KEY, *, rate_limit=None | (N, seconds),
skip_cap=250_000, latency_ms=0, faults=None | "SPEC" | [Fault], host="127.0.0.1", port=0,
activities_per_lead=20.0, activity_mix=None | {"activity/call": 30, ...}, extra_api_keys=(), gzip=True)`.
`sb.start()` / `sb.stop()` / context manager; `sb.port`, `sb.stats_url`; `repr(sb)` never shows the key.

Run-time knobs: `sb.skip_cap = 100`, `sb.rate_limit = (5, 1.0)` (or None), `sb.latency_ms = 20`,
`sb.add_fault(kind, path=None, count=1, *, delay=2.0, reset=1.0, probability=None, size_mb=100)`,
`sb.clear_faults()`, `sb.rotate_api_key(new_key)` (only the new key is accepted from then on),
`sb.event_filters = "any"` (default "documented": GET event/ answers 400 to a filter combination Close's
reference does not list, e.g. `action` alone; "none" refuses every filter), `sb.undocumented_keys = False`
(the organization and /me/ without the invoices, email signatures and SIP numbers Close's documentation
does not show).
Fault kinds: "429" (locks the caller out for `reset` s), "500", "502", "503", "504", "slow" (`delay` s),
"cut" (Content-Length larger than the bytes sent, then close), "drop" (close without a reply),
"badjson" (200 with truncated JSON), "cuterror" (an error body truncated), "huge" (a `size_mb` MB page,
generated as it is sent), "400"/"401"/"403"/"404" (Close's error bodies), and contradictory answers:
"notalist", "nonobjects", "emptymore", "stuckcursor", "notobject", "nested" (see `faults.py`).
`path` is a prefix of the API path, e.g. "activity/call/". Faults come after auth and rate limiting.
`--faults` SPEC: `KIND:PROB` (random, e.g. `500:0.02,drop:0.01`) or `KIND*COUNT`, optional `@PATH`.

`SandboxProcess(...)` takes the same arguments (minus `activity_mix`/`extra_api_keys`) and offers the same
surface, but runs the server in a child process (`python -m closesync sandbox`) so a benchmark's client does
not share a GIL with it; it is steered through the `/_sandbox/` control endpoints (see `control.py`) and its
`.data` is a local replica built from the same seed. `sb.gzip = False` skips response compression (real
Close compresses; on loopback it only costs CPU on both sides).

Big real accounts (`real_close.py`, all off by default): `sb.real_close(search_cursor_depth=37,
search_cursor_ttl=0, search_selector_ceiling=20, search_refused_selectors=["custom.cf_x"], nested_custom=True)`
(also POST /_sandbox/config) makes data/search/ refuse deep or expired cursors, too many `_fields` selectors
and named selectors even alone, and nests custom values;
`Sandbox(shared_custom_fields=True, generated_lead_fields=150)` adds shared custom fields (GET
`custom_field/shared/`, `custom_field_schema/{lead|contact|opportunity}/`) and many lead custom fields.
Custom field definitions can be created and deleted mid-run (`custom_field/lead` etc. are mutable; a deleted
field's values disappear). `sb.truth_custom(collection)` adds each record's custom values to `truth`.

Data changing during a read (`mutations.py`): `sb.mutate(collection, "create"|"edit"|"delete", count=1, *,
ids=(), fields=None)` applies a change now (POST /_sandbox/mutate) and returns the ids;
`sb.schedule_mutation(..., after=N, group=None)` applies it just before the API request that makes N
requests (in one endpoint group, e.g. "GET activity/call", if given): deterministic mid-read changes.
`sb.mutations()` lists pending and applied ones, `sb.clear_mutations()` forgets them. Ground truth
(`truth.py`): `sb.truth(collection)` == GET /_sandbox/truth/{collection} -> the id and date_updated of every
live record, for comparing a synced table without paging through the API.

Observations: `sb.stats()` == GET /_sandbox/stats (no auth) ->
`{"requests": {"total", "by_group", "by_status"}, "throttled", "throttled_by_group", "early_retries",
"faults": {kind: n}, "unauthorized"}`; `sb.reset_stats()`. Groups are the sandbox's own model of Close's
endpoint groups (`routes.endpoint_group`: the method and the route, without the object id). `early_retries`
counts requests that arrived while their (key, group) was still locked out by a 429 they were served: arrival
is taken before the latency knob sleeps, and only after that 429 was written, so requests already in flight
are not blamed.

Data (`sb.data`, a `SandboxData`; usable without a server as `SandboxData(seed, leads, activities_per_lead)`):
- collections: "lead", "contact", "opportunity", "task", "activity/call", "activity/email",
  "activity/emailthread", "activity/note", "activity/status_change/lead",
  "activity/status_change/opportunity", "activity/custom", "user", "status/lead", "status/opportunity",
  "custom_field/lead|contact|opportunity|activity", "email_template", "saved_search", "bulk_action/email",
  "export", "event".
- `data.records(name) -> list[dict]` (oldest first; test sizes), `data.iter_records(name)` (streaming, flat
  memory; the fast path for large shaping benchmarks), `data.count(name)`, `data.get(name, id)`,
  `data.organization()`, `data.me()`, `data.catalog` (users, statuses, custom field definitions, ...).
- mutations for incremental tests: `data.add(name, record=None, **fields)`, `data.update(name, id, **changes)`
  (moves `date_updated` to `data.now()`), `data.delete(name, id)`; each also writes to the event log.
  Note: nested copies (lead.contacts etc.) are not rewritten when a child record changes.
- Sizes: contacts 1-3 per lead, opportunities 0-2, tasks 0-3 (all `_type`s), activities
  `activities_per_lead` per lead split across the 7 activity endpoints (calls/emails 30 % each, ...).
  Timestamps span 2021-01-04 .. 2026-01-02, increase with the index inside each collection, and use Close's
  formats (microseconds or whole seconds, `+00:00` or no offset; task `date` sometimes a bare date).

HTTP behaviour: lists are newest-first by date_created with `{"data", "has_more"}` (+ `total_results` for
lead and opportunity, + value aggregates for opportunity); `_skip`/`_limit` with per-resource max `_limit`
(activities/contacts/statuses/templates 100, lead 200, opportunity 250, task/user/custom_field 1000,
event 50); a `_skip` above `skip_cap` answers 400 (Close's max_skip message; `_skip == skip_cap` is allowed).
Filters: `date_created__gt/gte/lt/lte` (activities, opportunities, tasks), `date_updated__*` (opportunities,
tasks), `lead_id`, `user_id`, `contact_id`, `_type` (tasks default to `lead`, `_type=all`), `type`/`type__in`
(smart views default to `lead`), `_fields`, `_order_by` (opportunity: date_created/date_updated/...;
task: date/date_created; user: first_name/last_name); statuses and custom field definitions keep UI order.
`GET activity/` merges every activity type newest-first (`_type`/`_type__in` = "Call", "Note", ...).
A POST with `x-http-method-override: GET` reads `{"_params": {...}}` as query parameters.
`POST data/search/` (see `search.py`): cursor paging,
`_limit` <= 200, the skip cap applies to the cursor depth. `GET event/`: `_cursor` -> `cursor_next`,
only Close's documented filter combinations (see `events.py`).
Also POST/PUT/DELETE on lead, contact, opportunity, task and activity paths mutate the data.
Export API (see `exports.py`): POST `export/lead/` (type leads|contacts|lead_opps, json|csv, `s_query`) or
`export/opportunity/` (`params`) answers the job with status "created"; GET `export/{id}/` then says "done"
with a `download_url` (/_sandbox/export/{id}/download, no auth, gzip-encoded file). Reports: POST `report/activity/`, GET
`report/activity/metrics/`, GET `report/sent_emails/{org_id}/` (numbers derived from the generated volume).
Errors use Close's bodies: `{"error": "..."}` or `{"errors": [...], "field-errors": {...}}`.
"""

from closesync.sandbox.data import SandboxData
from closesync.sandbox.faults import KINDS as FAULT_KINDS
from closesync.sandbox.faults import Fault, parse_spec
from closesync.sandbox.process import SandboxProcess
from closesync.sandbox.service import DEFAULT_API_KEY, Sandbox

__all__ = ["DEFAULT_API_KEY", "FAULT_KINDS", "Fault", "Sandbox", "SandboxData", "SandboxProcess", "parse_spec"]
