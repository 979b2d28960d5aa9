"""What every resolver of one request shares."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pimhub.access.keys import ApiKey
from pimhub.api.graphql.assets import AssetLoader
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
    # The pool timeout a write of this request met: the rest of the request gives up at once.
    unavailable: Exception | None = None
    # Asset fields' assets, read batch-wise, and what their URLs need.
    assets: AssetLoader = field(default_factory=lambda: AssetLoader(None, "", {}))
    # The calling key: workflow transitions check its scopes (mutations.py).
    api_key: ApiKey | None = None
    # A JSON column as stored values (joined rows are not decoded by storage).
    decode_json: Callable[[Any], Any] = field(init=False)

    def __post_init__(self) -> None:
        self.decode_json = self.session.json_decoder()
