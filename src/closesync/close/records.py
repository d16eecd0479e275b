"""What every reader yields - one Close record - and the dedupe that makes each record come once."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

Record = dict[str, Any]


def unseen(records: Iterable[Any], seen: set[str]) -> Iterator[Record]:
    """The records whose id is not in `seen` yet, adding theirs: pages that shift or overlap repeat none."""
    for record in records:
        rid = record.get("id") if isinstance(record, dict) else None
        if rid is not None:
            if rid in seen:
                continue
            seen.add(rid)
        yield record
