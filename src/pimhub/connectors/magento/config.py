"""A Magento connector's configuration: where the shop is, and how hub fields become Magento's.

Parsed from YAML or JSON (camelCase keys) and checked against the hub class it syncs, so that
every problem is reported at once, each named by its path (`attributes.colour`). Credentials
are not part of it: they are sealed at rest apart from it (see connectors/service.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as default_field
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from pimhub.catalog.classes import ClassDefinition
from pimhub.catalog.errors import FieldError, InvalidInput
from pimhub.catalog.fields import FieldDefinition
from pimhub.connectors.magento.config_media import DEFAULT_MEDIA as DEFAULT_MEDIA
from pimhub.connectors.magento.config_media import MediaField as MediaField
from pimhub.connectors.magento.config_media import media_fields
from pimhub.connectors.magento.config_rules import (
    ATTRIBUTE_CODE,
    DEFAULTS,
    bulk_rule,
    stock_rule,
    sync_rule,
)
from pimhub.connectors.magento.config_rules import BulkRule as BulkRule
from pimhub.connectors.magento.config_rules import StockMode as StockMode
from pimhub.connectors.magento.config_rules import StockRule as StockRule
from pimhub.connectors.magento.config_rules import SyncRule as SyncRule
from pimhub.connectors.magento.config_rules import option as _option
from pimhub.connectors.magento.config_rules import unknown as _unknown
from pimhub.connectors.magento.config_rules import whole as _whole

# A delivery's attempt must end within its lease (60 s by default): a longer timeout would
# let one unanswering shop hold a worker's whole batch.
MAX_TIMEOUT = 30.0
CURRENCY = re.compile(r"[A-Z]{3}")
NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,29}")
STORE_CODE = re.compile(r"[a-z][a-z0-9_]{0,31}")
# Product interface properties that travel at the top level of Magento's product body; every
# other attribute goes into custom_attributes.
TOP_LEVEL = frozenset({"name", "price", "weight", "status", "visibility"})
# Hub field types a Magento attribute can take, and the ones that are never sent as attributes.
SENDABLE = frozenset(
    {
        "text",
        "textarea",
        "rich_text",
        "number",
        "money",
        "boolean",
        "date",
        "datetime",
        "select",
        "multiselect",
        "quantity",
    }
)
DEFAULT_ATTRIBUTES = {
    "name": "name",
    "description": "description",
    "shortDescription": "short_description",
    "price": "price",
    "weight": "weight",
    "ean": "ean",
    "color": "color",
    "size": "size",
    "material": "material",
}
KNOWN_KEYS = frozenset(
    {
        "name",
        "kind",
        "baseUrl",
        "auth",
        "class",
        "defaultLanguage",
        "stores",
        "websites",
        "currency",
        "attributeSet",
        "attributes",
        "categories",
        "stock",
        "deletes",
        "sync",
        "bulk",
        "media",
        "rateLimit",
        "timeout",
        "concurrency",
    }
)


class InvalidConnector(InvalidInput):
    code = "invalid-connector"
    title = "Invalid connector configuration"


class DeletePolicy(StrEnum):
    DISABLE = "disable"  # status 2 in Magento: the product stays, the shop hides it
    DELETE = "delete"
    LEAVE = "leave"


@dataclass(frozen=True, slots=True)
class AttributeMapping:
    """One hub field sent as one Magento attribute."""

    field: str
    code: str
    kind: str  # the hub field's type
    localized: bool
    own: bool = True  # False: read by pull, never sent (nor compared by reconcile)
    unit: str | None = None  # quantities: the unit Magento's number is in
    family: str | None = None  # quantities: the family of units the hub field belongs to
    # Select options known by id (hub option code -> Magento option id); others are found
    # by admin label (which the connector sets to the option code) or created.
    options: Mapping[str, int] = default_field(default_factory=dict)

    @property
    def top_level(self) -> bool:
        return self.code in TOP_LEVEL

    @property
    def has_options(self) -> bool:
        return self.kind in ("select", "multiselect")


@dataclass(frozen=True, slots=True)
class CategoryMapping:
    fields: tuple[str, ...] = ()
    ids: Mapping[str, int] = default_field(default_factory=dict)  # hub category key -> Magento id
    root: int = 2
    create: bool = True
    own: bool = True


@dataclass(frozen=True, slots=True)
class AttributeSetRule:
    fixed: int = 4
    field: str | None = None
    ids: Mapping[str, int] = default_field(default_factory=dict)  # field value -> attribute set id

    def resolve(self, values: Mapping[str, Any]) -> int:
        if self.field is None:
            return self.fixed
        return self.ids.get(str(values.get(self.field)), self.fixed)


@dataclass(frozen=True, slots=True)
class MagentoConfig:
    name: str
    base_url: str
    class_name: str = "Product"
    bearer: bool = False
    default_language: str = "en"
    stores: Mapping[str, str] = default_field(default_factory=dict)  # hub language -> store code
    websites: tuple[int, ...] = (1,)
    currency: str = "EUR"
    attribute_set: AttributeSetRule = default_field(default_factory=AttributeSetRule)
    attributes: tuple[AttributeMapping, ...] = ()
    categories: CategoryMapping = default_field(default_factory=CategoryMapping)
    stock: StockRule = default_field(default_factory=StockRule)
    deletes: DeletePolicy = DeletePolicy.DISABLE
    sync: SyncRule = default_field(default_factory=SyncRule)
    bulk: BulkRule = default_field(default_factory=BulkRule)
    media: tuple[MediaField, ...] = ()  # empty: images are not sent
    rate_limit: float | None = None
    timeout: float = 30.0
    concurrency: int = 8
    source: Mapping[str, Any] = default_field(default_factory=dict)  # as given, for show and export

    def owned(self) -> tuple[AttributeMapping, ...]:
        return tuple(a for a in self.attributes if a.own)

    def attribute(self, code: str) -> AttributeMapping | None:
        return next((a for a in self.attributes if a.code == code), None)


def parse_config(body: Any, definition: ClassDefinition | None) -> MagentoConfig:
    """A MagentoConfig from a mapping, checked against `definition` (the synced class) when
    given; raises InvalidConnector listing every problem by path."""
    if not isinstance(body, Mapping):
        raise InvalidConnector("the connector configuration must be a mapping")
    errors: list[FieldError] = []
    unknown = sorted(set(body) - KNOWN_KEYS)
    errors += [FieldError(key, "unknown setting", "unknown-field") for key in unknown]
    fields = {f.name: f for f in definition.fields} if definition else None
    name = _name(body.get("name"), errors)
    if body.get("kind", "magento") != "magento":
        errors.append(FieldError("kind", "must be 'magento'", "option"))
    config = MagentoConfig(
        name=name,
        base_url=_base_url(body.get("baseUrl"), errors),
        class_name=_string(body, "class", "Product", errors),
        bearer=_auth(body.get("auth", "oauth"), errors),
        default_language=_string(body, "defaultLanguage", "en", errors),
        stores=_stores(body.get("stores", {}), errors),
        websites=_websites(body.get("websites", [1]), errors),
        currency=_currency(body.get("currency", "EUR"), errors),
        attribute_set=_attribute_set(body.get("attributeSet", {}), fields, errors),
        attributes=_attributes(body.get("attributes", DEFAULTS), fields, errors),
        categories=_categories(body.get("categories", {}), fields, errors),
        stock=stock_rule(body.get("stock", {}), fields, errors),
        deletes=_option(body, "deletes", DeletePolicy, DeletePolicy.DISABLE, errors),
        sync=sync_rule(body.get("sync", {}), errors),
        bulk=bulk_rule(body.get("bulk", {}), errors),
        media=media_fields(body.get("media", DEFAULTS), fields, errors),
        rate_limit=_positive(body, "rateLimit", None, errors, low=0.1, high=10_000),
        timeout=_positive(body, "timeout", 30.0, errors, low=1, high=MAX_TIMEOUT) or 30.0,
        concurrency=int(_positive(body, "concurrency", 8, errors, whole=True, high=64) or 8),
        source=dict(body),
    )
    if definition is not None and definition.name != config.class_name:
        errors.append(FieldError("class", f"the class given is '{definition.name}'", "option"))
    if errors:
        raise InvalidConnector("the connector configuration is not valid", errors)
    return config


def _name(value: Any, errors: list[FieldError]) -> str:
    if not isinstance(value, str) or not NAME_PATTERN.fullmatch(value):
        errors.append(
            FieldError("name", "must be 1-30 lowercase letters, digits, '-' or '_'", "format")
        )
        return ""
    return value


def _base_url(value: Any, errors: list[FieldError]) -> str:
    problem = _url_problem(value)
    if problem is not None:
        code = "required" if not value else "format"
        errors.append(FieldError("baseUrl", problem, code))
        return value.rstrip("/") if isinstance(value, str) else ""
    return str(value).rstrip("/")


def _url_problem(value: Any) -> str | None:
    if not isinstance(value, str) or not value:
        return "is required: the shop's URL"
    if len(value) > 2048:
        return "is longer than 2048 characters"
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in value):
        return "must not contain spaces or control characters"
    try:
        parts = urlsplit(value)
        port = parts.port  # raises for a port that is not a number from 0 to 65535
    except ValueError as exc:
        return f"is not a valid URL ({exc})"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an absolute http(s) URL"
    if parts.username or parts.password or "?" in value or "#" in value:
        return "must not carry credentials, a query or a fragment"
    if port == 0:
        return "must not name port 0"
    if parts.path.rstrip("/").endswith("/rest"):
        return "is the shop's address, without /rest (the connector adds /rest/<store>/V1/...)"
    return None


def _string(body: Mapping[str, Any], key: str, default: str, errors: list[FieldError]) -> str:
    value = body.get(key, default)
    if not isinstance(value, str) or not value or len(value) > 64:
        errors.append(FieldError(key, "must be a non-empty string", "type"))
        return default
    return value


def _currency(value: Any, errors: list[FieldError]) -> str:
    if not isinstance(value, str) or not CURRENCY.fullmatch(value) or value == "XXX":
        errors.append(FieldError("currency", "must be an ISO 4217 code such as EUR", "format"))
        return "EUR"
    return value


def _auth(value: Any, errors: list[FieldError]) -> bool:
    if value not in ("oauth", "bearer"):
        errors.append(FieldError("auth", "must be 'oauth' (OAuth 1.0a) or 'bearer'", "option"))
    return bool(value == "bearer")


def _stores(value: Any, errors: list[FieldError]) -> dict[str, str]:
    if not isinstance(value, Mapping):
        errors.append(FieldError("stores", "must map hub languages to store codes", "type"))
        return {}
    out: dict[str, str] = {}
    for language, code in value.items():
        if not isinstance(code, str) or not STORE_CODE.fullmatch(code) or code == "all":
            message = "must be a Magento store code"
            errors.append(FieldError(f"stores.{language}", message, "format"))
        else:
            out[str(language)] = code
    return out


def _websites(value: Any, errors: list[FieldError]) -> tuple[int, ...]:
    if not isinstance(value, list) or not value or not all(_whole(v) and v > 0 for v in value):
        errors.append(FieldError("websites", "must be a non-empty list of website ids", "type"))
        return (1,)
    return tuple(value)


def _attribute_set(
    value: Any, fields: Mapping[str, FieldDefinition] | None, errors: list[FieldError]
) -> AttributeSetRule:
    if _whole(value):
        return AttributeSetRule(fixed=value)
    if not isinstance(value, Mapping):
        errors.append(FieldError("attributeSet", "must be an id or {field, map, default}", "type"))
        return AttributeSetRule()
    _unknown(value, frozenset({"default", "fixed", "field", "map"}), "attributeSet", errors)
    fixed = value.get("default", value.get("fixed", 4))
    if not _whole(fixed):
        errors.append(FieldError("attributeSet.default", "must be an attribute set id", "type"))
        fixed = 4
    source = value.get("field")
    if source is not None and fields is not None and source not in fields:
        errors.append(FieldError("attributeSet.field", f"the class has no field '{source}'"))
    ids = value.get("map", {})
    if not isinstance(ids, Mapping) or not all(_whole(v) for v in ids.values()):
        errors.append(FieldError("attributeSet.map", "must map values to set ids", "type"))
        ids = {}
    return AttributeSetRule(fixed=fixed, field=source, ids={str(k): v for k, v in ids.items()})


def _attributes(
    value: Any, fields: Mapping[str, FieldDefinition] | None, errors: list[FieldError]
) -> tuple[AttributeMapping, ...]:
    if value is DEFAULTS:
        value = (
            {k: v for k, v in DEFAULT_ATTRIBUTES.items() if k in fields}
            if fields is not None
            else DEFAULT_ATTRIBUTES
        )
    if not isinstance(value, Mapping):
        errors.append(FieldError("attributes", "must map hub fields to attribute codes", "type"))
        return ()
    out: list[AttributeMapping] = []
    codes: dict[str, str] = {}
    for name, spec in value.items():
        path = f"attributes.{name}"
        entry = {"code": spec} if isinstance(spec, str) else spec
        if not isinstance(entry, Mapping) or not isinstance(entry.get("code"), str):
            errors.append(FieldError(path, "must be an attribute code or {code, own, unit}"))
            continue
        _unknown(entry, frozenset({"code", "own", "unit", "options"}), path, errors)
        code = entry["code"]
        if not ATTRIBUTE_CODE.fullmatch(code):
            errors.append(FieldError(f"{path}.code", f"'{code}' is not an attribute code"))
            continue
        if code in codes:
            errors.append(FieldError(f"{path}.code", f"'{code}' is mapped from '{codes[code]}'"))
            continue
        codes[code] = str(name)
        definition = fields.get(str(name)) if fields is not None else None
        if fields is not None and definition is None:
            errors.append(FieldError(path, f"the class has no field '{name}'", "unknown-field"))
            continue
        kind = definition.type.value if definition else "text"
        if kind not in SENDABLE:
            errors.append(FieldError(path, f"a {kind} field cannot become an attribute", "type"))
            continue
        own = entry.get("own", True)
        if not isinstance(own, bool):
            errors.append(FieldError(f"{path}.own", "must be true or false", "type"))
            own = True
        unit = entry.get("unit", definition.unit if definition else None)
        options = entry.get("options", {})
        if not isinstance(options, Mapping) or not all(
            _whole(v) and v > 0 for v in options.values()
        ):
            errors.append(FieldError(f"{path}.options", "must map option codes to ids", "type"))
            options = {}
        elif options and kind not in ("select", "multiselect"):
            errors.append(FieldError(f"{path}.options", "only select fields have options"))
        elif definition is not None and (
            extra := sorted(set(map(str, options)) - set(definition.options))
        ):
            errors.append(FieldError(f"{path}.options", f"the field has no option {extra[0]!r}"))
        out.append(
            AttributeMapping(
                field=str(name),
                code=code,
                kind=kind,
                localized=bool(definition and definition.localized),
                own=own,
                unit=unit if kind == "quantity" else None,
                family=definition.family if definition and kind == "quantity" else None,
                options={str(k): v for k, v in options.items()},
            )
        )
    return tuple(out)


def _categories(
    value: Any, fields: Mapping[str, FieldDefinition] | None, errors: list[FieldError]
) -> CategoryMapping:
    if not isinstance(value, Mapping):
        errors.append(FieldError("categories", "must be a mapping", "type"))
        return CategoryMapping()
    allowed = frozenset({"fields", "map", "root", "create", "own"})
    _unknown(value, allowed, "categories", errors)
    names = value.get("fields", ["categories", "category"])
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        errors.append(FieldError("categories.fields", "must be a list of field names", "type"))
        names = []
    if fields is not None:
        kept = []
        for i, name in enumerate(names):
            found = fields.get(name)
            if found is None and "fields" in value:
                errors.append(FieldError(f"categories.fields[{i}]", f"no field '{name}'"))
            elif found is not None and found.type.value != "relation":
                errors.append(FieldError(f"categories.fields[{i}]", "must be a relation field"))
            elif found is not None:
                kept.append(name)
        names = kept
    ids = value.get("map", {})
    if not isinstance(ids, Mapping) or not all(_whole(v) and v > 0 for v in ids.values()):
        errors.append(FieldError("categories.map", "must map category keys to ids", "type"))
        ids = {}
    root = value.get("root", 2)
    if not _whole(root) or root < 1:
        errors.append(FieldError("categories.root", "must be a category id", "type"))
        root = 2
    flags = {k: value.get(k, True) for k in ("create", "own")}
    for key, flag in flags.items():
        if not isinstance(flag, bool):
            errors.append(FieldError(f"categories.{key}", "must be true or false", "type"))
    return CategoryMapping(
        fields=tuple(names),
        ids={str(k): v for k, v in ids.items()},
        root=root,
        create=flags["create"] is not False,
        own=flags["own"] is not False,
    )


def _positive(
    body: Mapping[str, Any],
    key: str,
    default: float | None,
    errors: list[FieldError],
    *,
    whole: bool = False,
    low: float = 1,
    high: float = 10_000,
) -> float | None:
    value = body.get(key, default)
    if value is None:
        return None
    number_ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not number_ok or not low <= value <= high or (whole and not _whole(value)):
        kind = "a whole number" if whole else "a number"
        errors.append(FieldError(key, f"must be {kind} from {low:g} to {high:g}", "range"))
        return default
    return float(value)
