"""Errors of the webhook side; they extend the catalog's so the API maps them the same way."""

from __future__ import annotations

from pimhub.catalog.errors import Conflict, InvalidInput, NotFound


class InvalidEndpoint(InvalidInput):
    code = "invalid-endpoint"
    title = "Invalid webhook endpoint"


class EndpointNotFound(NotFound):
    code = "endpoint-not-found"
    title = "Webhook endpoint not found"


class DeliveryNotFound(NotFound):
    code = "delivery-not-found"
    title = "Delivery not found"


class EndpointChanged(Conflict):
    """A save named the updated-at stamp its form was made from, and the endpoint has been
    changed since: nothing was written."""

    code = "endpoint-changed"
    title = "Webhook endpoint changed meanwhile"
