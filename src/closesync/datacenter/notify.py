"""Alerts: notification channels told when a dataset starts failing and when it recovers.

A channel is an apprise URL (Slack, Teams, email, a JSON webhook…), for one dataset or, without one, the
Data Center's default: a dataset's own channels for an event replace the defaults for that event. The URL
holds the service's token, so it is stored encrypted like an API key and only ever shown masked.

One alert per change of state: `failure` when a run fails with no retry left to queue, `recovery` on the
first success after that; a dataset that keeps failing does not alert again, and a run cut short (Ctrl-C,
a process that died) alerts nobody. Sending happens after the run
is recorded and can never fail it: each channel gets a short timeout, and its outcome is kept on the
channel (and logged) instead of raised. apprise is an optional extra, imported only to send or validate.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from types import ModuleType
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

from closesync.datacenter.errors import (
    ConflictError,
    DataCenterError,
    NotFoundError,
    NotifyUnavailableError,
    SecretKeyError,
    ValidationError,
)
from closesync.datacenter.models import Dataset, Run, _ToDict
from closesync.datacenter.store import Store, from_iso, to_iso

if TYPE_CHECKING:
    from closesync.datacenter.accounts import Clock
    from closesync.datacenter.secrets import Secrets

log = logging.getLogger("closesync.datacenter")

EVENTS = ("failure", "recovery")
PUBLIC_URL_ENV = "CLOSESYNC_PUBLIC_URL"
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8080"
INSTALL_HINT = "pip install 'closesync[notify]'"
APPRISE_URLS = "https://github.com/caronc/apprise/wiki"
#: Seconds to connect to a channel and to wait for its answer: a dead channel delays a run's end by little.
CONNECT_TIMEOUT_S = 4.0
READ_TIMEOUT_S = 8.0
_WHAT = "This notification channel's URL"
_SELECT = """SELECT n.*, d.name AS dataset_name FROM notifications n
             LEFT JOIN datasets d ON d.id = n.dataset_id"""


@dataclass(frozen=True)
class Notification(_ToDict):
    """A channel. `url_masked` (scheme and host) is all that is ever shown of its URL."""

    id: int
    url_masked: str
    dataset_id: int | None  # None: the Data Center default, for datasets without a channel of their own
    dataset_name: str | None
    events: tuple[str, ...]
    created_at: datetime
    last_sent_at: datetime | None
    last_status: str | None  # "sent" or "failed", None before the first message
    last_error: str | None

    @property
    def scope(self) -> str:
        return f"DataSet “{self.dataset_name}”" if self.dataset_id is not None else "every DataSet (default)"


@dataclass(frozen=True)
class Delivery(_ToDict):
    """What happened to one message sent to one channel."""

    notification_id: int
    url_masked: str
    ok: bool
    error: str | None = None


# -- URLs, events, messages ---------------------------------------------------------------------------------
def parse_events(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """`failure,recovery` (or a list) as a tuple in canonical order; None means both."""
    if value is None:
        return EVENTS
    items = value.split(",") if isinstance(value, str) else list(value)
    chosen = {item.strip().lower() for item in items if item and item.strip()}
    unknown = sorted(chosen - set(EVENTS))
    if unknown:
        raise ValidationError(f"Unknown event(s) {', '.join(unknown)}: choose failure, recovery.", field="events")
    if not chosen:
        raise ValidationError("Choose at least one event: failure, recovery.", field="events")
    return tuple(e for e in EVENTS if e in chosen)


def _is_host_name(host: str) -> bool:
    """A DNS name or an address, not a token in the host's place (as in slack://TOKEN/…)."""
    return "." in host or ":" in host or host == "localhost"


def mask_url(url: str) -> str:
    """`scheme://host/…`: enough to tell channels apart; users, passwords, tokens and paths stay hidden."""
    parts = urlsplit(url.strip())
    try:
        host, port = parts.hostname or "", parts.port
    except ValueError:  # a port that is not a number
        host, port = "", None
    if _is_host_name(host):
        shown = f"[{host}]" if ":" in host else host
        shown += f":{port}" if port else ""
    else:
        shown = f"{host[:2]}…" if host else "…"
    rest = parts.username or parts.password or parts.path.strip("/") or parts.query or parts.fragment
    return f"{parts.scheme.lower() or '?'}://{shown}{'/…' if rest else ''}"


