"""Fixtures for CLI tests: a fresh SQLite database per test, and a wide runner."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner


@pytest.fixture
def db_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("PIMHUB_DATABASE_URL", url)
    monkeypatch.chdir(tmp_path)  # keeps a stray ./pimhub-data or .env out of the repo
    return url


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner(env={"COLUMNS": "200"})  # wide enough for the key table
