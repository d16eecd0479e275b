"""Security rules of the web Data Center: who may bind where, login, same-site requests, CSRF tokens.

Kept apart from the routes so each rule is one small function that a test can aim at directly.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import ipaddress
import os
import secrets
import stat
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from closesync.web.middleware import FORWARDED_HOST
from closesync.web.sessions import SessionBook
from closesync.web.throttle import GuessThrottle

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Paths a visitor may reach before logging in (the login page itself and its stylesheet).
PUBLIC_PREFIXES = ("/login", "/static/")


class LoginRequired(Exception):
    """Raised by the guard when a password is set and the visitor has not logged in."""


class CsrfFailed(Exception):
    """Raised by the guard when an unsafe request lacks a valid CSRF token."""


class CrossSiteRefused(Exception):
    """Raised by the guard when an unsafe request comes from another site's page, token or not."""


class TooManyGuesses(Exception):
    """Raised while a client address must wait after wrong passwords; `retry_after` is in seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many wrong passwords: try again in {retry_after} s")
        self.retry_after = retry_after


def is_loopback(host: str) -> bool:
    """True when `host` only listens on this machine, so no password is needed."""
    host = host.strip().strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


MIN_PASSWORD_LENGTH = 12


def check_bind(host: str, password: str | None) -> None:
    """Refuse to expose the Data Center beyond loopback without a password of reasonable length.

    Raises ValueError with a message the CLI shows as is.
    """
    if is_loopback(host):
        return
    if not password:
        raise ValueError(
            f"refusing to listen on {host} without a password: pass --password-env VAR, `--password` "
            "alone to type it, --generate-password, or set CLOSESYNC_PASSWORD (or bind 127.0.0.1)"
        )
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(
            f"refusing to listen on {host} with a password of {len(password)} characters: anyone who can "
            f"reach {host} may guess it, so use at least {MIN_PASSWORD_LENGTH} (or --generate-password)"
        )


def loopback_hosts(port: int) -> list[str]:
    """Host header values accepted on a loopback bind: blocks DNS-rebinding pages from reaching the app."""
    names = ["127.0.0.1", "localhost", "[::1]"]
    return names + [f"{n}:{port}" for n in names]


SESSION_KEY_FILE = "web-session.key"


def session_secret(home: str | Path) -> str:
    """The key that signs session cookies, kept in `<home>/web-session.key` (mode 0600) across restarts.

    A per-process random key logged everyone out on each restart of `closesync serve`. The file is its own
    secret, not derived from the master key, so the web never touches what decrypts the API keys. It is
    created whole (written to a private temp file, then linked into place), so a second process starting at
    the same moment reads the same complete key, never an empty one.
    """
    path = Path(home) / SESSION_KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{SESSION_KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(48) + "\n")
            with contextlib.suppress(FileExistsError):  # another process won the race: use its key
                os.link(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        path.chmod(0o600)  # copied or restored with looser rights: others must not forge sessions
    key = path.read_text().strip()
    if len(key) < 32:
        raise ValueError(f"{path} does not hold a session key: delete it and start again")
    return key


def csrf_token(request: Request) -> str:
    """The session's CSRF token, created on first use; templates put it in every form."""
    session: dict[str, Any] = request.session
    token = session.get("csrf")
    if not isinstance(token, str) or len(token) < 32:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


class PasswordHash:
    """The password as scrypt keeps it: checks run in constant time and the text itself is never kept.

    The salt comes from the session key file, so the same password gives the same hash (and session epoch)
    after a restart, and another password gives another.
    """

    def __init__(self, password: str, salt: bytes) -> None:
        self._salt = salt
        self._digest = self._derive(password)
        self.epoch = hashlib.sha256(b"closesync session epoch\0" + self._digest).hexdigest()[:32]

    def _derive(self, text: str) -> bytes:
        return hashlib.scrypt(text.encode(), salt=self._salt, n=2**14, r=8, p=1, dklen=32)

    def matches(self, given: str) -> bool:
        return hmac.compare_digest(self._derive(given), self._digest)


