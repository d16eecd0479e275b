"""Readers: what one read of a source asks Close for, one reader per `ReadKind` (the `READERS` table), plus
the small metadata requests a read makes up front and the event-log walk for deletions (with its fallback,
the ids Close has now, when the event log refuses a query).

`extract.py` decides what to read (reports, cursor, bounds) and shapes what comes back; nothing here
buffers or shapes. Every reader is a generator, so no request is sent before the records are wanted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from closesync.close.errors import BadRequestError, CloseError, NotFoundError, PermissionDeniedError
from closesync.close.events import deletion_object_types
from closesync.close.records import Record
from closesync.close.timestamps import format_timestamp
from closesync.reports.custom_fields import CustomField
from closesync.reports.nesting import POSITION
from closesync.reports.spec import ReadKind, ReportParams, ReportSpec

if TYPE_CHECKING:
    from closesync.close.client import CloseClient
    from closesync.reports.shaping import Shaper

# The object type a shared custom field's association names, per custom field kind (default: the same;
# custom object fields are of kind "custom_object_type", after their endpoint custom_field/custom_object_type/).
SHARED_ASSOCIATION = {"activity": "custom_activity_type"}


@dataclass(frozen=True)
class SourceQuery:
    """One read of a source: the reports it feeds (the first names the source), the user's parameters,
    and what the plan decided (cursor field, start) or looked up (organization, activity metrics)."""

    client: CloseClient
    specs: Sequence[ReportSpec]
    params: ReportParams
    cursor_field: str | None
    start: datetime | None
    organization_id: str | None
    metrics: Sequence[str]
    fields: Sequence[str]  # what a search asks for (see `search_fields`)
    notes: list[str] = field(default_factory=list)  # what the run should say about this read

    @property
    def first(self) -> ReportSpec:
        return self.specs[0]

    def list_params(self) -> dict[str, Any]:
        """The source's fixed query parameters and its user filter."""
        query: dict[str, Any] = dict(self.first.fixed_params)
        if self.first.user_filter and self.params.user_id:
            query[self.first.user_filter] = self.params.user_id
        return query


def read_source(query: SourceQuery) -> Iterator[Record]:
    """The source's records (parents for nested reports), in the cheapest complete way for its kind."""
    return READERS[query.first.read](query)


def _read_list(query: SourceQuery) -> Iterator[Record]:
    first = query.first
    yield from query.client.paginate(first.path, query.list_params() or None, page_size=first.page_size)


def _read_by_date(query: SourceQuery) -> Iterator[Record]:
    first, params = query.first, query.params
    filters = query.list_params()
    walks_date_field = first.date_field is not None and first.date_field == query.cursor_field
    end = params.until if walks_date_field else None
    if first.date_field and not walks_date_field:  # e.g. opportunities walk date_updated, bounded by creation
        if params.since is not None:
            filters[f"{first.date_field}__gte"] = format_timestamp(params.since)
        if params.until is not None:
            filters[f"{first.date_field}__lt"] = format_timestamp(params.until)
    yield from query.client.paginate_by_date(
        first.path,
        filters or None,
        field=query.cursor_field or "date_created",
        start=query.start,
        end=end,
        page_size=first.page_size,
    )


def _read_search(query: SourceQuery) -> Iterator[Record]:
    dropped: list[str] = []
    yield from query.client.search_by_date(
        query.first.source,
        field=query.cursor_field or "date_updated",
        start=query.start,
        fields=list(query.fields),
        page_size=query.first.page_size or 200,
        dropped=dropped,
    )
    query.notes.extend(
        f"Close refused the search selector {selector} even on its own; the read went on without it, so its "
        "column is empty (null) in this run"
        for selector in dropped
    )


def _read_object(query: SourceQuery) -> Iterator[Record]:
    yield query.client.get(query.first.path.format(organization_id=query.organization_id))


def _read_me(query: SourceQuery) -> Iterator[Record]:
    yield query.client.get("me/")


def _read_fanout(query: SourceQuery) -> Iterator[Record]:
    """Close lists some objects only per parent (a sequence's subscriptions, a group's members): walk the
    parents, then each one's records; parents are read before their children (a page at a time)."""
    first = query.first
    fanout = first.fanout
    assert fanout is not None
    client = query.client
    for parent in client.paginate(fanout.path, page_size=first.page_size):
        parent_id = parent.get("id") if isinstance(parent, dict) else None
        if not parent_id:
            continue
        if fanout.param is None:
            yield client.get(first.path.format(id=parent_id))
        else:
            params = {**query.list_params(), fanout.param: parent_id}
            yield from client.paginate(first.path, params, page_size=first.page_size)


