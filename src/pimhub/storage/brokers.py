"""Broker rows: a broker destination's settings beside the pipeline row it delivers through
(webhook_endpoints of kind 'rabbitmq', endpoint id broker-<name>), written together."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from pimhub.brokers.records import StoredBroker, endpoint_id_of
from pimhub.events.endpoints import EndpointSpec
from pimhub.storage.destination_rows import NamedDestinationRows
from pimhub.storage.tables import brokers
from pimhub.storage.webhook_endpoints import spec_columns


def _columns(spec: EndpointSpec) -> dict[str, Any]:
    # The subscription's sources and transform are written here too, whatever the shared
    # helper covers: the fan-out reads them from this row.
    return {**spec_columns(spec), "sources": list(spec.sources), "transform": spec.transform}


class SqlBrokerRepository(NamedDestinationRows[StoredBroker]):
    def __init__(self, engine: Engine) -> None:
        super().__init__(engine, brokers, endpoint_id_of, _columns, StoredBroker)
