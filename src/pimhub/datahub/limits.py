"""Per-configuration limits of a datahub configuration's GraphQL queries."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pimhub.catalog.errors import FieldError


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-configuration guards against expensive queries. Cost: every object-returning
    field costs the number of objects it can return (a listing its `first`, a relation
    inside that listing as much again)."""

    max_depth: int = 10
    max_aliases: int = 30
    max_page_size: int = 100
    max_tokens: int = 2000
    max_cost: int = 5000

    def to_dict(self) -> dict[str, int]:
        return {
            "maxDepth": self.max_depth,
            "maxAliases": self.max_aliases,
            "maxPageSize": self.max_page_size,
            "maxTokens": self.max_tokens,
            "maxCost": self.max_cost,
        }


_LIMIT_KEYS = {
    "maxDepth": ("max_depth", 1, 50),
    "maxAliases": ("max_aliases", 0, 1000),
    "maxPageSize": ("max_page_size", 1, 1000),
    "maxTokens": ("max_tokens", 50, 100_000),
    "maxCost": ("max_cost", 1, 10_000_000),
}


def parse_limits(raw: Any, errors: list[FieldError]) -> Limits:
    if raw is None:
        return Limits()
    if not isinstance(raw, Mapping):
        errors.append(FieldError("limits", "must be an object"))
        return Limits()
    values: dict[str, int] = {}
    for key, value in raw.items():
        spec = _LIMIT_KEYS.get(key)
        if spec is None:
            errors.append(
                FieldError(f"limits.{key}", f"unknown limit; use {', '.join(_LIMIT_KEYS)}")
            )
            continue
        attr, low, high = spec
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            errors.append(FieldError(f"limits.{key}", f"must be a whole number {low}..{high}"))
            continue
        values[attr] = value
    return Limits(**values)
