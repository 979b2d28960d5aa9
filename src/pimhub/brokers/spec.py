"""A broker destination's configuration and credentials, parsed from JSON-like input.

The broker's address never carries credentials: they are given apart (username, password),
sealed at rest as the pipeline row's secret, and never shown. What a broker hears about
(event types, classes, sources, a transform) is a webhook endpoint's subscription, parsed by
events.endpoints.parse_spec so that both refuse the same things in the same words.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import unquote, urlsplit

import orjson

from pimhub.brokers.errors import InvalidBroker
from pimhub.catalog.errors import FieldError
from pimhub.events.endpoints import EndpointSpec, parse_spec
from pimhub.events.errors import InvalidEndpoint

KIND = "rabbitmq"
NAME_PATTERN = re.compile(r"[a-z][a-z0-9_-]{0,29}")
# Names the admin's paths take for themselves: /admin/brokers/new is the create form, so a
# broker named "new" could never be opened there.
RESERVED_NAMES = frozenset({"new"})
DEFAULT_EXCHANGE = "pimhub.events"
EXCHANGE_TYPES = ("topic", "direct", "fanout", "headers")
# AMQP names are short strings; these characters are the ones RabbitMQ's tools show plainly.
EXCHANGE_NAME = re.compile(r"[A-Za-z0-9_.:-]{1,127}")
# A prefix is one or more routing-key words; a routing key is at most 255 bytes, and the
# longest key the hub makes (catalog.<Class>.transitioned) leaves room for 100.
ROUTING_PREFIX = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*")
MAX_PREFIX = 100
MAX_URL = 2048
MAX_VHOST = 255
MAX_USERNAME = 255
MAX_PASSWORD = 1024
PORTS = {"amqp": 5672, "amqps": 5671}
BROKER_KEYS = (
    "name",
    "url",
    "exchange",
    "exchangeType",
    "declare",
    "routingKeyPrefix",
    "mandatory",
)
SUBSCRIPTION_KEYS = ("eventTypes", "classes", "sources", "transform", "enabled")
CREDENTIAL_KEYS = ("username", "password")


@dataclass(frozen=True, slots=True)
class Credentials:
    username: str
    password: str

    def to_json(self) -> str:
        return orjson.dumps({"username": self.username, "password": self.password}).decode()

    @classmethod
    def from_json(cls, text: str) -> Credentials:
        data = orjson.loads(text)
        return cls(str(data["username"]), str(data["password"]))


@dataclass(frozen=True, slots=True)
class BrokerConfig:
    """Where to publish and what. `subscription` is the pipeline row's spec (its url is the
    broker's address, which the dispatcher checks against internal addresses)."""

    name: str
    url: str
    subscription: EndpointSpec
    exchange: str = DEFAULT_EXCHANGE
    exchange_type: str = "topic"
    declare: bool = True  # declare the exchange (durable); False: it must exist already
    routing_key_prefix: str | None = None
    mandatory: bool = True  # a message no queue is bound for is a failed attempt

    @property
    def tls(self) -> bool:
        return urlsplit(self.url).scheme == "amqps"

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        parts = urlsplit(self.url)
        return parts.port or PORTS[parts.scheme]

    @property
    def vhost(self) -> str:
        return vhost_of(urlsplit(self.url).path)

    def to_dict(self) -> dict[str, Any]:
        """As stored and shown (camelCase, the input's own shape; never credentials)."""
        spec = self.subscription
        return {
            "name": self.name,
            "url": self.url,
            "exchange": self.exchange,
            "exchangeType": self.exchange_type,
            "declare": self.declare,
            "routingKeyPrefix": self.routing_key_prefix,
            "mandatory": self.mandatory,
            "eventTypes": list(spec.event_types),
            "classes": list(spec.classes),
            "sources": list(spec.sources),
            "transform": spec.transform,
            "enabled": spec.enabled,
        }


def vhost_of(path: str) -> str:
    """The virtual host a URL's path names: none or "/" is the default vhost "/"."""
    return unquote(path[1:]) if len(path) > 1 else "/"


def parse_config(body: Any) -> BrokerConfig:
    """A BrokerConfig from a JSON-like mapping; every problem is reported at once, by key."""
    if not isinstance(body, Mapping):
        raise InvalidBroker("the broker configuration must be an object")
    errors: list[FieldError] = []
    known = (*BROKER_KEYS, *SUBSCRIPTION_KEYS)
    errors += [FieldError(str(k), "unknown field", "unknown-field") for k in body if k not in known]
    name = _name(body.get("name"), errors)
    url = _url(body.get("url"), errors)
    exchange = _choice_text(body, "exchange", DEFAULT_EXCHANGE, EXCHANGE_NAME, errors)
    exchange_type = body.get("exchangeType", "topic")
    if exchange_type not in EXCHANGE_TYPES:
        message = f"must be one of {', '.join(EXCHANGE_TYPES)}"
        errors.append(FieldError("exchangeType", message, "option"))
    declare = _flag(body, "declare", errors)
    mandatory = _flag(body, "mandatory", errors)
    if declare and exchange.startswith("amq."):
        message = "amq.* exchanges are the broker's own: set declare to false to publish to one"
        errors.append(FieldError("exchange", message, "format"))
    prefix = _prefix(body.get("routingKeyPrefix"), errors)
    subscription = _subscription(body, name, url, errors)
    if errors:
        raise InvalidBroker("the broker configuration is not valid", errors)
    return BrokerConfig(
        name=name,
        url=url,
        subscription=subscription,
        exchange=exchange,
        exchange_type=str(exchange_type),
        declare=declare,
        routing_key_prefix=prefix,
        mandatory=mandatory,
    )


