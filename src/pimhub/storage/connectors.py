"""Connector rows: a connector's settings beside the pipeline destination row it delivers
through (webhook_endpoints with a non-webhook kind), written together."""

from __future__ import annotations

from sqlalchemy import Engine

from pimhub.connectors.records import StoredConnector
from pimhub.storage.destination_rows import NamedDestinationRows
from pimhub.storage.tables import connectors
from pimhub.storage.webhook_endpoints import spec_columns


def endpoint_id_of(name: str) -> str:
    return f"connector-{name}"


class SqlConnectorRepository(NamedDestinationRows[StoredConnector]):
    def __init__(self, engine: Engine) -> None:
        super().__init__(engine, connectors, endpoint_id_of, spec_columns, StoredConnector)
