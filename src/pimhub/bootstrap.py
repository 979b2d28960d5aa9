"""The one place that builds engines and services from settings."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from pimhub.access.service import AccessService
from pimhub.catalog.class_service import ClassService
from pimhub.catalog.service import CatalogService
from pimhub.settings import Settings
from pimhub.storage.api_keys import SqlApiKeyRepository
from pimhub.storage.engine import build_engine
from pimhub.storage.point_reads import SqlObjectPointReads
from pimhub.storage.unit_of_work import SqlUnitOfWorkFactory


@dataclass
class Hub:
    """Everything a hub process needs, wired once."""

    settings: Settings
    engine: Engine
    catalog: CatalogService
    classes: ClassService
    access: AccessService

    def close(self) -> None:
        self.engine.dispose()


def bootstrap(settings: Settings | None = None, engine: Engine | None = None) -> Hub:
    settings = settings or Settings()
    engine = engine or build_engine(settings.effective_database_url)
    uow = SqlUnitOfWorkFactory(engine)
    return Hub(
        settings=settings,
        engine=engine,
        catalog=CatalogService(
            uow,
            SqlObjectPointReads(engine),
            languages=frozenset(settings.languages) or None,
            default_language=settings.default_language,
        ),
        classes=ClassService(uow),
        access=AccessService(SqlApiKeyRepository(engine)),
    )
