"""Saved Close accounts: validated against GET me/ before anything is stored, keys kept encrypted.

An account remembers who its key belongs to (user, email, organizations, the organization's users) so the
dataset forms can offer Organization ID and User ID as choices instead of ids typed blind.
"""

from __future__ import annotations

import json
import os
import shlex
import sqlite3
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from closesync.datacenter.errors import (
    AccountKeyError,
    ConflictError,
    DatasetBusyError,
    OrganizationChangeError,
    SecretKeyError,
    ValidationError,
)
from closesync.datacenter.history import RunOutcome
from closesync.datacenter.models import Account, AccountCheck, Choice, ReportChoices, Run
from closesync.datacenter.secrets import Secrets, key_hint, redact
from closesync.datacenter.store import Store, from_iso, row_by_name_or_id, to_iso

if TYPE_CHECKING:
    from closesync.close.client import CloseClient

ClientFactory = Callable[[str, str], "CloseClient"]  # (api_key, base_url) -> a client
Clock = Callable[[], datetime]

_SELECT = """SELECT a.*, (SELECT COUNT(*) FROM datasets d WHERE d.account_id = a.id) AS dataset_count,
                    (SELECT COUNT(*) FROM runs r JOIN datasets d ON d.id = r.dataset_id
                     WHERE d.account_id = a.id) AS run_count
             FROM accounts a"""
#: HTTP statuses of a run that mean Close refused the account's key, not that one request went wrong.
KEY_REFUSED = (401, 403)


_ADVICE = "Replace the key with"


def key_advice(account_name: str) -> str:
    """How to give an account a new key, for a run Close refused (one sentence, CLI and web)."""
    command = f"closesync accounts set-key {shlex.quote(account_name)}"
    return f"{_ADVICE} `{command}` or with “Replace key” on the account's page."


def with_key_advice(outcome: RunOutcome, account_name: str) -> RunOutcome:
    """A run Close refused (401/403) ends its error with how to replace the key; others are unchanged."""
    if outcome.http_status not in KEY_REFUSED or not outcome.error:
        return outcome
    return replace(outcome, error=f"{outcome.error} {key_advice(account_name)}")


def check_name(name: str, what: str = "name") -> str:
    """Names double as CLI arguments: no blanks at the ends, not all digits (those are ids)."""
    name = (name or "").strip()
    if not name:
        raise ValidationError(f"The {what} cannot be empty.", field="name")
    if len(name) > 100:
        raise ValidationError(f"The {what} is longer than 100 characters.", field="name")
    if name.isdigit():
        raise ValidationError(f"The {what} cannot be only digits (numbers are read as ids).", field="name")
    return name


def normalize_base_url(url: str | None) -> str:
    from closesync.close.client import (
        DEFAULT_BASE_URL,  # the client (and httpx) only when an account is saved
    )

    url = (url or DEFAULT_BASE_URL).strip()
    if not url.startswith(("http://", "https://")):
        raise ValidationError(f"The base URL {url!r} must start with https:// (or http://).", field="base_url")
    try:
        parts = urlsplit(url)
        host = parts.hostname if parts.port != 0 else None  # reading .port checks it is a number
    except ValueError:  # e.g. "http://[::1" or a port that is not a number
        host = None
    if not host or not url.isprintable() or " " in url:
        raise ValidationError(
            f"The base URL {url!r} is not a valid web address: write it like https://api.close.com/api/v1/.",
            field="base_url",
        )
    return url if url.endswith("/") else url + "/"


def _describe_close_error(exc: Exception, base_url: str, *secrets: str | None) -> str:
    status = getattr(exc, "status", None)
    detail = redact(str(exc), *secrets)
    if status == 401:
        return f"Close rejected the API key (401): it is wrong or has been revoked. Close said: {detail}"
    if status == 403:
        return f"Close refused this API key access to the user's profile (403). Close said: {detail}"
    if status is None:
        return f"Could not check the API key with Close at {base_url}: {detail}"
    return f"Close answered {status} while checking the API key: {detail}"


def _user_label(user: dict[str, Any]) -> str:
    name = " ".join(p for p in (_text(user.get("first_name")), _text(user.get("last_name"))) if p) or user["id"]
    email = _text(user.get("email"))
    return f"{name} <{email}>" if email else name


