"""Fixtures of the storage tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from pimhub.storage.engine import build_engine
from tests.conftest import POSTGRES_ENV, postgres_schema, require_service


@pytest.fixture(params=["sqlite", "postgresql"])
def old_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Engine]]:
    """An empty database of its own, to be migrated step by step."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.db'}"
        engine = build_engine(url)
        yield url, engine
        engine.dispose()
        return
    url = require_service(request.config, POSTGRES_ENV, "PostgreSQL")
    with postgres_schema(url, "pimhub_upgrade") as engine:
        yield url, engine
