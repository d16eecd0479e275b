"""What `Sandbox` and `SandboxProcess` share: addresses, the context manager and the run-time knobs.

Each subclass only says how to start and stop, and how to read or change its config (the same dict as
GET/POST `/_sandbox/config`): in-process it touches the app, in a child process it goes over HTTP.
"""

from __future__ import annotations

from typing import Any, Self


class SandboxSurface:
    """The common surface of a running sandbox on `host:_port`."""

    host: str
    _port: int
    api_key: str

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def _config(self, **changes: Any) -> dict[str, Any]:
        """The current config after applying `changes` (none: just read it)."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- addresses -----------------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self._port

    @property
    def _root_url(self) -> str:
        return f"http://{self.host}:{self._port}/"

    @property
    def base_url(self) -> str:
        return f"{self._root_url}api/v1/"

    @property
    def stats_url(self) -> str:
        return f"{self._root_url}_sandbox/stats"

    # -- knobs ---------------------------------------------------------------------------------------------
    def real_close(self, **knobs: Any) -> dict[str, Any]:
        """Turn `real_close.py`'s behaviours on or off (search_cursor_depth=37, nested_custom=True, ...);
        the whole config."""
        return self._config(**knobs)

    @property
    def skip_cap(self) -> int:
        return int(self._config()["skip_cap"])

    @skip_cap.setter
    def skip_cap(self, value: int) -> None:
        self._config(skip_cap=int(value))

    @property
    def rate_limit(self) -> tuple[int, float] | None:
        rate = self._config()["rate_limit"]
        return (int(rate[0]), float(rate[1])) if rate else None

    @rate_limit.setter
    def rate_limit(self, value: tuple[int, float] | None) -> None:
        self._config(rate_limit=list(value) if value else None)

    @property
    def latency_ms(self) -> float:
        return float(self._config()["latency_ms"])

    @latency_ms.setter
    def latency_ms(self, value: float) -> None:
        self._config(latency_ms=float(value))

    @property
    def gzip(self) -> bool:
        return bool(self._config()["gzip"])

    @gzip.setter
    def gzip(self, value: bool) -> None:
        self._config(gzip=bool(value))

    @property
    def event_filters(self) -> str:
        """"documented": GET event/ answers 400 to filter combinations Close does not list; "any": no check."""
        return str(self._config()["event_filters"])

    @event_filters.setter
    def event_filters(self, value: str) -> None:
        self._config(event_filters=value)

    @property
    def undocumented_keys(self) -> bool:
        """True: the organization and /me/ carry invoices, email signatures and SIP numbers; False: they
        come without them, as Close documents them."""
        return bool(self._config()["undocumented_keys"])

    @undocumented_keys.setter
    def undocumented_keys(self, value: bool) -> None:
        self._config(undocumented_keys=bool(value))

    def rotate_api_key(self, api_key: str) -> None:
        """Accept only `api_key` from now on (as when a key is revoked and a new one issued in Close)."""
        self._config(api_key=api_key)
        self.api_key = api_key

    # -- data changing during a read, and the truth to compare with (mutations.py, truth.py) -------------
    def _control(self, method: str, path: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        """One `/_sandbox/{path}` control request; its JSON answer."""
        raise NotImplementedError

    def mutate(self, collection: str, action: str, count: int = 1, *, ids: tuple[str, ...] = (),
               fields: dict[str, Any] | None = None) -> list[str]:
        """Create, edit or delete records now; the ids touched (edits and deletes spread over the list)."""
        body = {"collection": collection, "action": action, "count": count, "ids": list(ids),
                "fields": fields or {}}
        return list(self._control("POST", "mutate", body)["ids"])

    def schedule_mutation(self, collection: str, action: str, count: int = 1, *, after: int,
                          group: str | None = None, ids: tuple[str, ...] = (),
                          fields: dict[str, Any] | None = None) -> None:
        """Apply a mutation just before the API request that makes `after` requests (in `group`, if given)."""
        self._control("POST", "mutations", {"collection": collection, "action": action, "count": count,
                                            "ids": list(ids), "fields": fields or {}, "after": after,
                                            "group": group})

    def mutations(self) -> dict[str, Any]:
        """{"pending": [...], "applied": [{"collection", "action", "ids"}, ...]}."""
        return self._control("GET", "mutations")

    def clear_mutations(self) -> None:
        self._control("DELETE", "mutations")

    def truth(self, collection: str) -> list[dict[str, Any]]:
        """The id and date_updated of every live record of `collection` (oldest first)."""
        return list(self._control("GET", f"truth/{collection.strip('/')}")["records"])

    def truth_custom(self, collection: str) -> list[dict[str, Any]]:
        """`truth` with each record's custom values: `{"id", "date_updated", "custom": {field id: value}}`."""
        return list(self._control("GET", f"truth-custom/{collection.strip('/')}")["records"])
