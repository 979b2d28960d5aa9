"""Shared fixtures. Database-backed tests run once per backend: SQLite always, PostgreSQL
when PIMHUB_TEST_POSTGRES_URL is set. Without it those runs skip with a reason, unless
--require-services (or PIMHUB_TEST_REQUIRE_SERVICES=1) turns the skip into a failure, as CI
does."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, text
from sqlalchemy.exc import OperationalError

from pimhub.access.audit import SYSTEM_ACTOR, set_actor
from pimhub.api.app import create_app
from pimhub.bootstrap import Hub, bootstrap
from pimhub.catalog.commerce import commerce_model
from pimhub.settings import Settings
from pimhub.storage.engine import build_engine
from pimhub.storage.migrate import upgrade
from pimhub.storage.tables import metadata

POSTGRES_ENV = "PIMHUB_TEST_POSTGRES_URL"
AMQP_ENV = "PIMHUB_TEST_AMQP_URL"
REDIS_ENV = "PIMHUB_TEST_REDIS_URL"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--require-services",
        action="store_true",
        default=False,
        help="fail, instead of skip, tests whose service URL is not set",
    )


def require_service(
    config: pytest.Config,
    env: str,
    what: str,
    example: str = "postgresql://postgres@127.0.0.1:5432/test",
) -> str:
    """The URL in `env`, or a skip (a failure under --require-services)."""
    url = os.environ.get(env)
    if url:
        return url
    strict = (
        config.getoption("--require-services")
        or os.environ.get("PIMHUB_TEST_REQUIRE_SERVICES") == "1"
    )
    message = f"{what} tests need {env} (e.g. {example})"
    if strict:
        pytest.fail(f"{message}; --require-services forbids skipping", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def amqp_url(request: pytest.FixtureRequest) -> str:
    """The RabbitMQ the broker tests publish to and consume from."""
    return require_service(
        request.config, AMQP_ENV, "RabbitMQ", "amqp://guest:guest@127.0.0.1:5672/"
    )


@pytest.fixture(autouse=True)
def _actor_is_system() -> Iterator[None]:
    """Each test starts as the `system` actor: a CLI command run in-process names its login
    as the actor for the rest of the process, which would leak into later tests' entries."""
    set_actor(SYSTEM_ACTOR)
    yield


@pytest.fixture(scope="session")
def redis_url(request: pytest.FixtureRequest) -> str:
    """The Redis that shared rate-limit buckets live in."""
    return require_service(request.config, REDIS_ENV, "Redis", "redis://127.0.0.1:6379/0")


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """A migrated database per backend for the whole session; tests get it emptied."""
    if request.param == "sqlite":
        path = Path(tmp_path_factory.mktemp("db")) / "pimhub.db"
        eng = build_engine(f"sqlite:///{path}")
        upgrade(eng)
        yield eng
        eng.dispose()
        return
    url = require_service(request.config, POSTGRES_ENV, "PostgreSQL")
    with postgres_schema(url, "pimhub_test") as eng:
        upgrade(eng)
        yield eng


