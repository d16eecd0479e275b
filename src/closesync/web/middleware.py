"""Pure ASGI middleware of the Data Center (they stream downloads untouched): response headers, proxies.

`SecurityHeaders` adds CSP and friends to every response and marks cookies `Secure` when the request came
over HTTPS; `TrustedProxy` believes `X-Forwarded-Proto/-For/-Host` only from the proxy addresses given.
"""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Only our own files: no inline script, no third-party origin. A CRM value that slipped past escaping
# still could not run.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
#: Where TrustedProxy leaves X-Forwarded-Host in the request's state.
FORWARDED_HOST = "forwarded_host"


class SecurityHeaders:
    """CSP, no sniffing or framing, no caching of pages with data, and `Secure` cookies over HTTPS.

    `https_only`: the Data Center is only ever reached over HTTPS (a TLS proxy in front), so cookies are
    `Secure` whatever scheme the request reports.
    """

    NO_STORE = ("/api/", "/datasets", "/accounts", "/login", "/runs", "/settings", "/insights")

    def __init__(self, app: ASGIApp, https_only: bool = False) -> None:
        self.app = app
        self.https_only = https_only

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        secure = self.https_only or scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", CSP)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                # same-origin, not no-referrer: with no-referrer browsers send `Origin: null` on our own
                # form posts, and the Origin check could not tell them from a foreign page's
                headers.setdefault("Referrer-Policy", "same-origin")
                headers.setdefault("X-Frame-Options", "DENY")
                if path.startswith(self.NO_STORE):
                    headers.setdefault("Cache-Control", "no-store")
                if secure:
                    _mark_cookies_secure(headers)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _mark_cookies_secure(headers: MutableHeaders) -> None:
    cookies = headers.getlist("set-cookie")
    if not cookies:
        return
    del headers["set-cookie"]
    for cookie in cookies:
        flags = {part.strip().lower() for part in cookie.split(";")[1:]}
        headers.append("set-cookie", cookie if "secure" in flags else f"{cookie}; secure")


class TrustedProxy:
    """Take the scheme, client address and host a reverse proxy forwards, from those proxies only.

    Anyone else sending `X-Forwarded-Proto: https` is ignored: believing it would let a client pick its own
    address (escaping the per-address login throttle) or its own scheme.
    """

    def __init__(self, app: ASGIApp, proxies: frozenset[str]) -> None:
        self.app = app
        self.proxies = proxies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if scope["type"] == "http" and client and client[0] in self.proxies:
            headers = Headers(scope=scope)
            proto = headers.get("x-forwarded-proto", "").split(",")[-1].strip().lower()
            if proto in ("http", "https"):
                scope["scheme"] = proto
            # the address the proxy itself saw is the last one: earlier entries are the client's say-so
            forwarded_for = headers.get("x-forwarded-for", "").split(",")[-1].strip()
            if forwarded_for:
                scope["client"] = (forwarded_for, 0)
            # the host the browser asked for, which its Origin header names; Host itself is left alone
            # (on a loopback bind it stays pinned against DNS rebinding)
            forwarded_host = headers.get("x-forwarded-host", "").split(",")[-1].strip()
            if forwarded_host:
                scope.setdefault("state", {})[FORWARDED_HOST] = forwarded_host
        await self.app(scope, receive, send)
