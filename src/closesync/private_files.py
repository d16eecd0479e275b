"""Files that closesync creates are readable by their owner only: metadata, keys and CRM data alike.

Everything closesync writes holds either secrets (encrypted keys, the master key) or customer data, so a
file it creates is 0600 and a folder it creates 0700, whatever the umask. Set CLOSESYNC_SHARED_FILES=1 to
leave modes to the umask instead (e.g. a group that reads the Parquet folder). Files that exist already
keep the mode their owner gave them.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

SHARED_ENV = "CLOSESYNC_SHARED_FILES"
FILE_MODE = 0o600
DIR_MODE = 0o700


def shared() -> bool:
    """True when the user asked for files that follow the umask (CLOSESYNC_SHARED_FILES=1)."""
    return os.environ.get(SHARED_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def restrict_umask() -> None:
    """Make every file this process creates owner-only (the command line calls this once at start).

    Covers what closesync does not open itself, such as DuckDB's and SQLite's write-ahead logs.
    """
    if not shared():
        os.umask(os.umask(0) | 0o077)


def make_private(path: str | os.PathLike[str]) -> None:
    """chmod a file closesync just created to 0600 (a folder to 0700), unless files are shared."""
    if shared():
        return
    target = Path(path)
    with contextlib.suppress(OSError):  # e.g. a file system without Unix modes: nothing to protect there
        os.chmod(target, DIR_MODE if target.is_dir() else FILE_MODE)


def create_private_file(path: str | os.PathLike[str]) -> None:
    """Create `path` empty and owner-only if it does not exist, so that whatever writes it next keeps 0600."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666 if shared() else FILE_MODE)
    except FileExistsError:
        return
    os.close(fd)


def make_private_dirs(path: str | os.PathLike[str]) -> None:
    """mkdir -p, each folder created here owner-only; folders that exist already are left as they are."""
    target = Path(path)
    missing = []
    while not target.exists() and target != target.parent:
        missing.append(target)
        target = target.parent
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):  # another process created it meanwhile
            folder.mkdir(mode=0o777 if shared() else DIR_MODE)