class Accounts:
    """Account records in the store; the only code that ever sees a decrypted key."""

    def __init__(self, store: Store, secrets: Secrets, client_factory: ClientFactory, clock: Clock) -> None:
        self.store = store
        self.secrets = secrets
        self.client_factory = client_factory
        self.clock = clock

    # -- reading -----------------------------------------------------------------------------------------
    def _row(self, conn: sqlite3.Connection, name_or_id: str | int) -> sqlite3.Row:
        return row_by_name_or_id(conn, _SELECT, "a", "account", name_or_id)

    @staticmethod
    def _to_account(row: sqlite3.Row) -> Account:
        return Account(
            id=row["id"],
            name=row["name"],
            base_url=row["base_url"],
            key_source=row["key_source"],
            key_env=row["key_env"],
            key_hint=row["key_hint"],
            user_id=row["user_id"],
            user_email=row["user_email"],
            user_name=row["user_name"],
            organizations=[Choice(**c) for c in json.loads(row["organizations"])],
            users=[Choice(**c) for c in json.loads(row["users"])],
            status=row["status"],
            last_error=row["last_error"],
            last_checked_at=from_iso(row["last_checked_at"]),
            created_at=from_iso(row["created_at"]),  # type: ignore[arg-type]
            updated_at=from_iso(row["updated_at"]),  # type: ignore[arg-type]
            dataset_count=row["dataset_count"],
            run_count=row["run_count"],
        )

    def get(self, name_or_id: str | int) -> Account:
        with self.store.connect() as conn:
            return self._to_account(self._row(conn, name_or_id))

    def list(self) -> list[Account]:
        with self.store.connect() as conn:
            return [self._to_account(r) for r in conn.execute(f"{_SELECT} ORDER BY a.name")]

    def api_key(self, account: Account) -> str:
        """The usable key: decrypted from the store, or read from the named environment variable."""
        if account.key_source == "env":
            value = os.environ.get(account.key_env or "", "").strip()
            if not value:
                raise AccountKeyError(
                    f"Account {account.name!r} reads its API key from ${account.key_env}, which is not set here."
                )
            return value
        with self.store.connect() as conn:
            token = conn.execute("SELECT key_ciphertext FROM accounts WHERE id = ?", (account.id,)).fetchone()[0]
        return self.secrets.decrypt(token)

    # -- talking to Close -----------------------------------------------------------------------------------
    def _identity(self, api_key: str, base_url: str) -> dict[str, Any]:
        """Who the key belongs to; raises AccountKeyError with a readable reason when Close says no."""
        from closesync.close.errors import CloseError

        try:
            with self.client_factory(api_key, base_url) as client:
                me = client.get("me/")
                try:
                    users = list(client.paginate("user/"))
                except CloseError:  # the key may not list users; the choices then offer only its owner
                    users = [me]
        except CloseError as exc:
            raise AccountKeyError(_describe_close_error(exc, base_url, api_key)) from None
        except OSError as exc:
            raise AccountKeyError(f"Could not reach Close at {base_url}: {redact(str(exc), api_key)}") from None
        orgs = [Choice(o["id"], _text(o.get("name")) or o["id"]) for o in _objects_with_ids(me.get("organizations"))]
        user_choices = sorted(
            (Choice(u["id"], _user_label(u)) for u in _objects_with_ids(users)), key=lambda c: c.label.lower()
        )
        full_name = " ".join(p for p in (_text(me.get("first_name")), _text(me.get("last_name"))) if p) or None
        return {
            "user_id": _text(me.get("id")),
            "user_email": _text(me.get("email")),
            "user_name": full_name,
            "organizations": json.dumps([c.__dict__ for c in orgs]),
            "users": json.dumps([c.__dict__ for c in user_choices]),
        }

    # -- writing ----------------------------------------------------------------------------------------
    def add(
        self,
        name: str,
        *,
        api_key: str | None = None,
        api_key_env: str | None = None,
        base_url: str | None = None,
    ) -> Account:
        """Validate the key with Close, then store the account; nothing is stored when Close says no."""
        name = check_name(name, "account name")
        base_url = normalize_base_url(base_url)
        key, api_key_env = _given_key(api_key, api_key_env)
        with self.store.connect() as conn:
            if conn.execute("SELECT 1 FROM accounts WHERE name = ?", (name,)).fetchone():
                raise ConflictError(f"An account named {name!r} exists already.")
        identity = self._identity(key, base_url)
        now = to_iso(self.clock())
        ciphertext = None if api_key_env else self.secrets.encrypt(key)
        try:
            with self.store.write() as conn:
                cur = conn.execute(
                    """INSERT INTO accounts (name, base_url, key_source, key_ciphertext, key_env, key_hint,
                           user_id, user_email, user_name, organizations, users, status, last_checked_at,
                           created_at, updated_at)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'ok', ?, ?, ?)""",
                    (
                        name, base_url, "env" if api_key_env else "stored", ciphertext, api_key_env,
                        key_hint(key), identity["user_id"], identity["user_email"], identity["user_name"],
                        identity["organizations"], identity["users"], now, now, now,
                    ),
                )
                account_id = cur.lastrowid
        except sqlite3.IntegrityError:
            raise ConflictError(f"An account named {name!r} exists already.") from None
        return self.get(account_id)  # type: ignore[arg-type]

    def rename(self, name_or_id: str | int, new_name: str) -> Account:
        account = self.get(name_or_id)
        new_name = check_name(new_name, "account name")
        try:
            with self.store.write() as conn:
                conn.execute(
                    "UPDATE accounts SET name = ?, updated_at = ? WHERE id = ?",
                    (new_name, to_iso(self.clock()), account.id),
                )
        except sqlite3.IntegrityError:
            raise ConflictError(f"An account named {new_name!r} exists already.") from None
        return self.get(account.id)

    def set_key(
        self,
        name_or_id: str | int,
        *,
        api_key: str | None = None,
        api_key_env: str | None = None,
        allow_other_organization: bool = False,
    ) -> Account:
        """Give the account a new key (a rotated or revoked one replaced): its datasets keep working.

        The key is checked with Close first, at the account's base URL, and must belong to the account's
        organizations: a key of another organization is refused (OrganizationChangeError) unless
        `allow_other_organization`, and then the datasets' incremental cursors are dropped, so their next
        runs read the new organization in full. Nothing changes when Close says no.
        """
        account = self.get(name_or_id)
        key, api_key_env = _given_key(api_key, api_key_env)
        identity = self._identity(key, account.base_url)
        new_orgs = [Choice(**c) for c in json.loads(identity["organizations"])]
        missing = [c for c in account.organizations if c.id not in {o.id for o in new_orgs}]
        if missing and not allow_other_organization:
            raise OrganizationChangeError(
                f"The new key belongs to {_orgs(new_orgs) or 'no organization'}, not to {_orgs(missing)}, "
                f"the organization of account {account.name!r}: its datasets would read another "
                "organization's data. Nothing was changed; confirm the organization change to use it anyway."
            )
        now = to_iso(self.clock())
        with self.store.write() as conn:
            conn.execute("PRAGMA secure_delete = ON")  # the old key's ciphertext is overwritten, not left
            conn.execute(
                """UPDATE accounts SET key_source = ?, key_ciphertext = ?, key_env = ?, key_hint = ?,
                       user_id = ?, user_email = ?, user_name = ?, organizations = ?, users = ?,
                       status = 'ok', last_error = NULL, last_checked_at = ?, updated_at = ?
                   WHERE id = ?""",
                (
                    "env" if api_key_env else "stored", None if api_key_env else self.secrets.encrypt(key),
                    api_key_env, key_hint(key), identity["user_id"], identity["user_email"],
                    identity["user_name"], identity["organizations"], identity["users"], now, now, account.id,
                ),
            )
            if missing:  # confirmed: cursors of the old organization's data no longer apply
                conn.execute(
                    "DELETE FROM dataset_state"
                    " WHERE dataset_id IN (SELECT id FROM datasets WHERE account_id = ?)",
                    (account.id,),
                )
        return self.get(account.id)

    def record_health(
        self,
        account_id: int,
        *,
        ok: bool,
        message: str | None,
        at: datetime,
        seen_since: datetime | None = None,
    ) -> None:
        """Mark the account valid or invalid (with Close's message and when), as a run or a check found it.

        `seen_since`: when the observation began (a run's start); it is ignored if the account was checked
        after that (a new key or a re-check knows better than a run that began with the old key).
        """
        guard = "" if seen_since is None else " AND (last_checked_at IS NULL OR last_checked_at <= ?)"
        with self.store.write() as conn:
            conn.execute(
                f"UPDATE accounts SET status = ?, last_error = ?, last_checked_at = ? WHERE id = ?{guard}",
                (
                    "ok" if ok else "invalid", None if ok else message, to_iso(at), account_id,
                    *(() if seen_since is None else (to_iso(seen_since),)),
                ),
            )

    def record_run(self, account_id: int, run: Run) -> None:
        """A finished run tells the account's health: Close refusing the key (401/403) marks it invalid, a
        success marks it valid; any other failure says nothing about the key."""
        refused = run.status == "failed" and run.http_status in KEY_REFUSED
        if not (run.ok or refused):
            return
        close_said = (run.error or "").partition(f" {_ADVICE} ")[0]  # the advice is shown with the account
        which = f"Run {run.id} of dataset {run.dataset_name!r}"
        message = f"{which} failed (HTTP {run.http_status}): {close_said}"
        at = run.finished_at or self.clock()
        self.record_health(account_id, ok=run.ok, message=message, at=at, seen_since=run.started_at)

    def check(self, name_or_id: str | int) -> AccountCheck:
        """Re-validate the key and refresh who it belongs to; the outcome is recorded on the account."""
        account = self.get(name_or_id)
        now = to_iso(self.clock())
        try:
            identity = self._identity(self.api_key(account), account.base_url)
        except (AccountKeyError, SecretKeyError) as exc:
            with self.store.write() as conn:
                conn.execute(
                    "UPDATE accounts SET status = 'invalid', last_error = ?, last_checked_at = ? WHERE id = ?",
                    (str(exc), now, account.id),
                )
            return AccountCheck(False, str(exc), self.get(account.id))
        with self.store.write() as conn:
            conn.execute(
                """UPDATE accounts SET status = 'ok', last_error = NULL, last_checked_at = ?, user_id = ?,
                       user_email = ?, user_name = ?, organizations = ?, users = ?, updated_at = ?
                   WHERE id = ?""",
                (
                    now, identity["user_id"], identity["user_email"], identity["user_name"],
                    identity["organizations"], identity["users"], now, account.id,
                ),
            )
        fresh = self.get(account.id)
        who = fresh.user_email or fresh.user_id or "?"
        return AccountCheck(True, f"The key works: it belongs to {who}.", fresh)

    def remove(self, name_or_id: str | int, *, force: bool = False) -> list[str]:
        """Delete the account; with force, also its datasets (their tables stay). Returns those names."""
        account = self.get(name_or_id)
        with self.store.write() as conn:
            names = [r[0] for r in conn.execute(
                "SELECT name FROM datasets WHERE account_id = ? ORDER BY name", (account.id,)
            )]
            running = [r[0] for r in conn.execute(
                "SELECT d.name FROM datasets d JOIN leases l ON l.dataset_id = d.id WHERE d.account_id = ?",
                (account.id,),
            )]
            if running:
                raise DatasetBusyError(
                    f"Account {account.name!r} has running datasets ({', '.join(running)}); try when they end."
                )
            if names and not force:
                raise ConflictError(
                    f"Account {account.name!r} is used by {len(names)} dataset(s) ({', '.join(names)}) with "
                    f"{account.run_count} run(s) of history. Removing it deletes them too (their tables "
                    "are kept): delete them first, or confirm (--force in the CLI, the account's name on "
                    "the web)."
                )
            conn.execute("DELETE FROM datasets WHERE account_id = ?", (account.id,))
            conn.execute("DELETE FROM accounts WHERE id = ?", (account.id,))
        return names

    def choices(self, name_or_id: str | int, *, refresh: bool = False) -> ReportChoices:
        """Organization and user options for dataset forms, from what the last check recorded."""
        account = self.get(name_or_id)
        if refresh:
            result = self.check(account.id)
            if not result.ok:
                raise AccountKeyError(result.message)
            account = result.account
        return ReportChoices(organizations=account.organizations, users=account.users)


def _given_key(api_key: str | None, api_key_env: str | None) -> tuple[str, str | None]:
    """The key to check, and the variable name to store (None when the key itself is stored)."""
    if bool(api_key) == bool(api_key_env):
        raise ValidationError("Give either an API key or the name of a variable holding it.", field="api_key")
    if api_key_env:
        api_key_env = api_key_env.strip().lstrip("$")
        key = os.environ.get(api_key_env, "").strip()
        if not key:
            raise AccountKeyError(f"The environment variable {api_key_env} is not set or empty.")
        return key, api_key_env
    key = (api_key or "").strip()
    if not key:
        raise ValidationError("Give either an API key or the name of a variable holding it.", field="api_key")
    return key, None


def _orgs(choices: list[Choice]) -> str:
    return ", ".join(f"{c.label} ({c.id})" if c.label != c.id else c.id for c in choices)


def _text(value: Any) -> str | None:
    """A string field of Close's answer, or None when it holds anything else (a list, an object...)."""
    return value if isinstance(value, str) and value else None


def _objects_with_ids(value: Any) -> list[dict[str, Any]]:
    """The objects of a list in Close's answer that carry a string id; anything else is left out."""
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, dict) and _text(item.get("id"))]
