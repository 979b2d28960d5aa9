"""A stateful contract double of Magento 2.4.8's admin REST API, for the catalog sync.

It keeps its data in Magento's shapes (products by SKU with entity ids, global values and
per-store-view overrides, custom attributes, MSI source items and the legacy stock item,
categories, attributes with options, configurable links, media gallery entries (see
double_media.py), asynchronous bulks), checks OAuth 1.0a
signatures on every request and validates every request body against Adobe's published schema.
A body that does not validate is answered 400 and recorded in `violations`.

State, observation and failure injection share one lock: the app may run on another thread
(see server.py) while a test reads or injects.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import re
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from pimhub.connectors.magento.client import MagentoCredentials

from .double_media import MediaGallery
from .oauth_check import verify_oauth_header
from .schema import body_validator

DEFAULT_CREDENTIALS = MagentoCredentials(
    consumer_key="double-consumer-key",
    consumer_secret="double-consumer-secret",
    access_token="double-access-token",
    access_token_secret="double-access-token-secret",
)

NOT_FOUND_PRODUCT = (
    "The product that was requested doesn't exist. Verify the product and try again."
)
NO_ROUTE = "Request does not match any route."
UNAUTHORIZED = "The consumer isn't authorized to access %resources."
EMPTY_ATTRIBUTE = 'The "%1" attribute value is empty. Set the attribute and try again.'
DUPLICATE_OPTION = 'Admin store attribute option label "%1" is already exists.'
NO_OPTIONS = "Parent product does not have configurable product options"
ALREADY_ATTACHED = "Product has been already attached"
CHILD_LACKS_VALUE = "Child product does not have attribute value %1"
SAME_VALUES = 'Products "%1" and "%2" have the same set of attribute values.'
LACKS_ATTRIBUTE = 'Product with id "%1" does not contain required attribute "%2".'
NO_SUCH_ENTITY = "No such entity with %fieldName = %fieldValue"
NO_ATTRIBUTE = (
    'The attribute with a "%1" attributeCode doesn\'t exist. Verify the attribute and try again.'
)
MAINTENANCE_PAGE = (
    "<!doctype html><html><head><title>Service Temporarily Unavailable</title></head>"
    "<body><h1>Service Temporarily Unavailable</h1><p>The server is temporarily unable to "
    "service your request due to maintenance downtime.</p></body></html>"
)

# Top-level EAV attributes of the product interface; everything else is a custom attribute.
TOP_LEVEL_ATTRIBUTES = ("name", "price", "status", "visibility", "weight")
# Keys of the product interface that are not EAV values; they are saved globally.
ENTITY_KEYS = ("media_gallery_entries", "product_links", "options", "tier_prices")
TOPIC_POST = "async.magento.catalog.api.productrepositoryinterface.save.post"
TOPIC_PUT = "async.magento.catalog.api.productrepositoryinterface.save.put"
DEFAULT_FAILURE_MESSAGES = {
    2: "SQLSTATE[40001]: Serialization failure: 1213 Deadlock found when trying to get lock; "
    "try restarting transaction",
    3: "The product was unable to be saved. Please try again.",
    5: "The operation was rejected.",
}
SUCCESS_MESSAGE = (
    "Service execution success Magento\\Catalog\\Model\\ProductRepository\\Interceptor::save"
)
OPEN = 4
_ROW_PRODUCT = "\x00product"

_CAMEL = {
    "filterGroups": "filter_groups",
    "conditionType": "condition_type",
    "sortOrders": "sort_orders",
    "pageSize": "page_size",
    "currentPage": "current_page",
}


class MagentoError(Exception):
    """Answered as Magento's error body: {"message": "... %1 ...", "parameters": [...]}."""

    def __init__(
        self,
        status: int,
        message: str,
        parameters: Any = None,
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.parameters = parameters
        self.errors = errors

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"message": self.message}
        if self.errors is not None:
            body["errors"] = self.errors
        if self.parameters is not None:
            body["parameters"] = self.parameters
        return body

    def rendered(self) -> str:
        """The message with its parameters filled in, as Magento shows it in bulk results."""
        text = self.message
        if isinstance(self.parameters, list):
            for index, value in enumerate(self.parameters, start=1):
                text = text.replace(f"%{index}", str(value))
        elif isinstance(self.parameters, dict):
            for key, value in self.parameters.items():
                text = text.replace(f"%{key}", str(value))
        return text


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    method: str
    store: str | None
    path: str
    query: dict[str, str]
    body: Any
    status: int


@dataclass(slots=True)
class _Injection:
    remaining: int
    status: int
    path_contains: str | None
    retry_after: float | None
    body: Any


@dataclass(slots=True)
class _Attribute:
    attribute_id: int
    code: str
    frontend_input: str
    label: str
    scope: str  # "global", "website" or "store"
    options: list[dict[str, Any]] = field(default_factory=list)

    @property
    def has_options(self) -> bool:
        return self.frontend_input in ("select", "multiselect")


@dataclass(slots=True)
class _Product:
    entity_id: int
    sku: str
    type_id: str
    attribute_set_id: int
    created_at: str
    updated_at: str
    values: dict[str, Any] = field(default_factory=dict)
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    entity: dict[str, Any] = field(default_factory=dict)
    website_ids: list[int] = field(default_factory=lambda: [1])
    category_links: list[dict[str, Any]] = field(default_factory=list)
    configurable_options: list[dict[str, Any]] = field(default_factory=list)
    links: list[int] = field(default_factory=list)
    stock: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class _Operation:
    id: int
    topic: str
    sku: str
    item: dict[str, Any]
    status: int = OPEN
    result_message: str | None = None
    error_code: int | None = None


@dataclass(slots=True)
class _Bulk:
    uuid: str
    store: str
    description: str
    start_time: str
    operations: list[_Operation]


Handler = Callable[["_Call"], Awaitable[Any]]


@dataclass(slots=True)
class _Call:
    method: str
    store: str
    params: dict[str, str]
    query: dict[str, str]
    body: Any


@dataclass(frozen=True, slots=True)
class _Route:
    method: str
    pattern: re.Pattern[str]
    schema_route: str | None  # the admin schema's path template; None for async routes
    item_schema: tuple[str, str] | None  # (method, route) each item of an async bulk body obeys
    handler: str
    resource: str


def _route(
    method: str,
    template: str,
    handler: str,
    resource: str,
    *,
    schema: bool = True,
    item_schema: tuple[str, str] | None = None,
) -> _Route:
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
    schema_route = None if template.startswith("/async/") or not schema else template
    return _Route(method, re.compile(f"^{regex}$"), schema_route, item_schema, handler, resource)


