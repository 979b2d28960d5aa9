"""What the datahub's GraphQL layer reads from storage, as protocols; storage implements
them. One read session per request, so every statement of a query sees one snapshot."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from pimhub.assets.model import Asset
from pimhub.catalog.objects import OBJECT_FIELDS, CatalogObject
from pimhub.catalog.query import Node, SortKey
from pimhub.catalog.variants import FamilyRole

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ListingRequest:
    class_name: str
    where: Node | None
    sort: Sequence[SortKey]
    first: int
    after: str | None = None  # an opaque keyset cursor
    offset: int = 0  # Pimcore clients page with integer offsets instead
    published_only: bool = True
    ids: Sequence[int] | None = None
    family: FamilyRole | None = None  # only parents, variants or standalone objects


@dataclass(slots=True)
class ListingRows(Generic[T]):
    objects: list[T]
    sort_values: list[tuple[Any, ...]]  # per row, for its cursor
    has_next: bool
    encode_cursor: Callable[[tuple[Any, ...]], str]

    def cursor(self, index: int) -> str:
        """The opaque cursor after row `index`, made only when a client asks for it."""
        return self.encode_cursor(self.sort_values[index])


# A to-one relation joined into a listing statement: (index of the joining object, where 0
# is the listed object and n the n-th join, relation field name or PARENT_JOIN).
Join = tuple[int, str]
PARENT_JOIN = "@parent"  # a variant's parent, by its parent_uuid (no field name has an '@')
MAX_JOINS = 16  # per statement; deeper selections load batch-wise


class GraphReadSession(Protocol):
    def listing(self, request: ListingRequest) -> ListingRows[CatalogObject]: ...
    def joined_listing(
        self,
        request: ListingRequest,
        joins: Sequence[Join],
        columns: Sequence[frozenset[str]],
        *,
        drafts: bool,
    ) -> ListingRows[tuple[Any, ...]]:
        """One statement: the page, and each join's target (hidden unless published or
        `drafts`). A row holds, for the listed object and then each join in order, the
        `columns` named for it in OBJECT_FIELDS order, then the sort keys."""

    def json_decoder(self) -> Callable[[Any], Any]:
        """The cheapest function that turns this driver's JSON column values into data."""

    def utc(self, value: Any) -> datetime: ...
    def count(self, request: ListingRequest) -> int: ...
    def one(
        self, class_name: str, *, id: int | None, uuid: str | None, key: str | None
    ) -> CatalogObject | None: ...
    def by_uuids(self, uuids: Sequence[str]) -> dict[str, CatalogObject]: ...
    def assets(self, uuids: Sequence[str]) -> dict[str, Asset]:
        """Assets by uuid, in one statement (per a few thousand uuids)."""

    def asset_at(self, path: str) -> Asset | None: ...
    def children(
        self, parent_uuids: Sequence[str], *, first: int, published_only: bool
    ) -> dict[str, list[CatalogObject]]:
        """The variants of each parent (at most `first` each, oldest first), in one
        statement per MAX_IN parents."""

    def children_rows(
        self,
        parent_uuids: Sequence[str],
        *,
        first: int,
        published_only: bool,
        columns: Sequence[str],
    ) -> dict[str, list[tuple[Any, ...]]]:
        """As `children`, undecoded: per variant the `columns` in OBJECT_FIELDS order, then
        its parent's uuid (compiled plans shape these rows directly)."""

    def fresh(self) -> None:
        """End the current snapshot, so later reads see writes committed meanwhile, and give
        its connection back: call it before a write, which takes a connection of its own."""


class GraphReads(Protocol):
    def session(self) -> AbstractContextManager[GraphReadSession]: ...
    def fingerprint(self, config_name: str) -> tuple[Any, ...] | None:
        """Changes whenever the configuration or any class definition changes; None when
        the configuration does not exist."""


OBJECT_WIDTH = len(OBJECT_FIELDS)