def _redact_url(text: str, url: str) -> str:
    """`text` (apprise's own words) without any part of `url` that could be a secret."""
    parts = urlsplit(url)
    pieces = {url, parts.netloc, parts.path, parts.query, parts.fragment, parts.username or "",
              parts.password or "", *parts.path.split("/"), *(v for _, v in parse_qsl(parts.query))}
    try:
        host = parts.hostname or ""
    except ValueError:
        host = ""
    if not _is_host_name(host):
        pieces.add(parts.netloc.rpartition("@")[2])
    pieces |= {unquote(p) for p in pieces}
    for piece in sorted((p for p in pieces if len(p) >= 4 and p != host), key=len, reverse=True):
        text = text.replace(piece, "…")
    return text


def public_url() -> str:
    """Where the web Data Center is reached, for links in messages ($CLOSESYNC_PUBLIC_URL)."""
    return (os.environ.get(PUBLIC_URL_ENV) or DEFAULT_PUBLIC_URL).strip().rstrip("/")


def run_link(run: Run, base: str | None = None) -> str:
    """The run's page on the web Data Center (every report's numbers and the error in full)."""
    return f"{base or public_url()}/runs/{run.id}"


def compose(event: str, dataset: Dataset, run: Run, base: str | None = None) -> tuple[str, str]:
    """Title and body of an alert: the dataset, the report, the error and a link to the run."""
    report = run.error_report or dataset.report_name
    if event == "failure":
        title = f"closesync: DataSet “{dataset.name}” failed"
        lines = [
            f"DataSet “{dataset.name}” failed (run {run.id}, attempt {run.attempt}, {run.trigger}); "
            "no retry is left.",
            f"Report: {report}",
            f"Error: {f'HTTP {run.http_status}: ' if run.http_status else ''}{run.error or 'unknown'}",
        ]
    else:
        title = f"closesync: DataSet “{dataset.name}” recovered"
        lines = [
            f"DataSet “{dataset.name}” works again: run {run.id} succeeded ({run.rows} rows read).",
            f"Report: {report}",
        ]
    lines.append(f"Run: {run_link(run, base)}")
    return title, "\n".join(lines)


# -- apprise ------------------------------------------------------------------------------------------------
def apprise_installed() -> bool:
    """Whether channels can be added and told (the notify extra), without importing apprise."""
    return importlib.util.find_spec("apprise") is not None


def _apprise() -> ModuleType:
    try:
        import apprise
    except ImportError:
        raise NotifyUnavailableError(
            f"Notifications need the apprise library, which is not installed: {INSTALL_HINT}"
        ) from None
    return apprise


class _Warnings(logging.Handler):
    """apprise's warnings logged by this thread while a message is sent: the reason a channel refused."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.thread = threading.get_ident()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:
            self.messages.append(record.getMessage())


class _HideUrl(logging.Filter):
    """Takes a channel's URL out of what apprise and urllib3 log while it is used (their debug lines show it)."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = _redact_url(message, self.url)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


#: Loggers that write a channel's URL (apprise at debug level, urllib3 the request line).
_URL_LOGGERS = ("apprise", "urllib3.connectionpool")


@contextmanager
def _using(url: str) -> Iterator[_Warnings]:
    """Around a call into apprise for `url`: its logs without the URL, and its warnings collected."""
    hide, warnings = _HideUrl(url), _Warnings()
    loggers = [logging.getLogger(name) for name in _URL_LOGGERS]
    for logger in loggers:
        logger.addFilter(hide)
    loggers[0].addHandler(warnings)
    try:
        yield warnings
    finally:
        loggers[0].removeHandler(warnings)
        for logger in loggers:
            logger.removeFilter(hide)


