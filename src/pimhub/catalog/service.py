"""The catalog service: every write to objects goes through here, one unit of work each.

Each save validates the values, resolves relations to target uuids, and writes the object
row, a version row and one outbox event in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from pimhub.catalog.batch import BatchWriter, WriteMode, merge_patch
from pimhub.catalog.classes import ClassDefinition
from pimhub.catalog.clock import utc_now
from pimhub.catalog.errors import (
    FieldError,
    InvalidInput,
    ObjectNotFound,
    ValidationFailed,
    VersionNotFound,
)
from pimhub.catalog.objects import (
    CatalogObject,
    FieldChange,
    ObjectVersion,
    diff_versions,
)
from pimhub.catalog.ports import (
    ObjectCounts,
    ObjectPointReads,
    Page,
    UnitOfWork,
    UnitOfWorkFactory,
)
from pimhub.catalog.preconditions import (
    Existence,
    check_existence,
    check_version,
    duplicate_key,
)
from pimhub.catalog.product_view import product_view
from pimhub.catalog.query import FieldResolver, FilterParser, parse_sort
from pimhub.catalog.restore import replacing_patch
from pimhub.catalog.retry import write_retrying
from pimhub.catalog.transitions import ScopeCheck, run_transition
from pimhub.catalog.validation import NUL
from pimhub.catalog.variant_batch import FamilyItems
from pimhub.catalog.variants import KEEP, FamilyFilter, FamilyRole, ParentRef, patch_target
from pimhub.catalog.workflows import checked_published
from pimhub.catalog.writer import (
    ObjectWriter,
    SaveResult,
    class_definition,
    current,
    writable_class,
)

MAX_PAGE_SIZE = 1000
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ListQuery:
    filter: str | None = None
    sort: Sequence[str] = ()
    first: int = 50
    after: str | None = None
    include_drafts: bool = False
    family: FamilyRole | None = None
    parent: str | None = None  # only the variants of this object (business key or uuid)
    # False: the matches are not counted (Page.total is -1). A count reads every match, which
    # costs more than the page itself in a large class; the admin grid says "more" instead.
    count: bool = True


# The relations whose names the normalized product payload shows.
PRODUCT_RELATIONS = ("category", "brand")


class CatalogService:
    """Object reads and writes. Callers pass `author` (the API key name or CLI user)."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        point_reads: ObjectPointReads,
        *,
        languages: frozenset[str] | None = None,
        default_language: str = "en",
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.uow = uow
        self.point_reads = point_reads
        self.languages = languages
        self.default_language = default_language
        self.writer = ObjectWriter(languages=languages, clock=clock)

    @property
    def clock(self) -> Callable[[], datetime]:
        return self.writer.clock

    @clock.setter
    def clock(self, clock: Callable[[], datetime]) -> None:
        # Tests swap the clock after construction; the writer stamps what it saves with it.
        self.writer.clock = clock

    # -- reads ---------------------------------------------------------------------------

    def class_definition(self, uow: UnitOfWork, name: str) -> ClassDefinition:
        return class_definition(uow, name)

    def get_object(self, class_name: str, key: str, *, include_drafts: bool) -> CatalogObject:
        with self.uow() as uow:
            self.class_definition(uow, class_name)
            return self._visible(uow, class_name, key, include_drafts)

    def list_objects(
        self, class_name: str, query: ListQuery, *, definition: ClassDefinition | None = None
    ) -> Page:
        """`definition`: the class's, when the caller has just read it (the admin grid),
        so the listing does not read it again."""
        if not 1 <= query.first <= MAX_PAGE_SIZE:
            raise InvalidInput(
                f"first must be between 1 and {MAX_PAGE_SIZE}",
                [FieldError("first", f"got {query.first}")],
            )
        with self.uow() as uow:
            if definition is None or definition.name != class_name:
                definition = self.class_definition(uow, class_name)
            resolver = FieldResolver(definition, default_language=self.default_language)
            where = FilterParser(resolver).parse(query.filter)
            sort = parse_sort(resolver, list(query.sort))
            family = None
            if query.family is not None or query.parent is not None:
                parent = None
                if query.parent is not None:
                    parent = self._visible(uow, class_name, query.parent, query.include_drafts)
                family = FamilyFilter(query.family, parent.uuid if parent else None)
            return uow.objects.list_page(
                class_name,
                where,
                sort,
                query.first,
                query.after,
                query.include_drafts,
                family,
                count=query.count,
            )

    def object_counts(self) -> dict[str, ObjectCounts]:
        """Published and draft objects per class (classes without objects left out)."""
        with self.uow() as uow:
            return uow.objects.counts()

    def parent_keys(self, objs: Sequence[CatalogObject]) -> dict[str, str]:
        """The business keys of the parents of the variants among `objs`, by parent uuid."""
        uuids = sorted({o.parent for o in objs if o.parent is not None})
        if not uuids:
            return {}
        with self.uow() as uow:
            return uow.objects.keys_of(uuids)

    def list_versions(
        self, class_name: str, key: str, *, include_drafts: bool
    ) -> list[ObjectVersion]:
        with self.uow() as uow:
            obj = self._visible(uow, class_name, key, include_drafts)
            return uow.versions.for_object(obj.uuid)

    def version_diff(
        self, class_name: str, key: str, version: int, *, include_drafts: bool
    ) -> tuple[ObjectVersion, list[FieldChange]]:
        with self.uow() as uow:
            obj = self._visible(uow, class_name, key, include_drafts)
            this = uow.versions.get(obj.uuid, version)
            if this is None:
                raise VersionNotFound(
                    f"{class_name} '{key}' has no version {version} (current is {obj.version})"
                )
            before = uow.versions.get(obj.uuid, version - 1) if version > 1 else None
            return this, diff_versions(before, this)

    def uuids_of_keys(self, class_name: str, keys: Sequence[str]) -> dict[str, str]:
        """The uuids of the `class_name` objects with these business keys, by key (a filter
        on a relation compares the stored target uuid)."""
        if not keys:
            return {}
        with self.uow() as uow:
            return uow.objects.resolve_keys(class_name, list(keys))

    def objects_by_uuids(self, uuids: Sequence[str]) -> dict[str, CatalogObject]:
        """The objects with these uuids (of any class), for showing references by key."""
        with self.uow() as uow:
            found = uow.objects.resolve_uuids(list(uuids)) if uuids else {}
            objs = {u: uow.objects.get_by_uuid(t.class_name, u) for u, t in found.items()}
            return {u: o for u, o in objs.items() if o is not None}

    def product(self, sku: str, *, language: str | None, include_drafts: bool) -> dict[str, Any]:
        """The normalized product payload, read with one statement (product, category,
        brand)."""
        found = self.point_reads.get_with_targets("Product", sku, PRODUCT_RELATIONS)
        if found is None or (not found[0].published and not include_drafts):
            raise ObjectNotFound.named("Product", sku)
        product, related = found
        visible = {k: v for k, v in related.items() if v.published or include_drafts}
        return product_view(
            product,
            visible,
            language=language or self.default_language,
            default_language=self.default_language,
        )

    def _visible(
        self, uow: UnitOfWork, class_name: str, key: str, include_drafts: bool
    ) -> CatalogObject:
        obj = uow.objects.get_by_key(class_name, key) if NUL not in key else None
        # Unpublished objects look exactly like missing ones to keys without drafts access.
        if obj is None or (not obj.published and not include_drafts):
            raise ObjectNotFound.named(class_name, key)
        return obj

    # -- writes --------------------------------------------------------------------------
    #
    # Each write locks the business keys (and unique values) it is about to check before it
    # reads the current object, so that on PostgreSQL writers of one object run one after
    # the other instead of interleaving their reads and writes. A write that still loses a
    # race (a deadlock, an insert of the same key) is run again as a whole by _write: a
    # client that named no version never sees a conflict it could not have caused.

    def _write(self, work: Callable[[UnitOfWork], T]) -> T:
        return write_retrying(self.uow, work)

    def _writable_class(self, uow: UnitOfWork, class_name: str) -> ClassDefinition:
        return writable_class(uow, class_name)

    def _current(
        self, uow: UnitOfWork, class_name: str, key: str, parent: ParentRef = KEEP
    ) -> CatalogObject | None:
        return current(uow, class_name, key, parent)

    def create(
        self,
        class_name: str,
        values: Mapping[str, Any],
        *,
        published: bool | None = None,
        parent: str | None = None,
        author: str,
    ) -> CatalogObject:
        """Create an object (published unless `published` says otherwise, or its class's
        workflow does); `parent` (a business key or uuid) makes it a variant."""

        def work(uow: UnitOfWork) -> CatalogObject:
            definition = self._writable_class(uow, class_name)
            key = values.get(definition.business_key)
            if isinstance(key, str) and self._current(uow, class_name, key) is not None:
                raise duplicate_key(definition, key)
            pub = checked_published(definition, None, published)
            pub = True if pub is None else pub
            return self.writer.save(uow, definition, None, values, pub, author, parent).object

        return self._write(work)

    def put(
        self,
        class_name: str,
        key: str,
        values: Mapping[str, Any],
        *,
        published: bool | None = None,
        expected_version: int | None = None,
        existence: Existence | None = None,
        parent: ParentRef = KEEP,
        author: str,
    ) -> SaveResult:
        """Create or fully replace the object with business key `key` (its own values, for
        a variant; a `parent` left unsaid stays as it is)."""

        def work(uow: UnitOfWork) -> SaveResult:
            definition = self._writable_class(uow, class_name)
            body_key = values.get(definition.business_key, key)
            if body_key != key:
                raise InvalidInput(
                    f"the body names {definition.business_key} "
                    f"{'null' if body_key is None else repr(body_key)} but the URL "
                    f"names '{key}'; rename an object with PATCH",
                    [FieldError(definition.business_key, "differs from the key in the URL")],
                )
            before = self._current(uow, class_name, key, parent)
            check_existence(class_name, key, before, existence)
            if before is None and expected_version is not None:
                raise ObjectNotFound(f"no {class_name} with key '{key}' to update")
            check_version(before, expected_version)
            full = {**values, definition.business_key: key}
            pub = checked_published(definition, before, published)
            pub = pub if pub is not None else (before.published if before else True)
            return self.writer.save(uow, definition, before, full, pub, author, parent)

        return self._write(work)

    def patch(
        self,
        class_name: str,
        key: str,
        changes: Mapping[str, Any],
        *,
        published: bool | None = None,
        expected_version: int | None = None,
        existence: Existence | None = None,
        parent: ParentRef = KEEP,
        author: str,
    ) -> SaveResult:
        """Merge `changes` into the stored values; a null removes a field (RFC 7396), which
        a variant then inherits again."""

        def work(uow: UnitOfWork) -> SaveResult:
            definition = self._writable_class(uow, class_name)
            before = self._current(uow, class_name, key, parent)
            check_existence(class_name, key, before, existence)
            if before is None:
                raise ObjectNotFound(f"no {class_name} with key '{key}'")
            return self._merge(
                uow, definition, before, changes, published, expected_version, author, parent
            )

        return self._write(work)

    def upsert(
        self,
        class_name: str,
        values: Mapping[str, Any],
        *,
        published: bool | None = None,
        parent: ParentRef = KEEP,
        author: str,
    ) -> SaveResult:
        """Create the object named by the business key in `values`, or merge `values` into
        it (as patch does) when it exists: the write of batch imports and GraphQL
        upsert<Class>Batch."""

        def work(uow: UnitOfWork) -> SaveResult:
            definition = self._writable_class(uow, class_name)
            key = values.get(definition.business_key)
            if not isinstance(key, str) or not key:
                raise ValidationFailed(
                    f"an upsert names its object by {definition.business_key}",
                    [FieldError(definition.business_key, "required", "required")],
                )
            before = self._current(uow, class_name, key, parent)
            if before is None:
                pub = checked_published(definition, None, published)
                pub = True if pub is None else pub
                return self.writer.save(uow, definition, None, values, pub, author, parent)
            return self._merge(uow, definition, before, values, published, None, author, parent)

        return self._write(work)

    @contextmanager
    def batch_writer(
        self,
        class_name: str,
        *,
        mode: WriteMode = WriteMode.UPSERT,
        published: bool | None = None,
        author: str,
    ) -> Iterator[BatchWriter]:
        """One unit of work for writing batches of `class_name` (see catalog.batch); nothing
        is kept unless the writer's commit() is called."""
        with self.uow(write=True, bulk=True) as uow:
            definition = self._writable_class(uow, class_name)
            family = FamilyItems(
                self.writer, uow, definition, mode=mode, published=published, author=author
            )
            yield BatchWriter(
                uow,
                definition,
                mode=mode,
                published=published,
                author=author,
                clock=self.clock,
                languages=self.languages,
                family=family,
            )

    def _merge(
        self,
        uow: UnitOfWork,
        definition: ClassDefinition,
        before: CatalogObject,
        changes: Mapping[str, Any],
        published: bool | None,
        expected_version: int | None,
        author: str,
        parent: ParentRef = KEEP,
    ) -> SaveResult:
        check_version(before, expected_version)
        merged = merge_patch(patch_target(before, changes), changes)
        new_key = merged.get(definition.business_key)
        if (
            new_key != before.key
            and isinstance(new_key, str)
            and (self._current(uow, definition.name, new_key) is not None)
        ):
            raise duplicate_key(definition, new_key)
        pub = checked_published(definition, before, published)
        pub = before.published if pub is None else pub
        return self.writer.save(uow, definition, before, merged, pub, author, parent)

    def restore(
        self,
        class_name: str,
        key: str,
        version: int,
        *,
        expected_version: int | None,
        author: str,
    ) -> SaveResult:
        """Save the field values of `version` as a new version (published stays as it is);
        refused like any write when `expected_version` is no longer current."""

        def work(uow: UnitOfWork) -> SaveResult:
            definition = self._writable_class(uow, class_name)
            before = self._current(uow, class_name, key)
            if before is None:
                raise ObjectNotFound.named(class_name, key)
            old = uow.versions.get(before.uuid, version)
            if old is None or not old.values:
                raise VersionNotFound(
                    f"{class_name} '{key}' has no version {version} with values to restore"
                )
            changes = replacing_patch(before.own_values, old.values)
            return self._merge(uow, definition, before, changes, None, expected_version, author)

        return self._write(work)

    def transition(
        self,
        class_name: str,
        key: str,
        name: str,
        *,
        may_run: ScopeCheck,
        author: str,
        comment: str | None = None,
        expected_version: int | None = None,
        sees_drafts: bool = True,
        sees_class: bool = True,
    ) -> CatalogObject:
        """Run workflow transition `name` on an object (catalog.transitions); `may_run`
        says whether the caller holds any of a transition's scopes on the class. A caller
        without `sees_drafts` finds a draft missing when the transition is refused; one
        without `sees_class` (no scope on the class) is not told its transitions' names."""
        return self._write(
            lambda uow: run_transition(
                self.writer, uow, class_name, key, name, may_run=may_run, author=author,
                comment=comment, expected_version=expected_version, sees_drafts=sees_drafts,
                sees_class=sees_class,
            )
        )  # fmt: skip

    def delete(
        self,
        class_name: str,
        key: str,
        *,
        force: bool = False,
        expected_version: int | None = None,
        existence: Existence | None = None,
        author: str,
        may_unlink: Callable[[set[str]], None] | None = None,
    ) -> CatalogObject:
        """Delete an object. While others refer to it this is refused, unless `force`, which
        removes those references (a new version of each referrer). A forced delete first
        shows `may_unlink` the referrers' classes; it raises to refuse, before any change."""

        def work(uow: UnitOfWork) -> CatalogObject:
            self._writable_class(uow, class_name)
            obj = self._current(uow, class_name, key)
            check_existence(class_name, key, obj, existence)
            if obj is None:
                raise ObjectNotFound(f"no {class_name} with key '{key}'")
            check_version(obj, expected_version)
            return self.writer.delete(uow, obj, force, author, may_unlink)

        return self._write(work)
