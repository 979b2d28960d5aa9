"""The broker destination form: what the user typed, as the body and credentials
BrokerService parses, and back again for showing the form with their input kept. The
password is never put back into a page."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import FormData

from pimhub.admin.web import text_field
from pimhub.brokers.errors import BrokerNotFound, InvalidBroker
from pimhub.brokers.records import StoredBroker
from pimhub.brokers.spec import NAME_PATTERN
from pimhub.catalog.errors import FieldError, InvalidInput, NulCharacter

# Half of a UTF-16 pair on its own: no page, database or JSON answer can encode it.
_SURROGATE = re.compile("[\ud800-\udfff]")
_SEPARATORS = re.compile(r"[\s,]+")


@dataclass
class BrokerForm:
    name: str = ""
    url: str = ""
    username: str = ""
    password: str = ""  # typed in this request only; never shown again
    exchange: str = "pimhub.events"
    exchange_type: str = "topic"
    declare: bool = True
    mandatory: bool = True
    routing_key_prefix: str = ""
    event_types: str = ""
    classes: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    transform: str = ""
    version: str = ""  # the version this form was made from (an edit)

    @classmethod
    def of(cls, stored: StoredBroker, username: str) -> BrokerForm:
        c = stored.config
        return cls(
            name=stored.name,
            url=str(c.get("url", "")),
            username=username,
            exchange=str(c.get("exchange", "")),
            exchange_type=str(c.get("exchangeType", "topic")),
            declare=bool(c.get("declare", True)),
            mandatory=bool(c.get("mandatory", True)),
            routing_key_prefix=str(c.get("routingKeyPrefix") or ""),
            event_types=", ".join(c.get("eventTypes") or []),
            classes=list(c.get("classes") or []),
            sources=list(c.get("sources") or []),
            transform=str(c.get("transform") or ""),
            version=str(stored.version),
        )

    @classmethod
    def posted(cls, form: FormData) -> BrokerForm:
        return cls(
            name=_text(form, "name").strip(),
            url=_text(form, "url").strip(),
            username=_text(form, "username"),
            password=_text(form, "password"),
            exchange=_text(form, "exchange").strip(),
            exchange_type=_text(form, "exchangeType").strip() or "topic",
            declare=_text(form, "declare") == "yes",
            mandatory=_text(form, "mandatory") == "yes",
            routing_key_prefix=_text(form, "routingKeyPrefix").strip(),
            event_types=_text(form, "eventTypes"),
            classes=_many(form, "classes"),
            sources=_many(form, "sources"),
            transform=_text(form, "transform").strip(),
            version=_text(form, "version").strip(),
        )

    def body(self) -> dict[str, Any]:
        """The settings as the service takes them; empty optional inputs are left out (their
        defaults), so an edit that clears one clears it."""
        found: dict[str, Any] = {
            "name": self.name,
            "url": self.url,
            "exchange": self.exchange,
            "exchangeType": self.exchange_type,
            "declare": self.declare,
            "mandatory": self.mandatory,
            "eventTypes": [t for t in _SEPARATORS.split(self.event_types) if t],
            "classes": self.classes,
            "sources": self.sources,
        }
        if self.routing_key_prefix:
            found["routingKeyPrefix"] = self.routing_key_prefix
        if self.transform:
            found["transform"] = self.transform
        return found

    def credentials(self, *, required: bool, stored_username: str = "") -> dict[str, str] | None:
        """The credentials to store: always on create; on an edit only when a password is
        typed (a new user name alone cannot be checked against anything)."""
        if required or self.password:
            return {"username": self.username, "password": self.password}
        if self.username != stored_username:
            message = "type the password too to change the user"
            raise InvalidBroker(
                "the credentials are not valid", [FieldError("credentials.password", message)]
            )
        return None

    def differences(self, stored: BrokerForm) -> dict[str, str]:
        """The stored values, as the form shows them, of the inputs where they differ from
        this form's, keyed by input name."""
        pairs: dict[str, tuple[object, object, str]] = {
            "url": (self.url, stored.url, stored.url),
            "username": (self.username, stored.username, stored.username),
            "exchange": (self.exchange, stored.exchange, stored.exchange),
            "exchangeType": (self.exchange_type, stored.exchange_type, stored.exchange_type),
            "declare": (self.declare, stored.declare, "yes" if stored.declare else "no"),
            "mandatory": (self.mandatory, stored.mandatory, "yes" if stored.mandatory else "no"),
            "routingKeyPrefix": (
                self.routing_key_prefix,
                stored.routing_key_prefix,
                stored.routing_key_prefix or "(none)",
            ),
            "eventTypes": (
                _types(self.event_types),
                _types(stored.event_types),
                stored.event_types or "(every catalog event)",
            ),
            "classes": (
                sorted(self.classes),
                sorted(stored.classes),
                ", ".join(stored.classes) or "(every class)",
            ),
            "sources": (
                sorted(self.sources),
                sorted(stored.sources),
                ", ".join(stored.sources) or "(every source)",
            ),
            "transform": (self.transform, stored.transform, stored.transform or "(none)"),
        }
        return {name: shown for name, (mine, theirs, shown) in pairs.items() if mine != theirs}


def checked_name(raw: str) -> str:
    if not NAME_PATTERN.fullmatch(raw):
        raise BrokerNotFound(f"no broker '{raw[:40]!r}'")
    return raw


def errors_by_input(errors: dict[str, str]) -> dict[str, str]:
    """Field errors by the input they belong to (`eventTypes[2]` is `eventTypes`,
    `credentials.password` is `password`)."""
    found: dict[str, str] = {}
    for name, message in errors.items():
        found.setdefault(name.split("[", 1)[0].removeprefix("credentials."), message)
    return found


def _types(text: str) -> list[str]:
    return sorted(t for t in _SEPARATORS.split(text) if t)


def _text(form: FormData, name: str) -> str:
    value = text_field(form, name)
    if _SURROGATE.search(value):
        raise InvalidInput(
            "a lone surrogate (U+D800 to U+DFFF) is not a character",
            [FieldError(name, "holds a lone surrogate", "surrogate")],
        )
    return value


def _many(form: FormData, name: str) -> list[str]:
    values = [v for v in form.getlist(name) if isinstance(v, str) and v]
    if any("\x00" in v or _SURROGATE.search(v) for v in values):
        raise NulCharacter(
            "NUL characters are not allowed", [FieldError(name, "contains NUL or a surrogate")]
        )
    return values
