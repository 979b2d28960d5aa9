"""What every resolver of one request shares."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pimhub.api.graphql.loaders import ObjectLoader
from pimhub.catalog.service import CatalogService
from pimhub.datahub.config import DatahubConfig
from pimhub.datahub.ports import GraphReadSession


@dataclass
class RequestContext:
    config: DatahubConfig
    session: GraphReadSession
    loader: ObjectLoader
    catalog: CatalogService
    author: str  # the API key's name, recorded on every version written
    default_language: str  # the hub's
    language: str = ""  # the current root field's defaultLanguage (compiled plans)

    def decode(self, value: Any) -> Any:
        """A JSON column as stored values (joined rows are not decoded by storage)."""
        return self.session.json(value)
