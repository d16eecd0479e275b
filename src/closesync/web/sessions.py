"""Server-side login sessions: the cookie carries only a random id, so logging out really ends a session.

A signed cookie alone stays valid until it expires, whatever the server thinks (a copy made before logout
still worked). Here each login is a row in `<home>/web-sessions.sqlite3` (mode 0600, apart from the
metadata store): logout deletes it, a session idle for longer than the limit is dead, and every row names
the password epoch it was opened under, so restarting `serve` with another password ends all sessions
while a restart with the same one keeps people logged in. Only a hash of each id is stored.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

SESSIONS_FILE = "web-sessions.sqlite3"
DEFAULT_IDLE_S = 8 * 3600


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class SessionBook:
    """Open, check and end login sessions; safe to share between threads and `serve` processes."""

    def __init__(self, home: str | Path, idle_s: float = DEFAULT_IDLE_S) -> None:
        self.path = Path(home) / SESSIONS_FILE
        self.idle_s = float(idle_s)
        # how stale `seen` may get before a request writes it again: idle expiry stays accurate, writes rare
        self._touch_after_s = min(30.0, self.idle_s / 10)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        with self._connect() as conn:
            conn.execute(
                """CREATE TABLE IF NOT EXISTS sessions (
                       id_hash TEXT PRIMARY KEY, epoch TEXT NOT NULL, opened REAL NOT NULL, seen REAL NOT NULL)"""
            )

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        try:
            yield conn
        finally:
            conn.close()

    def open(self, epoch: str) -> str:
        """A new session id for a successful login (and a sweep of the expired ones)."""
        session_id = secrets.token_urlsafe(32)
        now = time.time()
        with self._connect() as conn:
            conn.execute("DELETE FROM sessions WHERE seen < ?", (now - self.idle_s,))
            conn.execute("INSERT INTO sessions VALUES (?, ?, ?, ?)", (_digest(session_id), epoch, now, now))
        return session_id

    def check(self, session_id: object, epoch: str) -> bool:
        """True when the session is open, under this password, and not idle too long (it is then renewed)."""
        if not isinstance(session_id, str) or not session_id:
            return False
        key, now = _digest(session_id), time.time()
        with self._connect() as conn:
            row = conn.execute("SELECT epoch, seen FROM sessions WHERE id_hash = ?", (key,)).fetchone()
            if row is None or row[0] != epoch:
                return False
            if now - row[1] > self.idle_s:
                conn.execute("DELETE FROM sessions WHERE id_hash = ?", (key,))
                return False
            if now - row[1] >= self._touch_after_s:
                conn.execute("UPDATE sessions SET seen = ? WHERE id_hash = ?", (now, key))
        return True

    def end(self, session_id: object) -> None:
        """Logout: the id is worthless from now on, in every copy of the cookie."""
        if isinstance(session_id, str) and session_id:
            with self._connect() as conn:
                conn.execute("DELETE FROM sessions WHERE id_hash = ?", (_digest(session_id),))