def _plugin(url: str) -> Any:
    """apprise's service for `url`; ValidationError when apprise does not know it."""
    apprise = _apprise()
    with _using(url) as warnings:
        plugin = apprise.Apprise.instantiate(url)
    if plugin is None:
        why = _redact_url(" ".join(warnings.messages), url)
        raise ValidationError(
            f"apprise does not accept {mask_url(url)} as a notification URL{': ' + why if why else ''}. "
            f"The URL of each service (Slack, Teams, email, json:// webhooks…) is listed at {APPRISE_URLS}",
            field="url",
        )
    plugin.socket_connect_timeout = CONNECT_TIMEOUT_S
    plugin.socket_read_timeout = READ_TIMEOUT_S
    return plugin


def send(url: str, title: str, body: str, kind: str) -> str | None:
    """Send one message in this thread; None when the channel took it, else why not (URL parts removed).

    `kind` is "failure", "success" or "info" (apprise's notify types, which colour Slack and Teams cards).
    """
    plugin = _plugin(url)
    with _using(url) as warnings:
        ok = plugin.notify(body=body, title=title, notify_type=kind)
    if ok:
        return None
    return _redact_url(" ".join(warnings.messages), url) or "The channel did not accept the message."


# -- storage ------------------------------------------------------------------------------------------------
def due_alert(conn: sqlite3.Connection, dataset_id: int, run_id: int, *, ok: bool, retry_queued: bool,
              now: datetime) -> str | None:
    """The alert a finished run calls for ("failure", "recovery" or None), inside its write transaction.

    Remembers which datasets are failing, so a dataset that keeps failing alerts once, and a success
    after a retry (whose failure was never announced) announces no recovery.
    """
    failing = conn.execute("SELECT 1 FROM alert_state WHERE dataset_id = ?", (dataset_id,)).fetchone()
    if ok:
        if failing is None:
            return None
        conn.execute("DELETE FROM alert_state WHERE dataset_id = ?", (dataset_id,))
        return "recovery"
    if retry_queued or failing is not None:
        return None
    conn.execute(
        "INSERT INTO alert_state (dataset_id, failed_run_id, since) VALUES (?, ?, ?)",
        (dataset_id, run_id, to_iso(now)),
    )
    return "failure"


def _to_notification(row: sqlite3.Row) -> Notification:
    return Notification(
        id=row["id"],
        url_masked=row["url_display"],
        dataset_id=row["dataset_id"],
        dataset_name=row["dataset_name"],
        events=tuple(row["events"].split(",")),
        created_at=from_iso(row["created_at"]),  # type: ignore[arg-type]
        last_sent_at=from_iso(row["last_sent_at"]),
        last_status=row["last_status"],
        last_error=row["last_error"],
    )


