"""What every resolver of one request shares."""

from __future__ import annotations

from dataclasses import dataclass

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
