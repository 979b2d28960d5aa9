"""The search index as the rest of the hub sees it: requests, pages, and the protocol both
index implementations satisfy."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from pimhub.catalog.objects import CatalogObject
from pimhub.catalog.query import Node, SortKey


class Part(StrEnum):
    """The weighted parts of a document, in order of relevance."""

    KEY = "key"
    NAME = "name"
    BODY = "body"


ALL_PARTS = frozenset(Part)


@dataclass(frozen=True, slots=True)
class TextQuery:
    """Every token must occur (the last one as a prefix, for type-ahead), in `parts`."""

    raw: str
    tokens: tuple[str, ...]
    parts: frozenset[Part] = ALL_PARTS


@dataclass(frozen=True, slots=True)
class Facet:
    field: str
    is_list: bool  # a multiselect or a relation to many: count every item
    is_boolean: bool = False


@dataclass(frozen=True, slots=True)
class SearchRequest:
    class_names: tuple[str, ...]
    text: TextQuery | None
    language: str
    where: Node | None = None
    sort: tuple[SortKey, ...] = ()  # empty: by relevance, or by id without text
    size: int = 20
    offset: int = 0  # pages of a text search
    after: str | None = None  # the index's keyset cursor: pages of a listing without text
    published_only: bool = True
    facets: tuple[Facet, ...] = ()
    facet_size: int = 20
    # Classes whose configuration shows different parts: (parts, classes) per group. Empty:
    # every class may match `text.parts`.
    part_groups: tuple[tuple[frozenset[Part], tuple[str, ...]], ...] = ()


@dataclass(slots=True)
class SearchPage:
    objects: list[CatalogObject]
    total: int
    cursor_after_last: str | None  # a keyset cursor (listings without text only)
    facets: dict[str, list[tuple[Any, int]]] = field(default_factory=dict)
    fuzzy: bool = False  # nothing matched every token; these are near matches of the name


class SearchIndex(Protocol):
    """Reads of the index, and its rebuild. Writes happen inside the catalog's unit of work
    (catalog.ports.SearchIndexWriter), so a change is searchable the moment it commits."""

    def search(self, request: SearchRequest) -> SearchPage: ...

    def rebuild(self, class_names: Sequence[str] | None = None) -> int:
        """Index the objects of `class_names` (None: all) again, in one transaction; the
        number of objects indexed."""

    def size(self) -> int:
        """Documents in the index."""
