"""Publishing several tables of a folder (Parquet/CSV) at once: a manifest, then renames.

Every writer of a group first builds its new files beside the old ones (hidden temp files, written while
the tables' locks are held); nothing a reader sees has changed yet, so a failure there (a full disk) only
deletes temp files. Then one manifest, ``.closesync/publish-<id>.json``, lists every rename and removal of
the whole group; it is written atomically, applied, and deleted. A process killed while applying leaves
the manifest behind and the next open of the folder finishes it (``recover``): the group is published
whole or, if the manifest was never written, not at all. Renames cannot run out of space.

The ownership records (``.closesync/tables.json``, see sinks.ownership) are rewritten in the same manifest.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

from closesync.private_files import create_private_file
from closesync.sinks.base import PublishGroup, TableWriter
from closesync.sinks.ownership import OWNERS_FILE
from closesync.sinks.writespec import WriteSpec

if TYPE_CHECKING:
    from closesync.sinks.files import FileSink

MANIFEST_PREFIX = "publish-"


class Publication:
    """The renames and removals that publish a group, and the temp files to delete if it aborts."""

    def __init__(self) -> None:
        self.renames: list[tuple[Path, Path]] = []
        self.removals: list[Path] = []
        self.temporary: list[Path] = []
        self.committed = False  # the manifest is written: from here on the publish only goes forward

    def rename(self, source: Path, target: Path) -> None:
        self.renames.append((source, target))
        self.discard_on_abort(source)

    def remove(self, *paths: Path) -> None:
        self.removals.extend(paths)

    def discard_on_abort(self, path: Path) -> None:
        self.temporary.append(path)

    def discard(self) -> None:
        for path in self.temporary:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

    def apply(self, meta_dir: Path) -> None:
        """Write the manifest, apply it, delete it."""
        manifest = meta_dir / f"{MANIFEST_PREFIX}{uuid.uuid4().hex}.json"
        body = {
            "renames": [[str(a), str(b)] for a, b in self.renames],
            "removals": [str(p) for p in self.removals],
        }
        tmp = manifest.with_name(f".{manifest.name}.tmp")
        create_private_file(tmp)  # it names the folder's files: owner-only like them
        tmp.write_text(json.dumps(body), encoding="utf-8")
        os.replace(tmp, manifest)
        self.committed = True
        _apply(body)
        os.unlink(manifest)


def _apply(body: dict[str, Any]) -> None:
    """Idempotent: a rename whose source is gone was done already."""
    for source, target in body["renames"]:
        with contextlib.suppress(FileNotFoundError):
            os.replace(source, target)
    for path in body["removals"]:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def recover(meta_dir: Path) -> None:
    """Finish every publish a killed process left half-applied."""
    for manifest in sorted(meta_dir.glob(f"{MANIFEST_PREFIX}*.json")):
        with contextlib.suppress(FileNotFoundError):  # another process finished it first
            _apply(json.loads(manifest.read_text(encoding="utf-8")))
            os.unlink(manifest)


def read_owners(meta_dir: Path) -> dict[str, dict[str, Any]]:
    path = meta_dir / OWNERS_FILE
    if not path.exists():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


class FileGroup(PublishGroup):
    """Writers of one folder published by one manifest."""

    sink: FileSink

    def _new_writer(self, spec: WriteSpec) -> TableWriter:
        from closesync.sinks.files import FileTableWriter

        return FileTableWriter(self, self.sink, spec)

    def _publish(self, writers: Sequence[TableWriter]) -> list[int]:
        from closesync.sinks.files import META_DIR

        sink = self.sink
        meta_dir = sink.dir / META_DIR
        publication = Publication()
        try:
            with ExitStack() as locks:
                for table in sorted({w.table for w in writers}):
                    locks.enter_context(sink._table_lock(table))
                with sink._lock:  # the owners file is shared by every table of the folder
                    claimed = self._check_claims(writers)
                rows = [w._prepare(publication) for w in writers]  # type: ignore[attr-defined]
                with sink._lock:
                    self._stage_owners(meta_dir, claimed, publication)
                    publication.apply(meta_dir)
        except BaseException:
            if publication.committed:  # finish what the manifest promises (or leave it to the next open)
                with contextlib.suppress(OSError):
                    recover(meta_dir)
            else:
                publication.discard()
            raise
        return rows

    def _check_claims(self, writers: Sequence[TableWriter]) -> list[TableWriter]:
        """Check each claim (TableOwnedError for another owner's table); the writers whose claim is new."""
        return [
            w
            for w in writers
            if w.spec.claim is not None and w.spec.claim.check(w.table, self.sink.table_owner(w.table))
        ]

    @staticmethod
    def _stage_owners(meta_dir: Path, claimed: Sequence[TableWriter], publication: Publication) -> None:
        if claimed:
            owners = read_owners(meta_dir)
            for w in claimed:
                assert w.spec.claim is not None
                owners[w.table] = w.spec.claim.record(w.table)
            path = meta_dir / OWNERS_FILE
            tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex}")
            create_private_file(tmp)
            tmp.write_text(json.dumps(owners, indent=2, sort_keys=True) + "\n", encoding="utf-8")
            publication.rename(tmp, path)