class Notifications:
    """Channels in the store, and the only code that decrypts their URLs."""

    def __init__(self, store: Store, secrets: Secrets, clock: Clock) -> None:
        self.store = store
        self.secrets = secrets
        self.clock = clock

    def list(self) -> list[Notification]:
        """The defaults first, then each dataset's channels."""
        with self.store.connect() as conn:
            rows = conn.execute(f"{_SELECT} ORDER BY n.dataset_id IS NOT NULL, d.name, n.id").fetchall()
        return [_to_notification(r) for r in rows]

    def get(self, notification_id: int | str) -> Notification:
        with self.store.connect() as conn:
            row = conn.execute(f"{_SELECT} WHERE n.id = ?", (_id(notification_id),)).fetchone()
        if row is None:
            raise NotFoundError(f"No notification channel {notification_id}. See `closesync notify list`.")
        return _to_notification(row)

    def add(self, url: str, *, dataset_id: int | None, events: str | Iterable[str] | None = None) -> Notification:
        """Check the URL with apprise (nothing is sent), then store it encrypted."""
        url = (url or "").strip()
        if not url:
            raise ValidationError("Give the channel's URL, e.g. json://hooks.example.com/alerts.", field="url")
        if "://" not in url or len(url) > 4000:
            raise ValidationError(f"{mask_url(url)} is not a notification URL (scheme://…).", field="url")
        chosen = parse_events(events)
        _plugin(url)
        with self.store.connect() as conn:
            same_scope = conn.execute(
                "SELECT id, url_secret FROM notifications WHERE dataset_id IS ?", (dataset_id,)
            ).fetchall()
        for row in same_scope:
            if self._url(row["url_secret"], default="") == url:
                raise ConflictError(f"This URL is channel {row['id']} already, for the same DataSets.")
        with self.store.write() as conn:
            cur = conn.execute(
                """INSERT INTO notifications (dataset_id, events, url_secret, url_display, created_at)
                   VALUES (?, ?, ?, ?, ?)""",
                (dataset_id, ",".join(chosen), self.secrets.encrypt(url), mask_url(url), to_iso(self.clock())),
            )
        return self.get(int(cur.lastrowid))  # type: ignore[arg-type]

    def remove(self, notification_id: int | str) -> Notification:
        channel = self.get(notification_id)
        with self.store.write() as conn:
            conn.execute("PRAGMA secure_delete = ON")  # the encrypted URL is overwritten, not left in free pages
            conn.execute("DELETE FROM notifications WHERE id = ?", (channel.id,))
        return channel

    def _url(self, token: str, default: str | None = None) -> str:
        try:
            return self.secrets.decrypt(token, what=_WHAT)
        except SecretKeyError:
            if default is None:
                raise
            return default

    # -- sending ------------------------------------------------------------------------------------------
    def test(self, notification_id: int | str | None = None) -> list[Delivery]:
        """Send a test message to one channel, or to all; the outcome is kept on each channel."""
        channels = [self.get(notification_id)] if notification_id is not None else self.list()
        if not channels:
            raise NotFoundError("No notification channels yet: add one with `closesync notify add URL`.")
        title = "closesync: test notification"
        results = []
        for channel in channels:
            body = (
                f"A test from the closesync Data Center ({public_url()}): alerts on "
                f"{' and '.join(channel.events)} of {channel.scope} come here."
            )
            results.append(self._deliver(channel.id, title, body, "info"))
        return results

    def send(self, event: str, dataset: Dataset, run: Run) -> list[Delivery]:
        """Tell the dataset's channels for `event`; never raises (a channel's failure is kept and logged)."""
        try:
            title, body = compose(event, dataset, run)
            kind = "failure" if event == "failure" else "success"
            return [self._deliver(cid, title, body, kind) for cid in self._channels_for(dataset.id, event)]
        except Exception:  # the run is recorded already: an alert must never turn into its failure
            log.exception("alert %s for dataset %r could not be sent", event, dataset.name)
            return []

    def _channels_for(self, dataset_id: int, event: str) -> list[int]:
        """The dataset's own channels for `event`, else the defaults for it."""
        with self.store.connect() as conn:
            rows = conn.execute(
                "SELECT id, dataset_id, events FROM notifications WHERE dataset_id = ? OR dataset_id IS NULL "
                "ORDER BY id",
                (dataset_id,),
            ).fetchall()
        wanted = [r for r in rows if event in r["events"].split(",")]
        own = [r["id"] for r in wanted if r["dataset_id"] is not None]
        return own or [r["id"] for r in wanted]

    def _deliver(self, notification_id: int, title: str, body: str, kind: str) -> Delivery:
        with self.store.connect() as conn:
            row = conn.execute(
                "SELECT url_secret, url_display FROM notifications WHERE id = ?", (notification_id,)
            ).fetchone()
        masked = row["url_display"]
        try:
            error = send(self._url(row["url_secret"]), title, body, kind)
        except DataCenterError as exc:  # apprise missing, master key changed, URL no longer accepted
            error = str(exc)
        except Exception as exc:  # a bug in a channel's plugin: its text could hold the URL
            error = f"Sending failed ({type(exc).__name__})."
        with self.store.write() as conn:
            conn.execute(
                "UPDATE notifications SET last_sent_at = ?, last_status = ?, last_error = ? WHERE id = ?",
                (to_iso(self.clock()), "failed" if error else "sent", error, notification_id),
            )
        if error:
            log.warning("notification channel %s (%s) failed: %s", notification_id, masked, error)
        return Delivery(notification_id, masked, error is None, error)


def _id(value: int | str) -> int:
    text = str(value).strip()
    if not text.isdigit():
        raise NotFoundError(f"No notification channel {text!r}: channels are named by number (`notify list`).")
    return int(text)