_PRODUCTS = "Magento_Catalog::products"
_CATEGORIES = "Magento_Catalog::categories"
_ATTRIBUTES = "Magento_Catalog::attributes_attributes"
_SOURCES = "Magento_InventoryApi::source"
_BULK = "Magento_Logging::system_magento_logging_bulk_operations"
ROUTES = (
    _route("GET", "/V1/products", "list_products", _PRODUCTS),
    _route("POST", "/V1/products", "post_product", _PRODUCTS),
    _route("GET", "/V1/products/attributes/{attributeCode}", "get_attribute", _ATTRIBUTES),
    _route("GET", "/V1/products/attributes/{attributeCode}/options", "get_options", _ATTRIBUTES),
    _route("POST", "/V1/products/attributes/{attributeCode}/options", "add_option", _ATTRIBUTES),
    _route("GET", "/V1/products/{sku}", "get_product", _PRODUCTS),
    _route("PUT", "/V1/products/{sku}", "put_product", _PRODUCTS),
    _route("DELETE", "/V1/products/{sku}", "delete_product", _PRODUCTS),
    _route("GET", "/V1/products/{sku}/media", "list_media", _PRODUCTS),
    _route("POST", "/V1/products/{sku}/media", "add_media", _PRODUCTS),
    _route("GET", "/V1/products/{sku}/media/{entryId}", "get_media", _PRODUCTS),
    _route("PUT", "/V1/products/{sku}/media/{entryId}", "put_media", _PRODUCTS),
    _route("DELETE", "/V1/products/{sku}/media/{entryId}", "delete_media", _PRODUCTS),
    _route("PUT", "/V1/products/{productSku}/stockItems/{itemId}", "put_stock_item", _PRODUCTS),
    _route("GET", "/V1/inventory/source-items", "list_source_items", _SOURCES),
    _route("POST", "/V1/inventory/source-items", "save_source_items", _SOURCES),
    _route("POST", "/V1/categories", "save_category", _CATEGORIES),
    _route("GET", "/V1/categories/list", "list_categories", _CATEGORIES),
    _route("GET", "/V1/categories/{categoryId}", "get_category", _CATEGORIES),
    _route("POST", "/V1/configurable-products/{sku}/options", "add_configurable_option", _PRODUCTS),
    _route("POST", "/V1/configurable-products/{sku}/child", "add_child", _PRODUCTS),
    _route("GET", "/V1/configurable-products/{sku}/children", "get_children", _PRODUCTS),
    _route(
        "DELETE", "/V1/configurable-products/{sku}/children/{childSku}", "remove_child", _PRODUCTS
    ),
    _route("GET", "/V1/bulk/{bulkUuid}/detailed-status", "bulk_detailed", _BULK),
    _route("GET", "/V1/bulk/{bulkUuid}/status", "bulk_status", _BULK),
    _route("GET", "/V1/bulk/{bulkUuid}/operation-status/{status}", "bulk_count", _BULK),
    _route(
        "POST",
        "/async/bulk/V1/products",
        "bulk_post",
        _PRODUCTS,
        item_schema=("POST", "/V1/products"),
    ),
    _route(
        "PUT",
        "/async/bulk/V1/products/bySku",
        "bulk_put",
        _PRODUCTS,
        item_schema=("PUT", "/V1/products/{sku}"),
    ),
)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _like(pattern: str) -> re.Pattern[str]:
    parts = (".*" if char == "%" else "." if char == "_" else re.escape(char) for char in pattern)
    return re.compile("^" + "".join(parts) + "$", re.IGNORECASE | re.DOTALL)


def _matches(actual: Any, condition: str, raw: str) -> bool:
    if condition in ("null", "notnull"):
        return (actual is None) == (condition == "null")
    if condition in ("in", "nin"):
        wanted = [part.strip() for part in raw.split(",")]
        found = actual is not None and (
            _text(actual) in wanted
            or (_number(actual) is not None and _number(actual) in map(_number, wanted))
        )
        return found if condition == "in" else not found
    if condition == "like":
        return actual is not None and bool(_like(raw).match(_text(actual)))
    if condition == "nlike":
        return actual is None or not _like(raw).match(_text(actual))
    if actual is None:
        return condition == "neq"
    left: Any = _text(actual)
    right: Any = raw
    if _number(actual) is not None and not isinstance(actual, str) and _number(raw) is not None:
        left, right = _number(actual), _number(raw)
    comparisons: dict[str, Callable[[Any, Any], bool]] = {
        "eq": lambda a, b: a == b,
        "neq": lambda a, b: a != b,
        "gt": lambda a, b: a > b,
        "gteq": lambda a, b: a >= b,
        "lt": lambda a, b: a < b,
        "lteq": lambda a, b: a <= b,
    }
    compare = comparisons.get(condition)
    if compare is None:
        raise MagentoError(400, 'Invalid condition type "%1".', [condition])
    return compare(left, right)


def parse_search_criteria(query: dict[str, str]) -> dict[str, Any]:
    """Magento's bracket form (both spellings) -> the search-criteria interface's shape."""
    tree: dict[str, Any] = {}
    for key, value in query.items():
        if not key.startswith("searchCriteria"):
            continue
        parts = [_CAMEL.get(part, part) for part in re.findall(r"\[([^\]]*)\]", key)]
        node = tree
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        if parts:
            node[parts[-1]] = value

    def ordered(node: Any) -> list[Any]:
        if not isinstance(node, dict):
            return []
        return [node[key] for key in sorted(node, key=lambda k: int(k) if k.isdigit() else 0)]

    criteria: dict[str, Any] = {"filter_groups": []}
    for group in ordered(tree.get("filter_groups")):
        filters = []
        for raw in ordered(group.get("filters") if isinstance(group, dict) else None):
            if isinstance(raw, dict) and "field" in raw:
                filters.append(
                    {
                        "field": raw["field"],
                        "value": raw.get("value", ""),
                        "condition_type": raw.get("condition_type", "eq") or "eq",
                    }
                )
        criteria["filter_groups"].append({"filters": filters})
    sort_orders = [
        {"field": raw["field"], "direction": str(raw.get("direction", "ASC")).upper()}
        for raw in ordered(tree.get("sort_orders"))
        if isinstance(raw, dict) and "field" in raw
    ]
    if sort_orders:
        criteria["sort_orders"] = sort_orders
    for key in ("page_size", "current_page"):
        if key in tree and str(tree[key]).strip():
            try:
                criteria[key] = int(tree[key])
            except ValueError as exc:
                raise MagentoError(
                    400,
                    'Invalid value of "%1" provided for the %2 field.',
                    [
                        tree[key],
                        key,
                    ],
                ) from exc
    return criteria


