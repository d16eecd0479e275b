"""CloseClient: one HTTP conversation with Close - auth, retries, 429 waits, pacing - and the paging entry points.

Paging algorithms live in `paging.py` (offset pages, date windows) and `cursors.py` (search, event log);
this module only turns one logical request into as many HTTP attempts as it takes (or a typed error), so
every reader gets the same retry and pacing behaviour. Paths are checked first (`paths.py`), each answer is
read up to `max_response_mb` and must be an object (`pages.py`); the budget is `retry.RetryPolicy`.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from closesync.close import cursors, errors, paging
from closesync.close.groups import endpoint_group
from closesync.close.pacing import Pacer
from closesync.close.pages import UnreadableBody, decode, expect_object
from closesync.close.paths import check_path
from closesync.close.ratelimit import parse_ratelimit, throttle_wait
from closesync.close.retry import RetryPolicy, Transient
from closesync.close.stats import ClientStats
from closesync.close.timestamps import format_timestamp

DEFAULT_BASE_URL = "https://api.close.com/api/v1/"
DEFAULT_MAX_RESPONSE_MB = 64.0
MB = 1024 * 1024
USER_AGENT = "closesync/0.1 (+self-hosted Close connector; python-httpx)"

log = logging.getLogger("closesync.close")


class _Secret:
    """Holds the key so it cannot leak through repr, str or a debugger's locals view."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "<secret>"

    __str__ = __repr__

    def scrub(self, text: str) -> str:
        """Remove the key (raw or inside a Basic auth token) from text that is about to leave us."""
        if not self._value:
            return text
        token = base64.b64encode(f"{self._value}:".encode()).decode()
        return text.replace(self._value, "<api key>").replace(token, "<api key>")


@dataclass
class _Shared:
    """Everything a client and its scoped children share: connections, pacing, policy, settings and learned
    caps. A client is this plus its own `stats`, so a child can never miss a setting of its parent."""

    http: httpx.Client
    pacer: Pacer
    policy: RetryPolicy
    secret: _Secret
    base_url: str
    max_response_bytes: int
    pace: bool = True
    prefetch: int = 3
    skip_cap_hint: int | None = None
    workers: int = 32
    skip_caps: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    executor: ThreadPoolExecutor | None = None

    def pool(self) -> ThreadPoolExecutor:
        """The page-prefetch threads, started on first use."""
        with self.lock:
            if self.executor is None:
                self.executor = ThreadPoolExecutor(self.workers, thread_name_prefix="closesync-page")
            return self.executor


