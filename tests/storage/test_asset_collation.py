"""Folder listings on a PostgreSQL database whose default collation is not C: the path
range `folder + '/' .. folder + '0'` only holds under byte order, so the asset paths are
declared with collation "C" (tables.py, migration 0010) whatever the database's default."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from pimhub.storage.assets import SqlAssetRepository
from pimhub.storage.engine import build_engine
from pimhub.storage.tables import assets
from tests.conftest import POSTGRES_ENV, require_service
from tests.storage.test_asset_repository import asset

PATHS = ["/products/a.jpg", "/products/sub/b.jpg", "/Products/a.jpg", "/products~/a.jpg",
         "/products#/a.jpg", "/products-x/a.jpg", "/productsa.jpg", "/products0/c.jpg"]  # fmt: skip


@pytest.fixture(scope="module")
def icu_engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """A database created with the ICU en-US collation as its default, holding the assets
    table as tables.py declares it (test_migrations holds migration 0010 to the same)."""
    url = make_url(require_service(request.config, POSTGRES_ENV, "PostgreSQL"))
    name = f"pimhub_icu_{uuid.uuid4().hex[:10]}"
    admin = build_engine(url.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(
            text(
                f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8' "
                "LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8'"
            )
        )
    eng = build_engine(url.set(database=name).render_as_string(hide_password=False))
    try:
        assets.create(eng)
        yield eng
    finally:
        eng.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


def test_folder_listing_is_byte_ordered_under_an_icu_default_collation(
    icu_engine: Engine,
) -> None:
    with icu_engine.begin() as conn:
        # The database really orders text the ICU way (else this test proves nothing).
        assert conn.execute(text("SELECT 'B' > 'a'")).scalar_one()
        repo = SqlAssetRepository(conn)
        for n, path in enumerate(PATHS):
            repo.insert(asset(path, f"00000000-0000-7000-8000-{n:012d}"))
        items, total, _ = repo.list_page("/products", 100, None)
        assert [a.path for a in items] == ["/products/a.jpg", "/products/sub/b.jpg"]
        assert total == 2
        first, _, cursor = repo.list_page("/products", 1, None)
        assert cursor is not None
        rest, _, _ = repo.list_page("/products", 1, cursor)
        assert [a.path for a in first + rest] == ["/products/a.jpg", "/products/sub/b.jpg"]
        everything, _, _ = repo.list_page("/", 100, None)
        assert [a.path for a in everything] == sorted(PATHS)  # byte order, as on SQLite


def test_the_migrations_declare_the_asset_paths_with_collation_c(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite compares text byte by byte already")
    with engine.connect() as conn:
        found = conn.execute(
            text(
                "SELECT column_name, collation_name FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name = 'assets' "
                "AND column_name IN ('path', 'folder') ORDER BY column_name"
            )
        ).all()
    assert [tuple(r) for r in found] == [("folder", "C"), ("path", "C")]
