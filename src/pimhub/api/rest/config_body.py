"""The request bodies of the destinations added with a configuration and credentials
(/api/v1/brokers, /api/v1/connectors): each route's check of the body's keys, and of its
`config` object. The error raised is the route's own (InvalidBroker, InvalidConnector), so a
client reads the same problem code as for the configuration's other faults."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pimhub.catalog.errors import FieldError, InvalidInput


def fields_of(
    body: Any, allowed: set[str], required: set[str], invalid: type[InvalidInput]
) -> Mapping[str, Any]:
    """`body` when it is an object with the `required` keys and no others than `allowed`;
    otherwise `invalid` (a 422) naming each problem."""
    if not isinstance(body, Mapping):
        message = "must be an object: " + ", ".join(sorted(allowed))
        raise invalid(f"the request body {message}", [FieldError("body", message)])
    errors = [FieldError(k, "is required", "required") for k in sorted(required - set(body))]
    errors += [
        FieldError(str(k), "unknown field", "unknown-field") for k in body if k not in allowed
    ]
    if errors:
        raise invalid("the request body is not as expected", errors)
    return body


def config_of(body: Mapping[str, Any], invalid: type[InvalidInput], what: str) -> Any:
    """The body's `config` when it is an object; otherwise `invalid` saying it must be `what`
    (such as "the broker configuration")."""
    config = body["config"]
    if not isinstance(config, Mapping):
        message = f"must be an object ({what})"
        raise invalid(f"config {message}", [FieldError("config", message, "type")])
    return config
