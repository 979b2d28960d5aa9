"""Per-configuration limits of a datahub configuration: its GraphQL query limits and the web
origins whose browsers may call it (CORS)."""

from __future__ import annotations

import re
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


ANY_ORIGIN = "*"
MAX_ORIGINS = 100
MAX_CORS_AGE = 86_400
# An origin as browsers send it: scheme, host (a name, an IPv4 or a bracketed IPv6 address)
# and a port only when it is not the scheme's default; lower case, no path, no slash.
_ORIGIN = re.compile(
    r"^https?://(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9-]+)*|\[[0-9a-f:.]+\])(?::[0-9]{1,5})?$"
)
_DEFAULT_PORTS = (("http://", ":80"), ("https://", ":443"))
_CORS_KEYS = frozenset({"origins", "allowCredentials", "maxAge"})


@dataclass(frozen=True, slots=True)
class Cors:
    """The web origins whose browser scripts may call this configuration's GraphQL and
    simple REST routes (cross-origin resource sharing). Origins match exactly; `*` (any
    origin) only without credentials, as browsers themselves demand."""

    origins: tuple[str, ...]
    allow_credentials: bool = False
    max_age: int = 600  # seconds a browser may reuse a preflight answer

    def allows(self, origin: str) -> bool:
        return origin in self.origins or ANY_ORIGIN in self.origins

    def to_dict(self) -> dict[str, Any]:
        return {
            "origins": list(self.origins),
            "allowCredentials": self.allow_credentials,
            "maxAge": self.max_age,
        }


def parse_cors(raw: Any, errors: list[FieldError]) -> Cors | None:
    """`cors: {origins: [https://shop.example], allowCredentials: false, maxAge: 600}`."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        errors.append(FieldError("cors", "must be an object with 'origins'"))
        return None
    errors.extend(
        FieldError(f"cors.{k}", f"unknown attribute; use {', '.join(sorted(_CORS_KEYS))}")
        for k in sorted(set(map(str, raw)) - _CORS_KEYS)
    )
    origins = _parse_origins(raw.get("origins"), errors)
    credentials = raw.get("allowCredentials", False)
    if not isinstance(credentials, bool):
        errors.append(FieldError("cors.allowCredentials", "must be true or false"))
        credentials = False
    elif credentials and ANY_ORIGIN in origins:
        errors.append(
            FieldError(
                "cors.allowCredentials",
                "cannot be true with origin '*': list the origins that may send credentials",
            )
        )
    max_age = raw.get("maxAge", 600)
    whole = isinstance(max_age, int) and not isinstance(max_age, bool)
    if not whole or not 0 <= max_age <= MAX_CORS_AGE:
        errors.append(FieldError("cors.maxAge", f"must be a whole number 0..{MAX_CORS_AGE}"))
        max_age = 600
    return Cors(origins, credentials, max_age)


def _parse_origins(raw: Any, errors: list[FieldError]) -> tuple[str, ...]:
    if not isinstance(raw, list) or not raw or len(raw) > MAX_ORIGINS:
        errors.append(FieldError("cors.origins", f"must list 1 to {MAX_ORIGINS} origins, or ['*']"))
        return ()
    for i, origin in enumerate(raw):
        problem = _origin_problem(origin)
        if problem is not None:
            errors.append(FieldError(f"cors.origins[{i}]", problem))
    return tuple(dict.fromkeys(o for o in raw if isinstance(o, str)))


def _origin_problem(origin: Any) -> str | None:
    if origin == ANY_ORIGIN:
        return None
    if not isinstance(origin, str) or not _ORIGIN.fullmatch(origin):
        return (
            f"{origin!r} is not an origin: write scheme://host[:port] in lower case, without "
            "a path or trailing slash (e.g. https://shop.example.com), or '*'"
        )
    for scheme, port in _DEFAULT_PORTS:
        if origin.startswith(scheme) and origin.endswith(port):
            return (
                f"'{origin}' names the default port, which browsers leave out of the Origin "
                f"header: write '{origin.removesuffix(port)}'"
            )
    return None
