"""What the catalog service needs from storage, as protocols; storage/ implements them."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol, Self

from pimhub.assets.model import Asset
from pimhub.catalog.classes import ClassDefinition
from pimhub.catalog.events import OutboxEvent
from pimhub.catalog.objects import CatalogObject, ObjectVersion, RelatedObject
from pimhub.catalog.query import Node, SortKey
from pimhub.catalog.variants import FamilyFilter


@dataclass(frozen=True, slots=True)
class Page:
    items: list[CatalogObject]
    total: int  # -1 when the listing was asked not to count (ListQuery.count=False)
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class ObjectCounts:
    """How many objects of one class are published and how many are drafts."""

    published: int
    drafts: int

    @property
    def total(self) -> int:
        return self.published + self.drafts


@dataclass(frozen=True, slots=True)
class Referrer:
    class_name: str
    key: str
    field: str

    def to_dict(self) -> dict[str, str]:
        return {"class": self.class_name, "key": self.key, "field": self.field}


@dataclass(frozen=True, slots=True)
class TargetRef:
    """What a reference resolved to: its uuid and its class."""

    uuid: str
    class_name: str


class ClassRepository(Protocol):
    def lock(self, names: Sequence[str], *, shared: bool = False) -> None:
        """Holds a lock on each class until the unit of work ends: exclusive to change a
        definition, shared to write objects of the class, so that no object is written
        against a definition that is being replaced. Take it before any other lock."""

    def get(self, name: str) -> ClassDefinition | None: ...
    def all(self) -> list[ClassDefinition]: ...
    def save(self, definition: ClassDefinition, author: str) -> None: ...
    def delete(self, name: str) -> None: ...


class ObjectRepository(Protocol):
    def lock(self, class_name: str, names: Sequence[str]) -> None:
        """Holds a write lock per name (catalog.locking) until the unit of work ends; a
        writer locking a name another holds waits for it. Take them before reading what
        the write checks."""

    def get_by_key(self, class_name: str, key: str) -> CatalogObject | None: ...
    def get_by_uuid(self, class_name: str, uuid: str) -> CatalogObject | None: ...
    def children(self, parent_uuid: str) -> list[CatalogObject]:
        """A parent's variants, in creation order."""

    def with_children(self, uuids: Sequence[str]) -> set[str]:
        """Which of `uuids` are parents of at least one variant."""

    def family_keys(self, class_name: str, keys: Sequence[str]) -> set[str]:
        """Which of `keys` name a variant or a parent of variants."""

    def keys_of(self, uuids: Sequence[str]) -> dict[str, str]:
        """The business keys of the objects with these uuids."""

    def resolve_keys(self, class_name: str, keys: Sequence[str]) -> dict[str, str]: ...
    def resolve_uuids(self, uuids: Sequence[str]) -> dict[str, TargetRef]: ...
    def get_many_by_keys(
        self, class_name: str, keys: Sequence[str]
    ) -> dict[str, CatalogObject]: ...
    def insert(self, obj: CatalogObject) -> None: ...
    def insert_many(self, objs: Sequence[CatalogObject]) -> None:
        """Insert and set each object's id."""

    def update(self, obj: CatalogObject, expected_version: int) -> bool: ...
    def update_many(self, changes: Sequence[tuple[CatalogObject, int]]) -> int:
        """Compare-and-set updates (object, expected version); the number that matched."""

    def delete(self, obj: CatalogObject) -> None: ...
    def set_references(self, obj: CatalogObject, refs: Sequence[tuple[str, str]]) -> None: ...
    def set_references_many(
        self,
        items: Sequence[tuple[CatalogObject, Sequence[tuple[str, str]]]],
        *,
        new: bool = False,
    ) -> None:
        """Replaces the objects' references; `new`: objects created in this unit of work,
        which have none to replace yet."""

    def referrers(self, uuid: str, limit: int) -> list[Referrer]: ...
    def referrer_classes(self, uuid: str, *, with_variants: bool) -> set[str]:
        """The classes of the objects referring to the object `uuid` (and, `with_variants`,
        to its variants), leaving out those objects themselves: they go with it."""

    def value_taken(
        self, class_name: str, field: str, value: Any, exclude_uuid: str | None
    ) -> bool: ...
    def values_taken(self, class_name: str, field: str, values: Sequence[Any]) -> dict[Any, str]:
        """Which of `values` objects of the class hold in `field`: value -> holder's uuid."""

    def values_batches(self, class_name: str, size: int) -> Iterator[list[tuple[int, Any]]]:
        """(internal id, values) of every object of the class, `size` at a time."""

    def set_completeness_many(self, rows: Iterable[tuple[int, dict[str, Any]]]) -> None:
        """Store each object's completeness (catalog.completeness) by internal id."""

    def count(self, class_name: str) -> int: ...
    def counts(self) -> dict[str, ObjectCounts]:
        """Published and draft objects per class name, in one grouped query (no object
        built); classes without objects are left out."""

    def iterate(self, class_name: str) -> Iterator[CatalogObject]: ...
    def duplicate_values(self, class_name: str, field: str, limit: int) -> list[Any]: ...
    def list_page(
        self,
        class_name: str,
        where: Node | None,
        sort: Sequence[SortKey],
        first: int,
        after: str | None,
        include_drafts: bool,
        family: FamilyFilter | None = None,
        count: bool = True,
    ) -> Page: ...


