"""Page decoding: `close.pages.decode` (orjson, the standard library for what orjson treats differently)
against the standard library's `json.loads` on the same bodies, in the same run.

Bodies: 100-record pages of the sandbox's records (leads with their contacts, emails with bodies, calls,
notes, opportunities, tasks), as the client receives them. ratio = the
standard library's time over decode's (the speed-up; > 1 is faster).
"""

from __future__ import annotations

import json
import time
from itertools import islice
from typing import Any

from closesync.close.pages import decode
from closesync.sandbox.data import SandboxData

KINDS = ("lead", "activity/email", "activity/call", "activity/note", "opportunity", "task", "contact")
PAGE = 100


def _pages() -> list[bytes]:
    """One page of each kind, serialized the way the sandbox answers."""
    data = SandboxData(seed=1, leads=200)
    return [json.dumps({"data": list(islice(data.iter_records(kind), PAGE)), "has_more": True}).encode()
            for kind in KINDS]


def _seconds(loads: Any, pages: list[bytes], rounds: int) -> float:
    started = time.perf_counter()
    for _ in range(rounds):
        for page in pages:
            loads(page)
    return time.perf_counter() - started


def run(quick: bool) -> list[dict[str, Any]]:
    pages = _pages()
    rounds = 20 if quick else 200
    for page in pages:
        assert decode(page) == json.loads(page)
    stdlib = min(_seconds(json.loads, pages, rounds) for _ in range(3))
    ours = min(_seconds(decode, pages, rounds) for _ in range(3))
    megabytes = sum(map(len, pages)) * rounds / 1e6
    return [{
        "name": "decode_pages", "value": megabytes / ours, "unit": "MB/s", "ratio": stdlib / ours,
        "stdlib_mb_per_s": megabytes / stdlib, "page_kb": sum(map(len, pages)) / len(pages) / 1e3,
    }]


if __name__ == "__main__":
    import sys

    for row in run("--quick" in sys.argv):
        print(row)