@contextmanager
def postgres_schema(url: str, prefix: str) -> Iterator[Engine]:
    """An engine on a fresh, empty schema of the database at `url`, dropped afterwards."""
    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = build_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        # Extensions are per database: pg_trgm goes to public, which stays on the path.
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public"))
    eng = build_engine(url, connect_args={"options": f"-csearch_path={schema},public"})
    try:
        yield eng
    finally:
        eng.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def statements_run(engine: Engine) -> Iterator[list[str]]:
    """The SQL statements `engine` runs inside the block, in order (statement-count tests)."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def empty_database(engine: Engine) -> None:
    tables = [t.name for t in reversed(metadata.sorted_tables)]
    if engine.dialect.name == "postgresql":
        # A previous test's background work (an import job's thread finishing its last
        # statement) may still hold a table: emptying then deadlocks with it, and PostgreSQL
        # aborts one side. Ours runs again once the other has finished.
        for attempt in range(5):
            try:
                _empty_postgres(engine, tables)
                return
            except OperationalError as exc:
                if "deadlock detected" not in str(exc) or attempt == 4:
                    raise
                time.sleep(0.2 * (attempt + 1))
    with engine.begin() as conn:
        for name in tables:
            conn.execute(text(f"DELETE FROM {name}"))
        conn.execute(text("DELETE FROM search_fts"))


def _empty_postgres(engine: Engine, tables: list[str]) -> None:
    """Deletes the rows of the tables that have any (children first) and restarts the
    sequences that moved, as TRUNCATE ... RESTART IDENTITY would. TRUNCATE of every table
    cost ~120 ms a test (a new file per table), most of them empty: a large part of the
    suite's time on PostgreSQL. The tables are locked first, as TRUNCATE locked them, so a
    write a previous test's background thread still has open commits before we look, not
    after we emptied."""
    probe = " UNION ALL ".join(
        f"SELECT '{name}' WHERE EXISTS (SELECT 1 FROM {name})" for name in tables
    )
    with engine.begin() as conn:
        conn.execute(text(f"LOCK TABLE {', '.join(tables)} IN ACCESS EXCLUSIVE MODE"))
        filled = {row[0] for row in conn.execute(text(probe))}
        for name in tables:
            if name in filled:
                conn.execute(text(f"DELETE FROM {name}"))
        moved = conn.execute(
            text(
                "SELECT sequencename FROM pg_sequences "
                "WHERE schemaname = current_schema() AND last_value IS NOT NULL"
            )
        ).scalars()
        for sequence in list(moved):
            conn.execute(text(f'ALTER SEQUENCE "{sequence}" RESTART'))


@pytest.fixture
def far_east_local_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process's local time zone at UTC+14, where 9999-12-31 23:00 UTC is year 10000."""
    monkeypatch.setenv("TZ", "Etc/GMT-14")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def bare_hub(engine: Engine, tmp_path: Path) -> Iterator[Hub]:
    """A hub on an empty database (no classes); its asset files under the test's tmp_path."""
    empty_database(engine)
    settings = Settings(
        database_url=str(engine.url),
        secret_key="test-passphrase",
        webhooks_allow_private=True,
        assets_dir=tmp_path / "assets",
    )
    yield bootstrap(settings, engine=engine)


@pytest.fixture
def hub(bare_hub: Hub) -> Hub:
    """A hub with the default commerce model installed."""
    bare_hub.classes.apply(commerce_model(), author="test")
    return bare_hub


@pytest.fixture
def client(hub: Hub) -> TestClient:
    return TestClient(create_app(hub))


def bearer(hub: Hub, *scopes: str, name: str = "test") -> dict[str, str]:
    """Headers for a fresh key with `scopes`."""
    _, token = hub.access.create(name, list(scopes), environment="test")
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def admin(hub: Hub) -> dict[str, str]:
    return bearer(hub, "admin", name="admin")


@pytest.fixture
def sample(hub: Hub) -> Hub:
    """The commerce model plus one brand, two categories and two products (one draft)."""
    c = hub.catalog
    c.create("Brand", {"code": "acme", "name": "Acme"}, author="test")
    c.create("Category", {"code": "men", "name": {"en": "Men", "de": "Herren"}}, author="test")
    c.create(
        "Category",
        {"code": "men-tops", "name": {"en": "Tops", "de": "Oberteile"}, "parent": "men"},
        author="test",
    )
    c.create(
        "Product",
        {
            "sku": "TS-1",
            "name": {"en": "Tee", "de": "T-Shirt"},
            "price": {"amount": 19.99, "currency": "EUR"},
            "stock": 7,
            "category": "men-tops",
            "brand": "acme",
            "ean": "4006381333931",
        },
        author="test",
    )
    c.create(
        "Product",
        {"sku": "TS-2", "name": {"en": "Draft tee"}, "price": {"amount": 5, "currency": "EUR"}},
        published=False,
        author="test",
    )
    return hub
