"""Incremental cursors kept per dataset in the metadata store (the pipeline's StateStore protocol).

Keeping them with the dataset, not in the destination, means editing or deleting a dataset drops exactly
its own cursors, and two datasets loading one destination never share one.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from closesync.datacenter.store import Store, to_iso


class DatasetState:
    """get/put of JSON cursors for one dataset; safe to call from the pipeline's worker threads."""

    def __init__(self, store: Store, dataset_id: int) -> None:
        self.store = store
        self.dataset_id = dataset_id

    def get(self, key: str) -> dict | None:
        with self.store.connect() as conn:
            row = conn.execute(
                "SELECT value FROM dataset_state WHERE dataset_id = ? AND key = ?", (self.dataset_id, key)
            ).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, key: str, value: dict) -> None:
        with self.store.write() as conn:
            conn.execute(
                """INSERT INTO dataset_state (dataset_id, key, value, updated_at) VALUES (?, ?, ?, ?)
                   ON CONFLICT (dataset_id, key) DO UPDATE SET value = excluded.value,
                                                               updated_at = excluded.updated_at""",
                (self.dataset_id, key, json.dumps(value, default=str), to_iso(datetime.now(UTC))),
            )

    def clear(self) -> None:
        with self.store.write() as conn:
            conn.execute("DELETE FROM dataset_state WHERE dataset_id = ?", (self.dataset_id,))
