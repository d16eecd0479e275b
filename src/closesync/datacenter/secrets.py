"""Encryption of stored API keys, and the helpers that keep keys out of anything shown.

The master key comes from CLOSESYNC_SECRET_KEY, else from `<home>/secret.key`, created with mode 0600 on
first use so that a copied metadata store alone does not reveal the keys.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from closesync.datacenter.errors import SecretKeyError

ENV_VAR = "CLOSESYNC_SECRET_KEY"
KEY_FILE = "secret.key"
_GENERATE = "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
_KEYLIKE = re.compile(r"api_[A-Za-z0-9_\-.]{6,}")


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
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it first
            return
        with os.fdopen(fd, "w") as fh:
            fh.write(Fernet.generate_key().decode() + "\n")

    def encrypt(self, api_key: str) -> str:
        return self._load().encrypt(api_key.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._load().decrypt(token.encode()).decode()
        except InvalidToken:
            raise SecretKeyError(
                "This account's API key cannot be decrypted: the master key "
                f"(${ENV_VAR} or {self.home / KEY_FILE}) is not the one it was saved with. "
                "Restore that master key, or remove the account and add it again."
            ) from None
