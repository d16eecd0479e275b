"""Data Center fixtures (loaded by conftest): a fresh home folder whose master key is created on first use."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`<tmp>/home`, not created yet; no CLOSESYNC_SECRET_KEY, so the key file in it is what is used."""
    monkeypatch.delenv("CLOSESYNC_SECRET_KEY", raising=False)
    return tmp_path / "home"