class CloseClient:
    """Thread-safe Close API client (HTTP Basic with the key as username, empty password).

    `get`/`post` return decoded JSON; `paginate`, `paginate_by_date`, `search`, `search_by_date` and
    `events` stream records across pages. `scoped()` gives a child sharing pool, pacing and settings but
    counting its own `stats` (which also roll up here), so concurrent readers can report their own numbers.
    `pacer` shares a budget with other clients of the same key (`budget.shared_pacer`); by default a client
    paces on its own.
    """

    def __init__(
        self,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        *,
        timeout: float = 60.0,
        max_retries: int = 5,
        max_retry_time: float = 600.0,
        max_response_mb: float = DEFAULT_MAX_RESPONSE_MB,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        max_throttle_retries: int = 20,
        max_throttle_wait: float = 900.0,
        pool_size: int = 32,
        pace: bool = True,
        pacing_margin: float = 0.01,
        pacer: Pacer | None = None,
        skip_cap: int | None = None,
        prefetch: int = 3,
        user_agent: str = USER_AGENT,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not api_key:
            raise errors.AuthenticationError("No API key given")
        if timeout <= 0 or max_retry_time < 0 or max_response_mb <= 0:
            raise ValueError("timeout and max_response_mb must be positive, max_retry_time not negative")
        if not base_url.endswith("/"):
            base_url += "/"
        secret = _Secret(api_key)
        try:
            http = httpx.Client(
                base_url=base_url,
                auth=httpx.BasicAuth(api_key, ""),
                timeout=httpx.Timeout(timeout, connect=min(timeout, 15.0)),
                limits=httpx.Limits(max_connections=pool_size, max_keepalive_connections=pool_size),
                headers={"User-Agent": user_agent, "Accept": "application/json", "Accept-Encoding": "gzip"},
                transport=transport,
                follow_redirects=False,
            )
        except httpx.InvalidURL as exc:  # bad input, like any other bad parameter
            raise ValueError(f"Invalid base URL {base_url!r}: {exc}") from None
        policy = RetryPolicy(
            max_retries=max_retries,
            max_retry_time=max_retry_time,
            backoff_base=backoff_base,
            backoff_max=backoff_max,
            max_throttle_retries=max_throttle_retries,
            max_throttle_wait=max_throttle_wait,
        )
        shared = _Shared(
            http,
            pacer or Pacer(margin=pacing_margin),
            policy,
            secret,
            base_url=base_url,
            max_response_bytes=int(max_response_mb * MB),
            pace=pace,
            prefetch=max(1, prefetch),
            skip_cap_hint=skip_cap,
            workers=pool_size,
        )
        self._attach(shared, ClientStats(), owner=True)

    @classmethod
    def _sharing(cls, shared: _Shared, stats: ClientStats) -> CloseClient:
        """The private constructor of `scoped()`: a client over an existing `_Shared` it does not own."""
        client = cls.__new__(cls)
        client._attach(shared, stats, owner=False)
        return client

    def _attach(self, shared: _Shared, stats: ClientStats, *, owner: bool) -> None:
        """The one place a client's own attributes are set, for root clients and children alike."""
        self._shared = shared
        self._owner = owner  # the root client closes the pool; children leave it
        self.stats = stats

    @property
    def base_url(self) -> str:
        return self._shared.base_url

    @property
    def max_response_bytes(self) -> int:
        """The largest answer read; a larger one is a ResponseTooLargeError."""
        return self._shared.max_response_bytes

    @property
    def prefetch(self) -> int:
        """Pages kept in flight per reader (1: no prefetching)."""
        return self._shared.prefetch

    # -- lifecycle ---------------------------------------------------------------------------------

    def scoped(self) -> CloseClient:
        """A child sharing connections, pacing, settings and learned caps, with its own `stats`."""
        return CloseClient._sharing(self._shared, ClientStats(parent=self.stats))

    def close(self) -> None:
        """Close the connection pool (children leave it to the root client)."""
        if self._owner:
            if self._shared.executor is not None:
                # Let pages fetched ahead finish before their connections go away.
                self._shared.executor.shutdown(wait=True, cancel_futures=True)
            self._shared.http.close()

    def __enter__(self) -> CloseClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"CloseClient(base_url={self.base_url!r})"

    # -- single requests -----------------------------------------------------------------------------

    def get(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """GET `path` (relative to base_url, e.g. "me/") and return the decoded JSON object."""
        return expect_object(self.request("GET", path, params=params), _path_only(path), "GET")

    def post(self, path: str, json: Any = None) -> dict[str, Any]:
        """POST a JSON body. Only read-style POSTs are used (search, reports), so they are retried too."""
        return expect_object(self.request("POST", path, json=json), _path_only(path), "POST")

    def request(
        self, method: str, path: str, *, params: dict[str, Any] | None = None, json: Any = None
    ) -> Any:
        """Send one logical request: pace, retry transient failures, wait out 429s, raise typed errors."""
        shared = self._shared
        policy = shared.policy
        method = method.upper()
        check_path(path)
        group = endpoint_group(method, urlsplit(path).path)
        params = _clean_params(params)
        started = time.monotonic()
        retries = 0
        throttles = 0
        throttled_wait = False
        while True:
            ticket = 0
            if shared.pace:
                with self.stats.holding(group) as announce:
                    waited, ticket = shared.pacer.acquire(group, announce)
                if throttled_wait:
                    self.stats.add(group, throttle_wait_seconds=waited)
                elif waited > 0.0005:
                    self.stats.add(group, pacing_wait_seconds=waited)
            throttled_wait = False
            self.stats.add(group, requests=1)
            try:
                response, content = self._exchange(method, path, params, json)
            except (httpx.TransportError, httpx.DecodingError) as exc:
                if shared.pace:
                    shared.pacer.release(group, None, ticket)
                failure = self._transport_failure(exc)
            else:
                status = response.status_code
                if shared.pace:
                    shared.pacer.release(group, parse_ratelimit(response.headers), ticket)
                if content is None:
                    self.stats.add(group, errors=1)
                    limit = f"{shared.max_response_bytes / MB:g} MB"
                    raise errors.ResponseTooLargeError(
                        f"Close's answer was larger than the {limit} allowed (max_response_mb); not read",
                        status=status, method=method, path=_path_only(path),
                    )
                if status == 429:
                    body = _json_or_text(content)
                    wait = throttle_wait(response.headers, body, default=policy.default_throttle_wait)
                    throttles += 1
                    self.stats.add(group, throttled=1)
                    if throttles > policy.max_throttle_retries or wait > policy.max_throttle_wait:
                        raise self._error(errors.RateLimitError, 429, body, method, path, retry_after=wait)
                    log.info("429 on %s; waiting %.2fs as Close asks", group, wait)
                    if shared.pace:
                        shared.pacer.lockout(group, wait)
                        throttled_wait = True
                    else:
                        with self.stats.holding(group) as announce:
                            announce(wait, "429")
                            time.sleep(wait + 0.01)
                        self.stats.add(group, throttle_wait_seconds=wait)
                    continue
                try:
                    answer = self._judge(response, content, method, path)
                except errors.CloseError:
                    self.stats.add(group, errors=1)
                    raise
                if not isinstance(answer, Transient):
                    return answer
                failure = answer
            retries += 1
            delay = policy.backoff(retries)
            if failure.retry_after is not None:
                delay = min(policy.backoff_max, max(delay, failure.retry_after))
            elapsed = time.monotonic() - started
            if retries > policy.max_retries or elapsed + delay > policy.max_retry_time:
                self.stats.add(group, errors=1)
                raise failure.give_up(retries - 1, elapsed, method, _path_only(path), shared.secret.scrub)
            self.stats.add(group, retries=1)
            log.warning("%s %s failed (%s); retry %d/%d in %.2fs", method, _path_only(path), failure.reason,
                        retries, policy.max_retries, delay)
            time.sleep(delay)

    def _transport_failure(self, exc: httpx.TransportError | httpx.DecodingError) -> Transient:
        """A failed attempt that got no answer; a timeout says how long it waited."""
        if isinstance(exc, httpx.TimeoutException):
            limits = self._shared.http.timeout
            seconds = limits.connect if isinstance(exc, httpx.ConnectTimeout) else limits.read
            waited = f" within {seconds:g} s" if seconds else ""
            return Transient(errors.RequestTimeoutError, f"Close did not answer{waited} ({type(exc).__name__})")
        reason = f"{type(exc).__name__}: {self._shared.secret.scrub(str(exc)) or 'transport error'}"
        return Transient(errors.ConnectionFailedError, f"Could not reach Close ({reason})")

    def _exchange(
        self, method: str, path: str, params: dict[str, Any] | None, json: Any
    ) -> tuple[httpx.Response, bytes | None]:
        """One HTTP attempt: the (closed) response and its decoded body, or None for a body larger than
        `max_response_bytes` (not read further, so a runaway answer never fills memory)."""
        http = self._shared.http
        limit = self._shared.max_response_bytes
        response = http.send(http.build_request(method, path, params=params, json=json), stream=True)
        try:
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > limit:
                return response, None
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > limit:
                    return response, None
                chunks.append(chunk)
            return response, b"".join(chunks)
        finally:
            response.close()

    def _judge(self, response: httpx.Response, content: bytes, method: str, path: str) -> Any:
        """The decoded answer of a non-429 response, a `Transient` failure worth retrying, or a typed error.

        Unreadable bodies are damage in transit (retried) when they claim to be JSON: a 2xx, or Close's 4xx
        cut short (a `_skip`-cap 400 must be read to be acted on); a 4xx page from another server is final.
        """
        status = response.status_code
        where = _path_only(path)
        if 200 <= status < 300:
            if status == 204 or not content:
                return {}
            try:
                return decode(content)
            except UnreadableBody:
                return Transient(errors.ProtocolError, "Close's answer could not be read as JSON", status)
            except errors.ProtocolError as exc:
                raise errors.ProtocolError(exc.message, status=status, method=method, path=where) from None
        if status >= 500 or status == 408:
            message, _, _ = errors.parse_error_body(_json_or_text(content))
            text = errors.ServerError.default_message + (f" ({message.rstrip('.')})" if message else "")
            return Transient(errors.ServerError, text, status, _seconds(response.headers.get("Retry-After")))
        claims_json = "json" in response.headers.get("Content-Type", "json").lower()
        try:
            body = decode(content) if content else ""
        except (UnreadableBody, errors.ProtocolError):
            if claims_json:
                kind = type(errors.error_for_status(status, None))
                return Transient(kind, f"{kind.default_message} (the answer could not be read)", status)
            body = _text(content)
        raise self._error(None, status, body, method, path)

    def _error(
        self,
        cls: type[errors.CloseError] | None,
        status: int,
        body: Any,
        method: str,
        path: str,
        **extra: Any,
    ) -> errors.CloseError:
        error = errors.error_for_status(status, body, method=method, path=_path_only(path))
        scrub = self._shared.secret.scrub
        kwargs: dict[str, Any] = {
            "status": status,
            "method": method,
            "path": _path_only(path),
            "errors": [scrub(e) for e in error.errors],
            "field_errors": {k: scrub(str(v)) for k, v in error.field_errors.items()},
            "body": error.body,
            **extra,
        }
        return (cls or type(error))(scrub(error.message), **kwargs)

    @property
    def executor(self) -> ThreadPoolExecutor | None:
        """Threads for fetching pages ahead (None when prefetching is off)."""
        return self._shared.pool() if self.prefetch > 1 else None

    # -- learned limits ------------------------------------------------------------------------------

    def skip_cap(self, path: str) -> int | None:
        """The `_skip` cap learned (or configured) for `path`'s endpoint group, if any."""
        with self._shared.lock:
            return self._shared.skip_caps.get(endpoint_group("GET", path), self._shared.skip_cap_hint)

    def learn_skip_cap(self, path: str, cap: int) -> None:
        """Remember Close's `max_skip` for `path`'s group so later reads split windows before hitting it."""
        with self._shared.lock:
            self._shared.skip_caps[endpoint_group("GET", path)] = cap

    # -- streaming readers (algorithms in paging.py and cursors.py) ----------------------------------------

    def paginate(
        self, path: str, params: dict[str, Any] | None = None, *, page_size: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every record of a `_skip`/`_limit` list endpoint (use paginate_by_date beyond the skip cap)."""
        return paging.paginate(self, path, params, page_size=page_size)

    def paginate_by_date(
        self,
        path: str,
        params: dict[str, Any] | None = None,
        *,
        field: str = "date_created",
        start: datetime | None = None,
        end: datetime | None = None,
        page_size: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every record with start <= `field` < end, in ascending adaptive date windows (see paging.py)."""
        return paging.paginate_by_date(
            self, path, params, field=field, start=start, end=end, page_size=page_size
        )

    def search(
        self,
        query: dict[str, Any],
        *,
        sort: list[dict[str, Any]] | None = None,
        fields: dict[str, list[str]] | None = None,
        page_size: int = 200,
    ) -> Iterator[dict[str, Any]]:
        """Every result of an Advanced Filtering query (POST data/search/, cursor paging)."""
        return cursors.search(self, query, sort=sort, fields=fields, page_size=page_size)

    def search_by_date(
        self,
        object_type: str,
        *,
        field: str = "date_created",
        start: datetime | None = None,
        end: datetime | None = None,
        fields: list[str] | dict[str, list[str]] | None = None,
        page_size: int = 200,
        dropped: list[str] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every `object_type` record with start <= `field` < end via an ascending keyset walk on data/search/
        (selectors Close refuses even alone are left out and appended to `dropped`)."""
        return cursors.search_by_date(
            self, object_type, field=field, start=start, end=end, fields=fields, page_size=page_size,
            dropped=dropped,
        )

    def events(self, params: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """Every event of the event log matching `params` (GET event/, `_cursor`/`cursor_next`)."""
        return cursors.events(self, params)


def _clean_params(params: dict[str, Any] | None) -> dict[str, Any] | None:
    """Drop None values and render booleans the way Close expects."""
    if not params:
        return None
    out: dict[str, Any] = {}
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, datetime):
            value = format_timestamp(value)
        out[key] = value
    return out


def _json_or_text(content: bytes) -> Any:
    try:
        return decode(content)
    except (UnreadableBody, errors.ProtocolError):
        return _text(content)


def _text(content: bytes) -> str:
    return content[:2000].decode("utf-8", "replace")[:500]


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _path_only(path: str) -> str:
    """The path without query or credentials, for messages."""
    parts = urlsplit(path)
    return parts.path or path