def search(
    rows: list[dict[str, Any]], criteria: dict[str, Any], *, clamp_page: bool = True
) -> tuple[list[dict[str, Any]], int]:
    """Filter (groups AND, filters in a group OR), sort, then page as Magento does: a page past
    the end answers the last page again (Magento's collections clamp the current page)."""
    selected = [
        row
        for row in rows
        if all(
            any(
                _matches(row.get(f["field"]), f["condition_type"], _text(f["value"]))
                for f in group["filters"]
            )
            for group in criteria["filter_groups"]
            if group["filters"]
        )
    ]
    for order in reversed(criteria.get("sort_orders", [])):
        name = order["field"]

        def key(row: dict[str, Any], name: str = name) -> tuple[int, Any]:
            value = row.get(name)
            number = _number(value) if not isinstance(value, str) else None
            return (0, number) if number is not None else (1, _text(value or ""))

        selected.sort(key=key, reverse=order["direction"] == "DESC")
    total = len(selected)
    size = criteria.get("page_size")
    if not size:
        return selected, total
    page = max(1, criteria.get("current_page") or 1)
    last = max(1, -(-total // size))
    if page > last and clamp_page:
        page = last
    start = (page - 1) * size
    return selected[start : start + size], total


def _stock_item(product: _Product) -> dict[str, Any]:
    qty = float(product.stock.get("qty", 0))
    return {
        "item_id": product.entity_id,
        "product_id": product.entity_id,
        "stock_id": 1,
        "qty": qty,
        "is_in_stock": bool(product.stock.get("is_in_stock", False)),
        "is_qty_decimal": False,
        "show_default_notification_message": False,
        "use_config_min_qty": True,
        "min_qty": 0,
        "use_config_min_sale_qty": 1,
        "min_sale_qty": 1,
        "use_config_max_sale_qty": True,
        "max_sale_qty": 10000,
        "use_config_backorders": True,
        "backorders": 0,
        "use_config_notify_stock_qty": True,
        "notify_stock_qty": 1,
        "use_config_qty_increments": True,
        "qty_increments": 0,
        "use_config_enable_qty_inc": True,
        "enable_qty_increments": False,
        "use_config_manage_stock": True,
        "manage_stock": True,
        "low_stock_date": None,
        "is_decimal_divided": False,
        "stock_status_changed_auto": 0,
    }


class MagentoDouble(MediaGallery):
    """Magento 2.4.8 for a catalog sync, as an ASGI app (`await double(scope, receive, send)`)."""

    def __init__(
        self,
        validate: bool = True,
        *,
        stores: dict[str, int] | None = None,
        credentials: MagentoCredentials = DEFAULT_CREDENTIALS,
        allow_bearer: bool = False,
        check_auth: bool = True,
        bulk_delay: float = 0.05,
        clock: Callable[[], datetime] = _utc_now,
        max_timestamp_skew: float | None = 600.0,
        unique_url_keys: bool = True,
        record_requests: bool = True,
    ) -> None:
        self.validate = validate
        self.credentials = credentials
        self.allow_bearer = allow_bearer
        self.check_auth = check_auth
        self.bulk_delay = bulk_delay
        self.clock = clock
        self.max_timestamp_skew = max_timestamp_skew
        # Magento always has the "default" store view
        self.stores: dict[str, int] = {"default": 1, **(stores or {})}
        self.unique_url_keys = unique_url_keys
        self.record_requests = record_requests
        # store code -> store view id: "default" is 1, the others follow in order
        self.store_ids: dict[str, int] = {"all": 0}
        next_store = itertools.count(2)
        for code in self.stores:
            self.store_ids[code] = 1 if code == "default" else next(next_store)
        self.violations: list[str] = []
        self.requests: list[RecordedRequest] = []
        self._lock = threading.RLock()
        self._nonces: set[str] = set()
        self._injections: list[_Injection] = []
        self._delay = 0.0
        self._down = False
        self._products: dict[str, _Product] = {}
        self._by_id: dict[int, str] = {}
        self._entity_ids = itertools.count(1)
        self._writes: dict[str, int] = {}
        self._url_keys: dict[str, str] = {}  # URL key (any store) -> SKU
        self._source_items: dict[tuple[str, str], dict[str, Any]] = {}
        self._sources = {"default"}
        self._categories: dict[int, dict[str, Any]] = {}
        self._category_ids = itertools.count(3)
        self._attributes: dict[str, _Attribute] = {}
        self._option_ids = itertools.count(4)
        self._configurable_option_ids = itertools.count(1)
        self._bulks: dict[str, _Bulk] = {}
        self._outcomes: dict[str, list[tuple[int, str | None]]] = {}
        self._held: list[tuple[_Bulk, _Operation]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._pending: set[str] = set()  # bulks whose operations have not been processed
        self._media_init()
        self._seed()

    # ------------------------------------------------------------------ seed data
    def _seed(self) -> None:
        stamp = self._now()
        self._categories[1] = self._category_row(1, 0, "Root Catalog", "1", 0, stamp)
        self._categories[2] = self._category_row(2, 1, "Default Category", "1/2", 1, stamp)
        plain = [
            (73, "name", "text", "Product Name", "store"),
            (75, "description", "textarea", "Description", "store"),
            (76, "short_description", "textarea", "Short Description", "store"),
            (77, "price", "price", "Price", "global"),
            (82, "weight", "weight", "Weight", "global"),
            (97, "status", "boolean", "Enable Product", "website"),
            (99, "visibility", "select", "Visibility", "store"),
            (121, "url_key", "text", "URL Key", "store"),
            (136, "tax_class_id", "select", "Tax Class", "website"),
            (150, "ean", "text", "EAN", "store"),
        ]
        for attribute_id, code, kind, label, scope in plain:
            self.add_attribute(code, kind, label=label, scope=scope, attribute_id=attribute_id)
        colors = ("Black", "Blue", "Red")
        self.add_attribute("color", "select", options=colors, scope="global", attribute_id=93)
        self.add_attribute(
            "size", "select", options=("S", "M", "L"), scope="global", attribute_id=144
        )
        self.add_attribute("material", "multiselect", scope="global", attribute_id=145)

    def add_attribute(
        self,
        code: str,
        frontend_input: str = "text",
        *,
        label: str | None = None,
        scope: str = "store",
        options: tuple[str, ...] = (),
        attribute_id: int | None = None,
    ) -> int:
        """Define a product attribute (as an admin would); answers its attribute id."""
        with self._lock:
            if attribute_id is None:
                attribute_id = (
                    max((a.attribute_id for a in self._attributes.values()), default=200) + 1
                )
            attribute = _Attribute(
                attribute_id, code, frontend_input, label or code.replace("_", " ").title(), scope
            )
            self._attributes[code] = attribute
            for option_label in options:
                attribute.options.append(
                    {"value": next(self._option_ids), "label": option_label, "store_labels": {}}
                )
            return attribute_id

    def add_source(self, source_code: str) -> None:
        """An MSI source besides "default" (as an admin would create it)."""
        with self._lock:
            self._sources.add(source_code)

    def _now(self) -> str:
        return self.clock().astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")

    # ------------------------------------------------------------------ failure injection
    def fail_next(
        self,
        count: int,
        status: int = 503,
        *,
        path_contains: str | None = None,
        retry_after: float | None = None,
        body: Any = None,
    ) -> None:
        """Answer the next `count` requests (whose path contains `path_contains`) with `status`;
        `body` is a dict (JSON) or a str (sent as text/html); Retry-After when given."""
        with self._lock:
            self._injections.append(_Injection(count, status, path_contains, retry_after, body))

    def delay(self, seconds: float) -> None:
        """Hold every request `seconds` before answering (0 to stop)."""
        with self._lock:
            self._delay = seconds

    def down(self) -> None:
        """Answer every request 503 with Magento's maintenance page until `up()`."""
        with self._lock:
            self._down = True

    def up(self) -> None:
        with self._lock:
            self._down = False

    def bulk_outcome(self, sku: str, *statuses: int, message: str | None = None) -> None:
        """That SKU's next bulk operations end in `statuses` in turn (1 complete, 2 retriable,
        3 failed, 4 stays open until `release_open()`, 5 rejected); then normal processing."""
        with self._lock:
            queue = self._outcomes.setdefault(sku, [])
            queue.extend((status, message) for status in statuses)

    def release_open(self) -> None:
        """Process the operations `bulk_outcome(..., 4)` held open."""
        with self._lock:
            held, self._held = self._held, []
            for bulk, operation in held:
                self._run_operation(bulk, operation, forced=None)

    # ------------------------------------------------------------------ observation
    def product(self, sku: str, store: str | None = None) -> dict[str, Any] | None:
        """The product in Magento's shape; `store` applies that store view's overrides."""
        with self._lock:
            found = self._products.get(sku)
            return None if found is None else self._render(found, store or "all")

    def store_overrides(self, sku: str, store: str) -> dict[str, Any]:
        with self._lock:
            found = self._products.get(sku)
            return dict(found.overrides.get(store, {})) if found else {}

    def stock(self, sku: str, source: str = "default") -> dict[str, Any] | None:
        with self._lock:
            item = self._source_items.get((sku, source))
            return dict(item) if item else None

    def children(self, sku: str) -> list[str]:
        with self._lock:
            found = self._products.get(sku)
            return [self._by_id[i] for i in found.links if i in self._by_id] if found else []

    def option_id(self, attribute_code: str, label: str) -> int | None:
        """The option id of an admin label: the exact label first, then case-insensitively
        (Magento's own lookup, AbstractSource::getOptionId, ignores case)."""
        with self._lock:
            attribute = self._attributes.get(attribute_code)
            options = attribute.options if attribute else []
            for option in options:
                if option["label"] == label:
                    return int(option["value"])
            for option in options:
                if option["label"].casefold() == label.casefold():
                    return int(option["value"])
            return None

    def attribute_id(self, attribute_code: str) -> int | None:
        with self._lock:
            attribute = self._attributes.get(attribute_code)
            return attribute.attribute_id if attribute else None

    def writes_for(self, sku: str) -> int:
        with self._lock:
            return self._writes.get(sku, 0)

    def set_value(self, sku: str, code: str, value: Any, *, touch: bool = True) -> None:
        """A Magento-side edit of a global value (an admin saving the product)."""
        with self._lock:
            product = self._products[sku]
            if code in ("type_id", "attribute_set_id"):
                setattr(product, code, value)
            elif code in ENTITY_KEYS:
                product.entity[code] = value
            else:
                product.values[code] = value
            self._index_url_keys(product)
            if touch:
                product.updated_at = self._now()

    @property
    def categories(self) -> dict[int, dict[str, Any]]:
        with self._lock:
            return {key: dict(value) for key, value in self._categories.items()}

    @property
    def bulks(self) -> dict[str, dict[str, Any]]:
        """Bulk uuid -> its detailed status, as GET /V1/bulk/{uuid}/detailed-status answers."""
        with self._lock:
            return {key: self._detailed(bulk) for key, bulk in self._bulks.items()}

    @property
    def skus(self) -> list[str]:
        with self._lock:
            return list(self._products)

    # ------------------------------------------------------------------ ASGI
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        response = await self._handle(request)
        await response(scope, receive, send)

    async def _handle(self, request: Request) -> Response:
        raw = await request.body()
        method = request.method.upper()
        raw_path = (request.scope.get("raw_path") or request.url.path.encode()).split(b"?")[0]
        path = raw_path.decode("latin-1")
        query = dict(parse_qsl(request.url.query, keep_blank_values=True))
        body: Any = None
        body_error = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError as exc:
                body_error = f"body is not JSON: {exc}"
        store, rest = self._split_store(path)
        status, response = await self._answer(request, method, store, rest, query, body, body_error)
        if not self.record_requests:
            return response
        with self._lock:
            self.requests.append(
                RecordedRequest(method, store, unquote(rest or path), query, body, status)
            )
        return response

    def _split_store(self, path: str) -> tuple[str | None, str | None]:
        match = re.match(r"^/rest(?:/([^/]+))?(/(?:V1|async)/.*)$", path)
        if not match:
            return None, None
        code = unquote(match.group(1)) if match.group(1) else "default"
        if match.group(1) in ("V1", "async"):
            return "default", path[len("/rest") :]
        if code != "all" and code not in self.stores:
            return None, None  # Magento keeps an unknown code in the path: no route matches
        return code, match.group(2)

    async def _answer(
        self,
        request: Request,
        method: str,
        store: str | None,
        rest: str | None,
        query: dict[str, str],
        body: Any,
        body_error: str | None,
    ) -> tuple[int, Response]:
        with self._lock:
            pause = self._delay
        if pause:
            await asyncio.sleep(pause)
        injected = self._injected(rest or request.url.path)
        if injected is not None:
            return injected.status_code, injected
        found = self._match(method, rest) if store is not None and rest is not None else None
        if found is None:
            return self._error(MagentoError(404, NO_ROUTE))
        route, params = found
        if self.check_auth:
            refusal = self._authenticate(request)
            if refusal is not None:
                return self._error(MagentoError(401, UNAUTHORIZED, {"resources": route.resource}))
        assert store is not None
        problems = self._check_body(route, body, body_error)
        if problems:
            with self._lock:
                where = f"{method} {request.url.path}"
                self.violations.extend(f"{where}: {problem}" for problem in problems)
            return self._error(MagentoError(400, problems[0]))
        call = _Call(method, store, params, query, body)
        try:
            result = await getattr(self, f"_do_{route.handler}")(call)
        except MagentoError as error:
            return self._error(error)
        except Exception as exc:  # a bug in the double, or a shape validation let through
            with self._lock:
                self.violations.append(f"{method} {request.url.path}: double error: {exc!r}")
            report = {"message": "Internal Error. Details are available in Magento log file."}
            return 500, JSONResponse(report, status_code=500)
        status = 202 if route.handler.startswith("bulk_p") else 200
        return status, JSONResponse(result, status_code=status)

    def _injected(self, path: str) -> Response | None:
        with self._lock:
            if self._down:
                return Response(MAINTENANCE_PAGE, status_code=503, media_type="text/html")
            for injection in self._injections:
                if injection.remaining > 0 and (
                    injection.path_contains is None or injection.path_contains in path
                ):
                    injection.remaining -= 1
                    break
            else:
                return None
            self._injections = [i for i in self._injections if i.remaining > 0]
        headers = {}
        if injection.retry_after is not None:
            headers["Retry-After"] = f"{injection.retry_after:g}"
        if isinstance(injection.body, str):
            return Response(
                injection.body, injection.status, headers=headers, media_type="text/html"
            )
        content = (
            injection.body
            if injection.body is not None
            else {
                "message": "Service Unavailable" if injection.status == 503 else "Injected failure"
            }
        )
        return JSONResponse(content, injection.status, headers=headers)

    def _match(self, method: str, rest: str | None) -> tuple[_Route, dict[str, str]] | None:
        if rest is None:
            return None
        for route in ROUTES:
            if route.method != method:
                continue
            match = route.pattern.match(rest)
            if match:
                return route, {key: unquote(value) for key, value in match.groupdict().items()}
        return None

    def _authenticate(self, request: Request) -> str | None:
        header = request.headers.get("authorization", "")
        if header.startswith("Bearer "):
            if not self.allow_bearer:
                return "bearer tokens are not accepted (enable_integration_as_bearer is off)"
            token = header[len("Bearer ") :].strip()
            return None if token == self.credentials.access_token else "unknown bearer token"
        with self._lock:
            return verify_oauth_header(
                request.method,
                self._signed_url(request),
                dict(request.headers),
                self.credentials,
                seen_nonces=self._nonces,
                max_skew=self.max_timestamp_skew,
            )

    @staticmethod
    def _signed_url(request: Request) -> str:
        """The URL as the client sent it: the raw (still percent-encoded) path, e.g. a SKU
        with %2F, not the decoded one Starlette's `request.url` holds."""
        raw = request.scope.get("raw_path") or request.url.path.encode()
        url = f"{request.url.scheme}://{request.url.netloc}{raw.split(b'?')[0].decode('latin-1')}"
        query = request.scope.get("query_string", b"").decode("latin-1")
        return f"{url}?{query}" if query else url

    def _check_body(self, route: _Route, body: Any, body_error: str | None) -> list[str]:
        if not self.validate:
            return []
        if body_error is not None:
            return [f"$: {body_error}"]
        if route.item_schema is not None:
            validator = body_validator(*route.item_schema)
            assert validator is not None
            if not isinstance(body, list):
                return [f"$: {body!r} is not of type 'array'"[:300]]
            problems: list[str] = []
            for index, item in enumerate(body):
                problems.extend(f"$[{index}]{error[1:]}" for error in validator.errors(item))
            return problems
        if route.schema_route is None:
            return []
        validator = body_validator(route.method, route.schema_route)
        if validator is None:
            return []
        return validator.errors(body)

    @staticmethod
    def _error(error: MagentoError) -> tuple[int, Response]:
        return error.status, JSONResponse(error.body(), status_code=error.status)

    # ------------------------------------------------------------------ products
    def _attribute_value_keys(self, sent: dict[str, Any]) -> dict[str, Any]:
        values = {key: sent[key] for key in TOP_LEVEL_ATTRIBUTES if key in sent}
        for custom in sent.get("custom_attributes") or ():
            code = custom.get("attribute_code")
            if code in self._attributes and code not in TOP_LEVEL_ATTRIBUTES:
                values[code] = custom.get("value")
        return values

    def _save_product(self, store: str, sku: str, sent: dict[str, Any]) -> _Product:
        """Create or merge one product as ProductRepository::save does (caller holds the lock).
        Everything is checked before anything changes, so a refused save leaves no trace."""
        values = self._attribute_value_keys(sent)
        existing = self._products.get(sku)
        stamp = self._now()
        if existing is None:
            for key in ("attribute_set_id", "name", "price"):
                if sent.get(key) in (None, ""):
                    raise MagentoError(400, EMPTY_ATTRIBUTE, [key])
            product = _Product(
                entity_id=0,
                sku=sku,
                type_id=sent.get("type_id") or "simple",
                attribute_set_id=int(sent["attribute_set_id"]),
                created_at=stamp,
                updated_at=stamp,
            )
        else:
            product = existing
        extension = sent.get("extension_attributes") or {}
        options, links = self._configurable_change(product, extension)
        url_key = values.get("url_key")
        if existing is None and not url_key:
            url_key = values["url_key"] = re.sub(r"[^a-z0-9]+", "-", str(sent["name"]).lower())
            url_key = values["url_key"] = url_key.strip("-")
        if url_key and self.unique_url_keys:
            self._check_url_key(sku, store, str(url_key))
        if existing is None:
            product.entity_id = next(self._entity_ids)
            product.values = {"status": 1, "visibility": 4, "tax_class_id": "2", **values}
            if store != "all":  # Magento copies every value sent into that store view
                product.overrides[store] = dict(values)
            self._products[sku] = product
            self._by_id[product.entity_id] = sku
            self._source_items[(sku, "default")] = {
                "sku": sku,
                "source_code": "default",
                "quantity": 0,
                "status": 0,
            }
        else:
            for code, value in values.items():
                if store == "all" or self._attributes[code].scope == "global":
                    product.values[code] = value
                else:
                    product.overrides.setdefault(store, {})[code] = value
            if sent.get("type_id"):
                product.type_id = sent["type_id"]
            if sent.get("attribute_set_id") is not None:
                product.attribute_set_id = int(sent["attribute_set_id"])
        for key in ENTITY_KEYS:
            if key in sent:
                product.entity[key] = sent[key]
        self._apply_extension(product, extension)
        if options is not None:
            product.configurable_options = options
        if links is not None:
            product.links = links
        product.updated_at = stamp
        self._index_url_keys(product)
        self._writes[sku] = self._writes.get(sku, 0) + 1
        return product

    def _check_url_key(self, sku: str, store: str, url_key: str) -> None:
        """Magento's URL rewrites refuse a second product with the same URL key."""
        if self._url_keys.get(url_key, sku) != sku:
            raise MagentoError(400, "URL key for specified store already exists.")

    def _index_url_keys(self, product: _Product, *, remove: bool = False) -> None:
        """A changed URL key keeps its old one taken, as Magento's permanent redirect does."""
        keys = {product.values.get("url_key")}
        keys.update(overrides.get("url_key") for overrides in product.overrides.values())
        for key in keys:
            if key and not remove:
                self._url_keys[str(key)] = product.sku
            elif key and self._url_keys.get(str(key)) == product.sku:
                del self._url_keys[str(key)]

    def _configurable_change(
        self, product: _Product, extension: dict[str, Any]
    ) -> tuple[list[dict[str, Any]] | None, list[int] | None]:
        """The configurable options and links a save sets (None: unchanged), validated."""
        options = None
        if "configurable_product_options" in extension:
            options = [
                self._configurable_option(
                    product, self._attribute_by_id(option.get("attribute_id")), option
                )
                for option in extension["configurable_product_options"]
            ]
        links = None
        if "configurable_product_links" in extension:
            links = [int(i) for i in extension["configurable_product_links"]]
            current = product.configurable_options if options is None else options
            self._validate_links(self._option_codes(current), links)
        return options, links

    def _apply_extension(self, product: _Product, extension: dict[str, Any]) -> None:
        if "website_ids" in extension:
            product.website_ids = list(extension["website_ids"])
        if "category_links" in extension:
            product.category_links = [
                {"position": link.get("position", 0), "category_id": str(link["category_id"])}
                for link in extension["category_links"]
            ]
        if "stock_item" in extension:
            stock = extension["stock_item"]
            self._set_legacy_stock(product, stock.get("qty", 0), stock.get("is_in_stock", False))

    def _set_legacy_stock(self, product: _Product, qty: Any, in_stock: Any) -> None:
        """The legacy stock item and the default source item mirror each other (MSI)."""
        product.stock = {"qty": qty, "is_in_stock": bool(in_stock)}
        self._source_items[(product.sku, "default")] = {
            "sku": product.sku,
            "source_code": "default",
            "quantity": qty,
            "status": 1 if in_stock else 0,
        }

    def _attribute_by_id(self, attribute_id: Any) -> _Attribute:
        for attribute in self._attributes.values():
            if str(attribute.attribute_id) == str(attribute_id) or attribute.code == attribute_id:
                return attribute
        raise MagentoError(
            404, NO_SUCH_ENTITY, {"fieldName": "attribute_id", "fieldValue": attribute_id}
        )

    def _configurable_option(
        self, product: _Product, attribute: _Attribute, option: dict[str, Any]
    ) -> dict[str, Any]:
        return {
            "id": next(self._configurable_option_ids),
            "attribute_id": str(attribute.attribute_id),
            "label": option.get("label") or attribute.label,
            "position": option.get("position", 0),
            "values": [{"value_index": int(v["value_index"])} for v in option.get("values") or []],
            "product_id": product.entity_id,
        }

    def _option_codes(self, options: list[dict[str, Any]]) -> list[str]:
        return [self._attribute_by_id(option["attribute_id"]).code for option in options]

    def _validate_links(self, codes: list[str], links: list[int]) -> None:
        """Magento's configurable save plugin: every child has a value for every option
        attribute, and no two children share the same combination."""
        seen: dict[tuple[str, ...], int] = {}
        for child_id in links:
            sku = self._by_id.get(child_id)
            if sku is None:
                raise MagentoError(404, NOT_FOUND_PRODUCT)
            child = self._products[sku]
            for code in codes:
                if child.values.get(code) in (None, ""):
                    raise MagentoError(400, LACKS_ATTRIBUTE, [child_id, code])
            combination = tuple(_text(child.values.get(code)) for code in codes)
            if codes and combination in seen:
                raise MagentoError(400, SAME_VALUES, [seen[combination], child_id])
            seen[combination] = child_id

    def _render(self, product: _Product, store: str) -> dict[str, Any]:
        values = dict(product.values)
        if store != "all":
            values.update(product.overrides.get(store, {}))
        rendered: dict[str, Any] = {"id": product.entity_id, "sku": product.sku}
        if "name" in values:
            rendered["name"] = values["name"]
        rendered["attribute_set_id"] = product.attribute_set_id
        for key in ("price", "status", "visibility"):
            if key in values:
                rendered[key] = values[key]
        rendered["type_id"] = product.type_id
        rendered["created_at"] = product.created_at
        rendered["updated_at"] = product.updated_at
        if "weight" in values:
            rendered["weight"] = values["weight"]
        extension: dict[str, Any] = {"website_ids": list(product.website_ids)}
        if product.category_links:
            extension["category_links"] = [dict(link) for link in product.category_links]
        extension["stock_item"] = _stock_item(product)
        if product.type_id == "configurable":
            extension["configurable_product_options"] = [
                {**option, "values": [dict(v) for v in option["values"]]}
                for option in product.configurable_options
            ]
            extension["configurable_product_links"] = list(product.links)
        rendered["extension_attributes"] = extension
        rendered["product_links"] = list(product.entity.get("product_links", []))
        rendered["options"] = list(product.entity.get("options", []))
        rendered["media_gallery_entries"] = list(product.entity.get("media_gallery_entries", []))
        rendered["tier_prices"] = list(product.entity.get("tier_prices", []))
        custom = [
            {"attribute_code": code, "value": value}
            for code, value in values.items()
            if code not in TOP_LEVEL_ATTRIBUTES
        ]
        if product.category_links:
            # Magento answers category_ids as an array although the schema types value as string
            custom.append(
                {
                    "attribute_code": "category_ids",
                    "value": [link["category_id"] for link in product.category_links],
                }
            )
        rendered["custom_attributes"] = custom
        return rendered

    def _get(self, sku: str) -> _Product:
        product = self._products.get(sku)
        if product is None:
            raise MagentoError(404, NOT_FOUND_PRODUCT)
        return product

    async def _do_put_product(self, call: _Call) -> Any:
        sent = call.body["product"]
        with self._lock:
            product = self._save_product(call.store, call.params["sku"], sent)
            return self._render(product, call.store)

    async def _do_post_product(self, call: _Call) -> Any:
        sent = call.body["product"]
        with self._lock:
            product = self._save_product(call.store, sent["sku"], sent)
            return self._render(product, call.store)

    async def _do_get_product(self, call: _Call) -> Any:
        with self._lock:
            return self._render(self._get(call.params["sku"]), call.store)

    async def _do_delete_product(self, call: _Call) -> Any:
        with self._lock:
            product = self._get(call.params["sku"])
            del self._products[product.sku]
            del self._by_id[product.entity_id]
            self._index_url_keys(product, remove=True)
            for other in self._products.values():
                if product.entity_id in other.links:
                    other.links.remove(product.entity_id)
            for key in [key for key in self._source_items if key[0] == product.sku]:
                del self._source_items[key]
            return True

    def _candidates(self, criteria: dict[str, Any]) -> list[_Product]:
        """Products a search can match. A filter on sku (eq or in) is looked up by key, as
        Magento's index does, so that a catalog of 100,000 is not scanned per lookup; the
        search itself still applies every filter."""
        for group in criteria["filter_groups"]:
            filters = group["filters"]
            if len(filters) == 1 and filters[0]["field"] == "sku":
                condition = filters[0]["condition_type"]
                value = _text(filters[0]["value"])
                if condition in ("eq", "in"):
                    skus = value.split(",") if condition == "in" else [value]
                    found = [self._products[s] for s in dict.fromkeys(skus) if s in self._products]
                    return sorted(found, key=lambda p: p.entity_id)
        return list(self._products.values())

    async def _do_list_products(self, call: _Call) -> Any:
        if not any(key.startswith("searchCriteria") for key in call.query):
            raise MagentoError(
                400,
                '"%fieldName" is required. Enter and try again.',
                {"fieldName": "searchCriteria"},
            )
        criteria = parse_search_criteria(call.query)
        with self._lock:
            rows = []
            # insertion order is entity id order; only the page found is rendered
            for product in self._candidates(criteria):
                row = dict(product.values)
                if call.store != "all" and call.store in product.overrides:
                    row.update(product.overrides[call.store])
                row.update(
                    id=product.entity_id,
                    entity_id=product.entity_id,
                    sku=product.sku,
                    type_id=product.type_id,
                    attribute_set_id=product.attribute_set_id,
                    created_at=product.created_at,
                    updated_at=product.updated_at,
                )
                row[_ROW_PRODUCT] = product
                rows.append(row)
            page, total = search(rows, criteria)
            return {
                "items": [self._render(row[_ROW_PRODUCT], call.store) for row in page],
                "search_criteria": criteria,
                "total_count": total,
            }

    # ------------------------------------------------------------------ stock
    async def _do_put_stock_item(self, call: _Call) -> Any:
        stock = call.body["stockItem"]
        with self._lock:
            product = self._get(call.params["productSku"])
            self._set_legacy_stock(product, stock.get("qty", 0), stock.get("is_in_stock", False))
            return product.entity_id

    async def _do_save_source_items(self, call: _Call) -> Any:
        items = call.body["sourceItems"]
        with self._lock:
            errors = []
            for item in items:
                for key in ("sku", "source_code"):
                    if not item.get(key):
                        errors.append(
                            {"message": '"%field" can not be empty.', "parameters": {"field": key}}
                        )
                if item.get("source_code") and item["source_code"] not in self._sources:
                    errors.append(
                        {
                            "message": 'Source with code "%code" does not exist.',
                            "parameters": {"code": item["source_code"]},
                        }
                    )
            if errors:
                raise MagentoError(400, "Validation Failed", errors=errors)
            for item in items:
                self._source_items[(item["sku"], item["source_code"])] = {
                    "sku": item["sku"],
                    "source_code": item["source_code"],
                    "quantity": item.get("quantity", 0),
                    "status": item.get("status", 0),
                }
                product = self._products.get(item["sku"])
                if product is not None and item["source_code"] == "default":
                    product.stock = {
                        "qty": item.get("quantity", 0),
                        "is_in_stock": bool(item.get("status")),
                    }
            return []  # Magento answers a void service call with an empty array

    async def _do_list_source_items(self, call: _Call) -> Any:
        criteria = parse_search_criteria(call.query)
        with self._lock:
            rows = [dict(item) for item in self._source_items.values()]
        items, total = search(rows, criteria)
        return {"items": items, "search_criteria": criteria, "total_count": total}

    # ------------------------------------------------------------------ attributes
    def _attribute(self, code: str) -> _Attribute:
        attribute = self._attributes.get(code)
        if attribute is None:
            raise MagentoError(404, NO_ATTRIBUTE, [code])
        return attribute

    def _options_of(self, attribute: _Attribute) -> list[dict[str, Any]]:
        if not attribute.has_options:
            return []
        options = [{"label": " ", "value": ""}]
        options.extend({"label": o["label"], "value": str(o["value"])} for o in attribute.options)
        return options

    async def _do_get_attribute(self, call: _Call) -> Any:
        with self._lock:
            attribute = self._attribute(call.params["attributeCode"])
            return {
                "is_wysiwyg_enabled": False,
                "is_html_allowed_on_front": True,
                "used_for_sort_by": False,
                "is_filterable": False,
                "is_filterable_in_search": False,
                "is_used_in_grid": True,
                "is_visible_in_grid": False,
                "is_filterable_in_grid": True,
                "position": 0,
                "apply_to": [],
                "is_searchable": "0",
                "is_visible_in_advanced_search": "0",
                "is_comparable": "0",
                "is_used_for_promo_rules": "0",
                "is_visible_on_front": "0",
                "used_in_product_listing": "0",
                "is_visible": True,
                "scope": attribute.scope,
                "attribute_id": attribute.attribute_id,
                "attribute_code": attribute.code,
                "frontend_input": attribute.frontend_input,
                "entity_type_id": "4",
                "is_required": attribute.code in ("name", "price"),
                "options": self._options_of(attribute),
                "is_user_defined": attribute.attribute_id >= 93,
                "default_frontend_label": attribute.label,
                "frontend_labels": [],
                "backend_type": "int" if attribute.has_options else "varchar",
                "is_unique": "0",
                "validation_rules": [],
            }

    async def _do_get_options(self, call: _Call) -> Any:
        with self._lock:
            return self._options_of(self._attribute(call.params["attributeCode"]))

    async def _do_add_option(self, call: _Call) -> Any:
        option = call.body["option"]
        code = call.params["attributeCode"]
        with self._lock:
            attribute = self._attribute(code)
            if not attribute.has_options:
                raise MagentoError(400, 'The "%1" attribute doesn\'t work with options.', [code])
            label = str(option.get("label") or "").strip()
            if not label:
                raise MagentoError(
                    400, "The attribute option label is empty. Enter the value and try again."
                )
            # AbstractSource::getOptionId: a case-insensitive label match, or the option id
            if any(
                o["label"].casefold() == label.casefold() or str(o["value"]) == label
                for o in attribute.options
            ):
                raise MagentoError(400, DUPLICATE_OPTION, [option.get("label")])
            labels = {
                int(item.get("store_id", 0)): item.get("label", "")
                for item in option.get("store_labels") or []
            }
            admin = labels.pop(0, None) or label
            option_id = next(self._option_ids)
            attribute.options.append(
                {
                    "value": option_id,
                    "label": str(admin),
                    "store_labels": {k: v for k, v in labels.items() if k},
                }
            )
            return str(option_id)

    def option_labels(self, attribute_code: str, option_id: int) -> dict[int, str]:
        """Store id -> label of one option (0 is the admin label)."""
        with self._lock:
            for option in self._attribute(attribute_code).options:
                if int(option["value"]) == option_id:
                    return {0: option["label"], **option["store_labels"]}
            return {}

    # ------------------------------------------------------------------ categories
    @staticmethod
    def _category_row(
        category_id: int, parent_id: int, name: str, path: str, level: int, stamp: str
    ) -> dict[str, Any]:
        return {
            "id": category_id,
            "parent_id": parent_id,
            "name": name,
            "is_active": True,
            "position": 1,
            "level": level,
            "children": "",
            "created_at": stamp,
            "updated_at": stamp,
            "path": path,
            "available_sort_by": [],
            "include_in_menu": True,
            "custom_attributes": [],
        }

    def _category(self, category_id: Any) -> dict[str, Any]:
        try:
            found = self._categories.get(int(category_id))
        except (TypeError, ValueError):
            found = None
        if found is None:
            raise MagentoError(404, NO_SUCH_ENTITY, {"fieldName": "id", "fieldValue": category_id})
        return found

    def _refresh_children(self) -> None:
        for row in self._categories.values():
            row["children"] = ",".join(
                str(c["id"])
                for c in self._categories.values()
                if c["parent_id"] == row["id"] and c["id"] != row["id"]
            )

    async def _do_save_category(self, call: _Call) -> Any:
        sent = call.body["category"]
        with self._lock:
            stamp = self._now()
            if sent.get("id") and int(sent["id"]) in self._categories:
                row = self._categories[int(sent["id"])]
                for key in (
                    "name",
                    "is_active",
                    "position",
                    "include_in_menu",
                    "available_sort_by",
                    "custom_attributes",
                ):
                    if key in sent:
                        row[key] = sent[key]
                row["updated_at"] = stamp
                return dict(row)
            if not sent.get("name"):
                raise MagentoError(
                    400, "Could not save category: %1", [EMPTY_ATTRIBUTE.replace("%1", "Name")]
                )
            parent = self._category(sent.get("parent_id", 2))
            category_id = next(self._category_ids)
            row = self._category_row(
                category_id,
                parent["id"],
                sent["name"],
                f"{parent['path']}/{category_id}",
                parent["level"] + 1,
                stamp,
            )
            for key in (
                "is_active",
                "position",
                "include_in_menu",
                "available_sort_by",
                "custom_attributes",
            ):
                if key in sent:
                    row[key] = sent[key]
            self._categories[category_id] = row
            self._refresh_children()
            return dict(row)

    async def _do_get_category(self, call: _Call) -> Any:
        with self._lock:
            return dict(self._category(call.params["categoryId"]))

    async def _do_list_categories(self, call: _Call) -> Any:
        criteria = parse_search_criteria(call.query)
        with self._lock:
            rows = [dict(row) for row in self._categories.values()]
        items, total = search(rows, criteria)
        return {"items": items, "search_criteria": criteria, "total_count": total}

    # ------------------------------------------------------------------ configurable products
    async def _do_add_configurable_option(self, call: _Call) -> Any:
        option = call.body["option"]
        with self._lock:
            product = self._get(call.params["sku"])
            if product.type_id != "configurable":
                raise MagentoError(400, "Incompatible product type")
            attribute = self._attribute_by_id(option.get("attribute_id"))
            if any(
                o["attribute_id"] == str(attribute.attribute_id)
                for o in product.configurable_options
            ):
                raise MagentoError(400, "Something went wrong while saving option.")
            created = self._configurable_option(product, attribute, option)
            product.configurable_options.append(created)
            product.updated_at = self._now()
            return created["id"]

    async def _do_add_child(self, call: _Call) -> Any:
        with self._lock:
            product = self._get(call.params["sku"])
            child = self._get(call.body["childSku"])
            if child.entity_id in product.links:
                raise MagentoError(400, ALREADY_ATTACHED)
            if product.type_id != "configurable" or not product.configurable_options:
                raise MagentoError(400, NO_OPTIONS)
            codes = self._option_codes(product.configurable_options)
            for code in codes:
                if child.values.get(code) in (None, ""):
                    raise MagentoError(400, CHILD_LACKS_VALUE, [code])
            self._validate_links(codes, [*product.links, child.entity_id])
            product.links.append(child.entity_id)
            product.updated_at = self._now()
            return True

    async def _do_get_children(self, call: _Call) -> Any:
        with self._lock:
            product = self._get(call.params["sku"])
            return [
                self._render(self._products[self._by_id[i]], call.store)
                for i in product.links
                if i in self._by_id
            ]

    async def _do_remove_child(self, call: _Call) -> Any:
        with self._lock:
            product = self._get(call.params["sku"])
            if product.type_id != "configurable":
                raise MagentoError(
                    400,
                    "Product with specified sku: %1 is not a configurable product",
                    [product.sku],
                )
            child = self._products.get(call.params["childSku"])
            if child is None or child.entity_id not in product.links:
                raise MagentoError(404, "Requested option doesn't exist")
            product.links.remove(child.entity_id)
            product.updated_at = self._now()
            return True

    # ------------------------------------------------------------------ asynchronous bulk
    async def _do_bulk_post(self, call: _Call) -> Any:
        return self._schedule(call, TOPIC_POST)

    async def _do_bulk_put(self, call: _Call) -> Any:
        return self._schedule(call, TOPIC_PUT)

    def _schedule(self, call: _Call, topic: str) -> dict[str, Any]:
        items = call.body if isinstance(call.body, list) else []
        bulk_uuid = str(uuid.uuid4())
        request_items = []
        operations = []
        for index, item in enumerate(items):
            digest = hashlib.sha256(json.dumps(item, sort_keys=True).encode()).hexdigest()
            product = item.get("product") if isinstance(item, dict) else None
            sku = product.get("sku") if isinstance(product, dict) else None
            if not sku:
                request_items.append(
                    {
                        "id": index,
                        "data_hash": digest,
                        "status": "rejected",
                        "error_message": "SKU is required",
                    }
                )
                continue
            operations.append(_Operation(index, topic, sku, item))
            request_items.append({"id": index, "data_hash": digest, "status": "accepted"})
        with self._lock:
            bulk = _Bulk(bulk_uuid, call.store, f"Topic {topic}", self._now(), operations)
            self._bulks[bulk_uuid] = bulk
            self._pending.add(bulk_uuid)
        task = asyncio.get_running_loop().create_task(self._process(bulk))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        rejected = any(item["status"] == "rejected" for item in request_items)
        return {"bulk_uuid": bulk_uuid, "request_items": request_items, "errors": rejected}

    async def _process(self, bulk: _Bulk) -> None:
        await asyncio.sleep(self.bulk_delay)
        with self._lock:
            self._pending.discard(bulk.uuid)
            for operation in bulk.operations:
                queue = self._outcomes.get(operation.sku)
                forced = queue.pop(0) if queue else None
                if forced is not None and forced[0] == OPEN:
                    self._held.append((bulk, operation))
                    continue
                self._run_operation(bulk, operation, forced)

    def _run_operation(
        self, bulk: _Bulk, operation: _Operation, forced: tuple[int, str | None] | None
    ) -> None:
        if forced is not None and forced[0] != 1:
            status, message = forced
            operation.status = status
            operation.result_message = message or DEFAULT_FAILURE_MESSAGES.get(status, "Failed")
            operation.error_code = 0
            return
        try:
            self._save_product(bulk.store, operation.sku, operation.item["product"])
        except MagentoError as error:
            operation.status = 3
            operation.result_message = error.rendered()
            operation.error_code = 0
            return
        operation.status = 1
        operation.result_message = SUCCESS_MESSAGE
        operation.error_code = None

    def _bulk(self, bulk_uuid: str) -> _Bulk:
        bulk = self._bulks.get(bulk_uuid)
        if bulk is None:
            raise MagentoError(404, "Bulk uuid %bulkUuid not exist", {"bulkUuid": bulk_uuid})
        return bulk

    def _detailed(self, bulk: _Bulk) -> dict[str, Any]:
        return {
            "operations_list": [
                {
                    "id": op.id,
                    "bulk_uuid": bulk.uuid,
                    "topic_name": op.topic,
                    "serialized_data": json.dumps(
                        {
                            "entity_id": None,
                            "entity_link": "",
                            "meta_information": json.dumps(op.item),
                        }
                    ),
                    "result_serialized_data": None,
                    "status": op.status,
                    "result_message": op.result_message,
                    "error_code": op.error_code,
                }
                for op in bulk.operations
            ],
            "user_type": 2,
            "bulk_id": bulk.uuid,
            "description": bulk.description,
            "start_time": bulk.start_time,
            "user_id": 1,
            "operation_count": len(bulk.operations),
        }

    async def _do_bulk_detailed(self, call: _Call) -> Any:
        with self._lock:
            return self._detailed(self._bulk(call.params["bulkUuid"]))

    async def _do_bulk_status(self, call: _Call) -> Any:
        with self._lock:
            detailed = self._detailed(self._bulk(call.params["bulkUuid"]))
        detailed["operations_list"] = [
            {key: op[key] for key in ("id", "status", "result_message", "error_code")}
            for op in detailed["operations_list"]
        ]
        return detailed

    async def _do_bulk_count(self, call: _Call) -> Any:
        with self._lock:
            bulk = self._bulks.get(call.params["bulkUuid"])
            wanted = int(call.params["status"]) if call.params["status"].isdigit() else -1
            return sum(1 for op in bulk.operations if op.status == wanted) if bulk else 0

    def bulks_pending(self) -> int:
        """How many accepted bulks the consumer has not processed yet."""
        with self._lock:
            return len(self._pending)

    async def wait_for_bulks(self, timeout: float = 5.0) -> None:
        """Wait (in any event loop) until every accepted bulk has been processed; operations
        `bulk_outcome(..., 4)` holds stay open."""
        async with asyncio.timeout(timeout):
            while self.bulks_pending():
                await asyncio.sleep(0.005)

    def wait_for_bulks_sync(self, timeout: float = 5.0) -> None:
        """The same from a plain thread, e.g. a test driving DoubleServer over HTTP."""
        deadline = time.monotonic() + timeout
        while self.bulks_pending():
            if time.monotonic() > deadline:
                raise TimeoutError("bulks still pending in the Magento double")
            time.sleep(0.005)