def _read_activity_report(query: SourceQuery) -> Iterator[Record]:
    params = query.params
    body: dict[str, Any] = {"type": "overview", "metrics": list(query.metrics)}
    if params.since is not None or params.until is not None:
        since = params.since or datetime(2000, 1, 1, tzinfo=UTC)
        until = params.until or datetime.now(UTC)
        body["datetime_range"] = {"start": format_timestamp(since), "end": format_timestamp(until)}
    else:
        body["relative_range"] = "all-time"
    if params.user_id:
        body["users"] = [params.user_id]
    response = query.client.post("report/activity/", body)
    for row in response.get("data") or []:
        if isinstance(row, dict):
            yield {**row, "organization_id": query.organization_id, "user_id": params.user_id}


def _read_sent_emails(query: SourceQuery) -> Iterator[Record]:
    params, organization_id = query.params, query.organization_id
    days: dict[str, Any] = {}  # this report takes calendar days, not timestamps
    if params.since is not None:
        days["date_start"] = params.since.astimezone(UTC).date().isoformat()
    if params.until is not None:
        days["date_end"] = params.until.astimezone(UTC).date().isoformat()
    if params.user_id:
        days["user_id"] = params.user_id
    response = query.client.get(query.first.path.format(organization_id=organization_id), days or None)
    for position, row in enumerate(response.get("sent_email_stats") or []):
        if isinstance(row, dict):
            yield {
                **row,
                "organization_id": organization_id,
                POSITION: position,
                "user_id": params.user_id,
                "date_start": days.get("date_start"),
                "date_end": days.get("date_end"),
            }


def _read_events(query: SourceQuery) -> Iterator[Record]:
    """The event log, newest first; an incremental read asks only for events updated since its cursor."""
    params = {"date_updated__gte": format_timestamp(query.start)} if query.start is not None else None
    yield from query.client.events(params)


READERS: dict[ReadKind, Callable[[SourceQuery], Iterator[Record]]] = {
    ReadKind.LIST: _read_list,
    ReadKind.BY_DATE: _read_by_date,
    ReadKind.SEARCH: _read_search,
    ReadKind.OBJECT: _read_object,
    ReadKind.ME: _read_me,
    ReadKind.REPORT_ACTIVITY: _read_activity_report,
    ReadKind.REPORT_SENT_EMAILS: _read_sent_emails,
    ReadKind.FANOUT: _read_fanout,
    ReadKind.EVENTS: _read_events,
}


def search_fields(specs: Sequence[ReportSpec], shapers: dict[str, Shaper]) -> list[str]:
    """Everything the reports of a search source need: declared keys (custom fields by id), nested arrays,
    and `custom` (all custom values, so fields created since the definitions were read still arrive)."""
    wanted: dict[str, None] = {}
    for s in specs:
        if s.nested is None:
            wanted.update(dict.fromkeys(c.source_key for c in shapers[s.slug].columns))
            wanted.update(dict.fromkeys(s.omit))
        else:
            wanted[s.nested.path[0]] = None
            wanted.update(dict.fromkeys(s.nested.fallback[:1]))
            wanted.update(dict.fromkeys(key for _, key in s.nested.parent_columns))
    wanted["custom"] = None
    return list(wanted)


# -- metadata read up front ----------------------------------------------------------------------------


def default_organization_id(client: CloseClient) -> str:
    """The key owner's first organization, as Close's own scripts choose it."""
    me = client.get("me/")
    organizations = me.get("organizations") or []
    if not organizations or not organizations[0].get("id"):
        raise CloseError("The API key's user belongs to no organization; pass an Organization ID")
    return str(organizations[0]["id"])


def custom_field_definitions(
    client: CloseClient, kind: str, notes: list[str], shared: Sequence[Record] | None = None
) -> list[CustomField]:
    """The custom field definitions of one kind: its own, and the `shared` ones (`shared_field_definitions`,
    read here if not given) associated with it; unreadable ones leave a note (values stay in `extra`)."""
    try:
        fields = [
            CustomField.from_definition(d, kind)
            for d in client.paginate(f"custom_field/{kind}/", page_size=1000)
            if isinstance(d, dict) and d.get("id")
        ]
    except CloseError as exc:
        notes.append(f"custom fields of {kind}s unavailable ({exc.message}); values kept in the extra column")
        return []
    own = {f.id for f in fields}
    if shared is None:
        shared = shared_field_definitions(client, notes)
    return fields + [f for f in _associated(shared, kind) if f.id not in own]