def parse_credentials(value: Any) -> Credentials:
    """The broker user's name and password, each non-empty printable text."""
    if not isinstance(value, Mapping):
        message = "must be an object with username and password"
        raise InvalidBroker(f"credentials {message}", [FieldError("credentials", message, "type")])
    errors = [
        FieldError(f"credentials.{k}", "unknown credential", "unknown-field")
        for k in value
        if k not in CREDENTIAL_KEYS
    ]
    for key, limit in (("username", MAX_USERNAME), ("password", MAX_PASSWORD)):
        problem = _credential_problem(value.get(key), limit)
        if problem is not None:
            code = "required" if value.get(key) in (None, "") else "format"
            errors.append(FieldError(f"credentials.{key}", problem, code))
    if errors:
        raise InvalidBroker("the credentials are not valid", errors)
    return Credentials(value["username"], value["password"])


def _credential_problem(value: Any, limit: int) -> str | None:
    if value is None or value == "":
        return "is required"
    if not isinstance(value, str):
        return "must be text"
    if len(value) > limit:
        return f"is longer than {limit} characters"
    if not _encodable(value) or any(ord(c) < 32 or ord(c) == 127 for c in value):
        return "must not contain control characters or lone surrogates"
    return None


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _name(value: Any, errors: list[FieldError]) -> str:
    if value is None:
        errors.append(FieldError("name", "is required", "required"))
        return ""
    if not isinstance(value, str) or not NAME_PATTERN.fullmatch(value):
        message = "must be 1 to 30 of a-z, 0-9, _ and -, starting with a letter"
        errors.append(FieldError("name", message, "format"))
        return ""
    if value in RESERVED_NAMES:
        message = f"'{value}' is reserved (the admin's /brokers/{value} is the create form)"
        errors.append(FieldError("name", message, "reserved"))
        return ""
    return value


def _url(value: Any, errors: list[FieldError]) -> str:
    """amqp:// or amqps:// host[:port][/vhost], without credentials, query or fragment."""
    if value is None:
        errors.append(FieldError("url", "is required", "required"))
        return ""
    problem = _url_problem(value)
    if problem is not None:
        errors.append(FieldError("url", problem, "format"))
        return ""
    return str(value)


def _url_problem(value: Any) -> str | None:
    if not isinstance(value, str) or not value:
        return "must be a non-empty string"
    if len(value) > MAX_URL:
        return f"is longer than {MAX_URL} characters"
    if not value.isascii() or any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in value):
        return "must be ASCII without spaces or control characters (punycode for names)"
    parts = urlsplit(value)
    if parts.scheme not in PORTS or not parts.hostname:
        return "must be amqp://host[:port][/vhost] or amqps://..."
    if "@" in parts.netloc:
        return "must not carry credentials: give username and password apart"
    try:
        port = parts.port
    except ValueError:
        return "has a port that is not a number from 1 to 65535"
    if port == 0:
        return "has a port that is not a number from 1 to 65535"
    if parts.query or parts.fragment or value.endswith(("?", "#")):
        return "must not have a query or fragment"
    vhost = vhost_of(parts.path)
    if "/" in parts.path[1:] or len(vhost) > MAX_VHOST or not _encodable(vhost):
        return f"names a virtual host that is not one path segment of at most {MAX_VHOST}"
    if any(ord(c) < 32 for c in vhost):
        return "names a virtual host with control characters"
    return None


def _choice_text(
    body: Mapping[str, Any],
    key: str,
    default: str,
    pattern: re.Pattern[str],
    errors: list[FieldError],
) -> str:
    value = body.get(key, default)
    if not isinstance(value, str) or not pattern.fullmatch(value):
        message = "must be 1 to 127 of A-Z, a-z, 0-9, _, ., : and -"
        errors.append(FieldError(key, message, "format"))
        return default
    return value


def _flag(body: Mapping[str, Any], key: str, errors: list[FieldError]) -> bool:
    value = body.get(key, True)
    if not isinstance(value, bool):
        errors.append(FieldError(key, "must be true or false", "type"))
        return True
    return value


def _prefix(value: Any, errors: list[FieldError]) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > MAX_PREFIX or not ROUTING_PREFIX.fullmatch(value):
        message = (
            f"must be dot-separated words of A-Z, a-z, 0-9, _ and - "
            f"(at most {MAX_PREFIX} characters)"
        )
        errors.append(FieldError("routingKeyPrefix", message, "format"))
        return None
    return value


def _subscription(
    body: Mapping[str, Any], name: str, url: str, errors: list[FieldError]
) -> EndpointSpec:
    """The pipeline row's spec: the webhook parser checks the subscription's keys."""
    base = EndpointSpec(url=url, description=f"RabbitMQ broker {name}")
    given = {k: body[k] for k in SUBSCRIPTION_KEYS if k in body}
    try:
        return replace(parse_spec(given, base), url=url)
    except InvalidEndpoint as exc:
        errors += exc.errors
        return base
