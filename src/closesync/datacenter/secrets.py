"""Encryption of stored secrets (API keys, destination passwords), and helpers that keep keys out of text.

The master key comes from CLOSESYNC_SECRET_KEY, else from `<home>/secret.key`, created with mode 0600 on
first use so that a copied metadata store alone does not reveal the keys. Like ssh with a private key, an
existing key file that other users can read is refused, never used silently.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from closesync.datacenter.errors import SecretKeyError
from closesync.private_files import make_private_dirs

ENV_VAR = "CLOSESYNC_SECRET_KEY"
KEY_FILE = "secret.key"
_GENERATE = "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
_KEYLIKE = re.compile(r"api_[A-Za-z0-9_\-.]{6,}")
#: How to get a stored secret back when the master key that encrypted it is gone.
RECOVER_KEY = (
    "Restore {key_file} from a backup (or set ${env} to the old key). If the old key is lost, enter the "
    "secret again: for an API key, `closesync accounts set-key NAME` (or “Replace key” on the account's "
    "page); for a database password, `closesync datasets edit NAME --destination URL`; for a notification "
    "URL, `closesync notify remove ID` then `closesync notify add URL`."
)


def key_hint(api_key: str) -> str:
    """At most `api_…abcd`: enough to tell keys apart, never enough to use one."""
    tail = api_key[-4:] if len(api_key) >= 12 else ""
    return f"api_…{tail}"


def redact(text: str, *secrets: str | None) -> str:
    """Replace the given secrets, and anything shaped like a Close key, by their hint."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, key_hint(secret))
    return _KEYLIKE.sub(lambda m: key_hint(m.group(0)), text)


class Secrets:
    """Encrypts and decrypts API keys with the home's master key (loaded lazily, created on first use)."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self._fernet: Fernet | None = None

    def _load(self) -> Fernet:
        if self._fernet is not None:
            return self._fernet
        raw = os.environ.get(ENV_VAR)
        source = f"${ENV_VAR}"
        if not raw:
            path = self.home / KEY_FILE
            source = str(path)
            if not path.exists():
                self._create_key_file(path)
            _refuse_shared_key_file(path)
            raw = path.read_text().strip()
        try:
            self._fernet = Fernet(raw.encode())
        except (ValueError, TypeError):
            raise SecretKeyError(
                f"The master key in {source} is not a Fernet key (32 url-safe base64-encoded bytes). "
                f"Generate one with: {_GENERATE}"
            ) from None
        return self._fernet

    @staticmethod
    def _create_key_file(path: Path) -> None:
        make_private_dirs(path.parent)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it first
            return
        with os.fdopen(fd, "w") as fh:
            fh.write(Fernet.generate_key().decode() + "\n")

    def encrypt(self, secret: str) -> str:
        return self._load().encrypt(secret.encode()).decode()

    def decrypt(self, token: str, what: str = "This account's API key") -> str:
        """The secret `token` holds; a SecretKeyError saying how to recover when the master key changed."""
        try:
            return self._load().decrypt(token.encode()).decode()
        except InvalidToken:
            key_file = self.home / KEY_FILE
            raise SecretKeyError(
                f"{what} cannot be decrypted: the master key (${ENV_VAR} or {key_file}) is not the one it "
                "was saved with; the key file was lost, replaced or made anew. "
                + RECOVER_KEY.format(key_file=key_file, env=ENV_VAR)
            ) from None


def _refuse_shared_key_file(path: Path) -> None:
    """Refuse a key file that group or others may read or write, as ssh refuses such a private key."""
    if os.name == "nt":  # Windows has no Unix modes: its ACLs are the user's to set
        return
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise SecretKeyError(
            f"The master key file {path} is readable by other users (mode {mode:o}): anyone who can read it "
            f"can decrypt the stored API keys and passwords. Make it private with: chmod 600 {path}"
        )