class Auth:
    """What a password-protected Data Center holds: the password's hash, open sessions, wrong guesses."""

    def __init__(self, password: str, session_key: str, sessions: SessionBook) -> None:
        salt = hashlib.sha256(b"closesync password salt\0" + session_key.encode()).digest()[:16]
        self.password = PasswordHash(password, salt)
        self.sessions = sessions
        self.throttle = GuessThrottle()

    async def password_ok(self, request: Request, given: str) -> bool:
        """Check a password from this client; raises TooManyGuesses while its address must wait."""
        host = client_host(request)
        if self.throttle.wait_s(host) > 0:
            raise TooManyGuesses(self.throttle.retry_after(host))
        # counted as wrong until proven right, so guesses sent in parallel cannot all slip in before the
        # first one is counted
        self.throttle.failed(host)
        if await run_in_threadpool(self.password.matches, given):  # scrypt takes a moment: off the loop
            self.throttle.succeeded(host)
            return True
        return False

    async def bearer_ok(self, request: Request) -> bool:
        """Scripts may send `Authorization: Bearer <password>`; browsers never add it on their own."""
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            return False
        return await self.password_ok(request, value.strip())

    def logged_in(self, request: Request) -> bool:
        session_id = request.session.get("sid")
        if not self.sessions.check(session_id, self.password.epoch):
            return False
        request.session["sid"] = session_id  # re-signs the cookie: its max-age counts from the last use
        return True

    def log_in(self, request: Request) -> None:
        """A fresh session (no fixation) with a fresh CSRF token: the pre-login one is not carried over."""
        request.session.clear()
        request.session["sid"] = self.sessions.open(self.password.epoch)

    def log_out(self, request: Request) -> None:
        self.sessions.end(request.session.get("sid"))
        request.session.clear()


def client_host(request: Request) -> str | None:
    """The client's address (the proxy's client when a trusted proxy forwarded the request)."""
    return request.client.host if request.client else None


def _host_and_port(netloc: str, scheme: str) -> tuple[str, int | None]:
    parts = urlsplit(f"//{netloc}")
    try:
        port = parts.port
    except ValueError:
        return netloc, None
    return (parts.hostname or ""), port or {"http": 80, "https": 443}.get(scheme)


def cross_site(request: Request) -> bool:
    """True when the browser says the request comes from a page of another site (Origin, else Referer).

    Our pages send `Referrer-Policy: same-origin`, so their own requests carry a proper Origin; `null`
    (a sandboxed frame, a privacy redirect) is foreign too. Scripts send neither, and pass.
    """
    source = request.headers.get("origin") or request.headers.get("referer")
    if not source:
        return False
    parts = urlsplit(source)
    if source == "null" or not parts.netloc:
        return True
    scheme = parts.scheme.lower()
    host = request.scope.get("state", {}).get(FORWARDED_HOST) or request.headers.get("host", "")
    return _host_and_port(parts.netloc, scheme) != _host_and_port(host, scheme)


async def submitted_csrf(request: Request) -> str | None:
    """The token sent with a request: the header (fetch calls) or the form field (HTML forms)."""
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    ctype = request.headers.get("content-type", "")
    if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()  # cached by Starlette, so the route reads the same form
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    return None


async def guard(request: Request) -> None:
    """App-wide dependency: same site, then login, then CSRF on every state-changing request."""
    auth: Auth | None = request.app.state.auth
    unsafe = request.method in UNSAFE_METHODS
    if unsafe and cross_site(request):
        raise CrossSiteRefused()
    bearer = auth is not None and await auth.bearer_ok(request)
    public = request.url.path.startswith(PUBLIC_PREFIXES)
    if auth is not None and not public and not bearer and not auth.logged_in(request):
        raise LoginRequired()
    if unsafe and not bearer:
        expected = request.session.get("csrf")
        given = await submitted_csrf(request)
        if not expected or not given or not hmac.compare_digest(str(expected), given):
            raise CsrfFailed()
