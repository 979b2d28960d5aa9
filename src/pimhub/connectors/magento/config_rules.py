"""Parts of a Magento connector's configuration with rules of their own (stock, which products
the shop gets, bulk sizes), and the checks every part of config.py shares."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pimhub.catalog.errors import FieldError
from pimhub.catalog.fields import FieldDefinition

ATTRIBUTE_CODE = re.compile(r"[a-z][a-z0-9_]{0,59}")
DEFAULTS: Any = object()  # a setting left out (None would be an explicit null)


class StockMode(StrEnum):
    MSI = "msi"  # POST /V1/inventory/source-items
    LEGACY = "legacy"  # PUT /V1/products/{sku}/stockItems/1
    OFF = "off"


@dataclass(frozen=True, slots=True)
class StockRule:
    mode: StockMode = StockMode.MSI
    field: str | None = "stock"
    source: str = "default"


@dataclass(frozen=True, slots=True)
class SyncRule:
    """Which objects the shop gets; one that stops matching is handled like a delete."""

    published: bool = True
    complete: str | None = None  # a completeness channel that must be complete in every language

    def matches(self, obj: Mapping[str, Any]) -> bool:
        """`obj` is the hub's object envelope (CatalogObject.to_dict())."""
        if self.published and not obj.get("published"):
            return False
        if self.complete:
            by_language = (obj.get("completeness") or {}).get(self.complete)
            if not isinstance(by_language, Mapping) or not by_language:
                return False
            return all(
                isinstance(score, Mapping) and not score.get("missing")
                for score in by_language.values()
            )
        return True


@dataclass(frozen=True, slots=True)
class BulkRule:
    threshold: int = 200  # a backlog at least this large goes through the async bulk API
    chunk: int = 200  # operations per bulk request (Magento accepts large bulks slowly)


def stock_rule(
    value: Any, fields: Mapping[str, FieldDefinition] | None, errors: list[FieldError]
) -> StockRule:
    if not isinstance(value, Mapping):
        errors.append(FieldError("stock", "must be a mapping", "type"))
        return StockRule()
    unknown(value, frozenset({"mode", "field", "source"}), "stock", errors)
    mode = option(value, "mode", StockMode, StockMode.MSI, errors, prefix="stock.")
    source = value.get("field", "stock")
    if source is not None and fields is not None and source not in fields:
        if "field" in value:
            errors.append(FieldError("stock.field", f"the class has no field '{source}'"))
        source = None
    code = value.get("source", "default")
    if not isinstance(code, str) or not code:
        errors.append(FieldError("stock.source", "must be a source code", "type"))
        code = "default"
    return StockRule(mode=mode, field=source, source=code)


def sync_rule(value: Any, errors: list[FieldError]) -> SyncRule:
    if not isinstance(value, Mapping):
        errors.append(FieldError("sync", "must be a mapping", "type"))
        return SyncRule()
    unknown(value, frozenset({"published", "complete"}), "sync", errors)
    published = value.get("published", True)
    if not isinstance(published, bool):
        errors.append(FieldError("sync.published", "must be true or false", "type"))
        published = True
    complete = value.get("complete")
    if complete is not None and not isinstance(complete, str):
        errors.append(FieldError("sync.complete", "must name a completeness channel", "type"))
        complete = None
    return SyncRule(published=published, complete=complete)


def bulk_rule(value: Any, errors: list[FieldError]) -> BulkRule:
    if not isinstance(value, Mapping):
        errors.append(FieldError("bulk", "must be a mapping", "type"))
        return BulkRule()
    unknown(value, frozenset({"threshold", "chunk"}), "bulk", errors)
    threshold = value.get("threshold", 200)
    chunk = value.get("chunk", 200)
    if not whole(threshold) or threshold < 1:
        errors.append(FieldError("bulk.threshold", "must be a positive whole number", "type"))
        threshold = 200
    if not whole(chunk) or not 1 <= chunk <= 5000:
        errors.append(FieldError("bulk.chunk", "must be between 1 and 5000", "range"))
        chunk = 200
    return BulkRule(threshold=threshold, chunk=chunk)


def unknown(
    value: Mapping[str, Any], allowed: frozenset[str], prefix: str, errors: list[FieldError]
) -> None:
    """A misspelt nested setting is an error, not silently ignored."""
    for key in sorted(set(map(str, value)) - allowed):
        errors.append(FieldError(f"{prefix}.{key}", "unknown setting", "unknown-field"))


def whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value < 2**31


def option(
    body: Mapping[str, Any],
    key: str,
    kind: type[Any],
    default: Any,
    errors: list[FieldError],
    prefix: str = "",
) -> Any:
    value = body.get(key, default)
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(m.value for m in kind)
        errors.append(FieldError(f"{prefix}{key}", f"must be one of {allowed}", "option"))
        return default
