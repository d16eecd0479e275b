"""One rate-limit budget per API key per process: every client of a key paces on the same `Pacer`.

Close limits each endpoint group per key, and per organization at three times a key's limit (REFERENCE.md
§D). Clients built separately for the same key (the Data Center's concurrent runs of one account) would each
keep a budget of their own and together overspend it; `shared_pacer(api_key, base_url)` hands them one.
The registry is keyed by a SHA-256 digest of the base URL and key, never by the key itself, so no repr,
log line or debugger view of it shows a key. `join_organization` links a key's pacer to its organization's,
whose budget per group is `ORGANIZATION_FACTOR` times the key's: keys of one organization used side by side
in this process then stay within the organization's limit too. (The organization's window is followed from
its keys' readings; `RateLimit` tells only the limit closest to being hit, so this part is an estimate.)
"""

from __future__ import annotations

import hashlib
import threading

from closesync.close.pacing import Pacer

#: Close's organization limit per endpoint group, in keys' limits.
ORGANIZATION_FACTOR = 3


def key_digest(api_key: str, base_url: str) -> str:
    """A stable, irreversible name for (server, key): what the registry and any log may show."""
    return hashlib.sha256(f"{base_url}\n{api_key}".encode()).hexdigest()[:16]


class BudgetRegistry:
    """Thread-safe map from key digest to its Pacer, and from organization to the organization's Pacer."""

    def __init__(self, *, margin: float = 0.01) -> None:
        self.margin = margin
        self._lock = threading.Lock()
        self._keys: dict[str, Pacer] = {}
        self._organizations: dict[str, Pacer] = {}

    def pacer(self, api_key: str, base_url: str) -> Pacer:
        """The one Pacer of this key on this server in this process."""
        digest = key_digest(api_key, base_url)
        with self._lock:
            pacer = self._keys.get(digest)
            if pacer is None:
                pacer = self._keys[digest] = Pacer(margin=self.margin)
            return pacer

    def join_organization(self, api_key: str, base_url: str, organization_id: str) -> Pacer:
        """Count this key's requests against its organization's budget as well; returns the key's Pacer."""
        pacer = self.pacer(api_key, base_url)
        name = f"{base_url}\n{organization_id}"
        with self._lock:
            organization = self._organizations.get(name)
            if organization is None:
                organization = self._organizations[name] = Pacer(margin=self.margin)
        pacer.join(organization, ORGANIZATION_FACTOR)
        return pacer

    def __len__(self) -> int:
        with self._lock:
            return len(self._keys)

    def __repr__(self) -> str:
        return f"BudgetRegistry(keys={len(self)})"


#: The process-wide registry the Data Center's clients share.
BUDGETS = BudgetRegistry()


def shared_pacer(api_key: str, base_url: str, organization_id: str | None = None) -> Pacer:
    """The process-wide Pacer of this key (joined to its organization's budget when `organization_id` is
    given): pass it as `CloseClient(..., pacer=...)`."""
    if organization_id:
        return BUDGETS.join_organization(api_key, base_url, organization_id)
    return BUDGETS.pacer(api_key, base_url)
