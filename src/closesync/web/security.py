"""Security rules of the web Data Center: who may bind where, login, CSRF tokens.

Kept apart from the routes so each rule is one small function that a test can aim at directly.
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import os
import secrets
import stat
from pathlib import Path
from typing import Any

from fastapi import Request

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Paths a visitor may reach before logging in (the login page itself and its stylesheet).
PUBLIC_PREFIXES = ("/login", "/static/")


class LoginRequired(Exception):
    """Raised by the guard when a password is set and the visitor has not logged in."""


class CsrfFailed(Exception):
    """Raised by the guard when an unsafe request lacks a valid CSRF token."""


def is_loopback(host: str) -> bool:
    """True when `host` only listens on this machine, so no password is needed."""
    host = host.strip().strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str, password: str | None) -> None:
    """Refuse to expose the Data Center beyond loopback without a password.

    Raises ValueError with a message the CLI shows as is.
    """
    if not is_loopback(host) and not password:
        raise ValueError(
            f"refusing to listen on {host} without a password: pass --password-env VAR, `--password` "
            "alone to type it, or set CLOSESYNC_PASSWORD (or bind 127.0.0.1)"
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


def password_matches(given: str | None, password: str) -> bool:
    """Constant-time comparison so the password cannot be guessed byte by byte from timings."""
    return given is not None and hmac.compare_digest(given.encode(), password.encode())


def bearer_ok(request: Request, password: str | None) -> bool:
    """Scripts may send `Authorization: Bearer <password>`; browsers never add it on their own."""
    if not password:
        return False
    auth = request.headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    return scheme.lower() == "bearer" and password_matches(value.strip(), password)


def is_logged_in(request: Request, password: str | None) -> bool:
    """No password means loopback-only use: everyone who can connect is the owner."""
    if not password:
        return True
    return bool(request.session.get("auth")) or bearer_ok(request, password)


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
    """App-wide dependency: login first, then CSRF on every state-changing request."""
    password: str | None = request.app.state.password
    path = request.url.path
    if not path.startswith(PUBLIC_PREFIXES) and not is_logged_in(request, password):
        raise LoginRequired()
    if request.method in UNSAFE_METHODS and not bearer_ok(request, password):
        expected = request.session.get("csrf")
        given = await submitted_csrf(request)
        if not expected or not given or not hmac.compare_digest(str(expected), given):
            raise CsrfFailed()