def shared_field_definitions(client: CloseClient, notes: list[str]) -> list[Record]:
    """Close's shared custom fields (custom_field/shared/, each with its `associations`); a key or account
    without them gets a note."""
    try:
        return [d for d in client.paginate("custom_field/shared/", page_size=1000) if isinstance(d, dict)]
    except (PermissionDeniedError, NotFoundError) as exc:
        notes.append(f"shared custom fields unavailable ({exc.message}); their values kept in the extra column")
        return []


def _associated(shared: Sequence[Record], kind: str) -> Iterator[CustomField]:
    """The shared fields associated with `kind` (an activity kind: with a custom activity type)."""
    target = SHARED_ASSOCIATION.get(kind, kind)
    for definition in shared:
        if not definition.get("id"):
            continue
        for association in definition.get("associations") or []:
            if isinstance(association, dict) and association.get("object_type") == target:
                type_ids = {k: association.get(k) for k in ("custom_activity_type_id", "custom_object_type_id")}
                yield CustomField.from_definition({**definition, **type_ids}, kind)


def activity_metrics(client: CloseClient) -> list[str]:
    """The metric keys the activity report offers this account (each becomes a column, see `metric_type`)."""
    page = client.get("report/activity/metrics/")
    items = page.get("data", page) if isinstance(page, dict) else page
    keys = [m.get("key") if isinstance(m, dict) else m for m in items or []]
    return [str(k) for k in keys if k]


# -- deletions from the event log ------------------------------------------------------------------------


def deleted_ids(
    client: CloseClient,
    event_type: str,
    since: datetime,
    notes: list[str],
    compare: Callable[[CloseClient], list[str]] | None = None,
) -> Iterator[str]:
    """Ids of `event_type` objects deleted since `since`, from Close's event log.

    Close's event log takes only certain filter combinations; `object_type` with `action` is one, so each
    object type is its own walk (an `event_type` ending in "." such as "task." stands for every subtype
    Close documents). Nothing here fails a sync: a key that may not read the log (403/404) gets a note and
    no deletions. A refused query (400: e.g. a filter combination Close stopped accepting) falls back to
    `compare` (given a client that counts its requests): a full comparison of the ids Close has with the
    destination's, slower but correct, once whatever the number of refused walks; the other walks go on.
    Without `compare` (nothing to compare with) a note says the next full refresh removes them.
    """
    refused: list[str] = []
    reason = ""
    for object_type in deletion_object_types(event_type):
        params = {"object_type": object_type, "action": "deleted", "date_updated__gte": format_timestamp(since)}
        try:
            for event in client.events(params):
                if not isinstance(event, dict) or event.get("action", "deleted") != "deleted":
                    continue
                if event.get("object_type", object_type) == object_type and event.get("object_id"):
                    yield str(event["object_id"])
        except (PermissionDeniedError, NotFoundError) as exc:
            notes.append(
                f"Close's event log is unavailable ({exc.message}); records deleted in Close stay until a "
                "full refresh"
            )
            return
        except BadRequestError as exc:
            refused.append(object_type)
            reason = exc.message
    if not refused:
        return
    refusal = f"Close's event log refused the query for deleted {', '.join(refused)} records ({reason})"
    if compare is None:
        notes.append(f"{refusal}; records deleted in Close since the last run stay until the next full refresh")
        return
    counting = client.scoped()
    gone = compare(counting)
    notes.append(
        f"{refusal}; a full id comparison with Close found {len(gone)} deleted instead "
        f"({counting.stats.requests} requests)"
    )
    yield from gone


def current_ids(query: SourceQuery) -> Iterator[str]:
    """Every id Close has now within the read's scope (its filters and creation bounds, without the
    incremental cursor), the cheapest complete way: only `id` and `date_created` (the walk's windows) per
    record. A wider list than the read's scope would still be correct: only ids missing from it count."""
    first, params = query.first, query.params
    if first.read is ReadKind.SEARCH:  # a search read takes no filter: every record of the object type
        records = query.client.search_by_date(first.source, field="date_created", page_size=first.page_size or 200)
    else:
        bounded = first.date_field == "date_created"
        records = query.client.paginate_by_date(
            first.path,
            {**query.list_params(), "_fields": "id,date_created"},
            field="date_created",
            start=params.since if bounded else None,
            end=params.until if bounded else None,
            page_size=first.page_size,
        )
    for record in records:
        if record.get("id") is not None:
            yield str(record["id"])
