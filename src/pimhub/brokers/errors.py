"""Errors of broker destinations; they extend the catalog's so the API maps them the same way."""

from __future__ import annotations

from pimhub.catalog.errors import Conflict, InvalidInput, NotFound, StaleVersion


class InvalidBroker(InvalidInput):
    code = "invalid-broker"
    title = "Invalid broker destination"


class BrokerNotFound(NotFound):
    code = "broker-not-found"
    title = "Broker destination not found"


class BrokerExists(Conflict):
    code = "broker-exists"
    title = "Broker destination exists"


class StaleBroker(StaleVersion):
    """An update naming a version that is no longer the broker's (409; 412 when the version
    came from If-Match)."""

    code = "stale-broker"
    title = "Broker destination changed"