class ObjectPointReads(Protocol):
    """Single-statement reads outside any unit of work, for the hottest read paths."""

    def get_with_targets(
        self, class_name: str, key: str, fields: Sequence[str]
    ) -> tuple[CatalogObject, dict[str, RelatedObject]] | None:
        """The object and the single-valued relation targets in `fields`, in one read."""


class VersionRepository(Protocol):
    def add(self, version: ObjectVersion) -> None: ...
    def add_many(self, versions: Sequence[ObjectVersion]) -> None: ...
    def for_object(self, object_uuid: str) -> list[ObjectVersion]: ...
    def get(self, object_uuid: str, version: int) -> ObjectVersion | None: ...


class OutboxRepository(Protocol):
    def add(self, event: OutboxEvent) -> None: ...
    def add_many(self, events: Sequence[OutboxEvent]) -> None: ...


class AssetRepository(Protocol):
    """Asset rows (pimhub.assets); their versions and events go through the version and
    outbox repositories like objects'."""

    def lock(self, paths: Sequence[str]) -> None:
        """Holds a write lock per asset path until the unit of work ends, as
        ObjectRepository.lock does per business key. Take it before reading the path."""

    def hold(self, uuids: Sequence[str], *, exclusive: bool = False) -> set[str]:
        """Locks assets until the unit of work ends: shared by writers that refer to them,
        exclusive by their delete, so a reference is never written to an asset being
        deleted; returns the uuids that still exist once the lock is held."""

    def get_by_path(self, path: str) -> Asset | None: ...
    def get_by_uuid(self, uuid: str) -> Asset | None: ...
    def get_many(self, uuids: Sequence[str]) -> dict[str, Asset]: ...
    def uuids_of_paths(self, paths: Sequence[str]) -> dict[str, str]:
        """path -> uuid of the assets at these paths."""

    def existing_uuids(self, uuids: Sequence[str]) -> set[str]: ...
    def insert(self, asset: Asset) -> Asset:
        """Insert; the asset with its internal id."""

    def update(self, asset: Asset, expected_version: int) -> bool:
        """Compare-and-set on the version; False when another writer changed it first."""

    def delete(self, asset: Asset) -> None: ...
    def list_page(
        self, folder: str, first: int, after: str | None
    ) -> tuple[list[Asset], int, str | None]:
        """Assets in `folder` and below, by path: (items, total, next cursor)."""

    def find_by_source(self, source: str) -> Asset | None: ...
    def count_with_checksum(self, checksum: str) -> int: ...
    def referrer_classes(self, uuid: str) -> set[str]:
        """The classes of the objects whose fields refer to the asset `uuid`."""

    def held_checksums(self, checksums: Collection[str]) -> set[str]:
        """Which of these contents some asset holds (garbage collection asks in batches)."""


class SearchIndexWriter(Protocol):
    """Keeps the search index current inside the unit of work that changes the object, so a
    committed change is searchable at once and a rolled-back one never was."""

    def put(self, definition: ClassDefinition, obj: CatalogObject) -> None: ...
    def put_many(self, definition: ClassDefinition, objs: Sequence[CatalogObject]) -> None: ...
    def add_many(self, definition: ClassDefinition, objs: Sequence[CatalogObject]) -> None:
        """put_many for objects created in this unit of work: nothing to replace."""

    def remove(self, obj: CatalogObject) -> None: ...
    def class_changed(self, old: ClassDefinition, new: ClassDefinition) -> None:
        """Index the class's objects again if the change affects their documents."""


class UnitOfWork(Protocol):
    """One transaction. Leaving the block without commit() rolls everything back."""

    @property
    def classes(self) -> ClassRepository: ...
    @property
    def objects(self) -> ObjectRepository: ...
    @property
    def versions(self) -> VersionRepository: ...
    @property
    def outbox(self) -> OutboxRepository: ...
    @property
    def search(self) -> SearchIndexWriter: ...
    @property
    def assets(self) -> AssetRepository: ...

    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
    def commit(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self, *, write: bool = False, bulk: bool = False) -> UnitOfWork:
        """`bulk`: the unit of work writes and looks up thousands of rows per statement (an
        import), which the storage may plan and execute differently."""
