"""The catalog service: every write to objects goes through here, one unit of work each.

Each save validates the values, resolves relations to target uuids, and writes the object
row, a version row and one outbox event in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from pimhub.catalog.batch import BatchWriter, WriteMode, merge_patch, version_of
from pimhub.catalog.classes import ClassDefinition
from pimhub.catalog.errors import (
    FieldError,
    InvalidInput,
    ObjectNotFound,
    StillReferenced,
    UnknownClass,
    ValidationFailed,
    VersionNotFound,
    WriteConflict,
)
from pimhub.catalog.events import object_event, object_event_type
from pimhub.catalog.fields import FieldType
from pimhub.catalog.ids import new_uuid
from pimhub.catalog.locking import key_lock
from pimhub.catalog.objects import (
    CatalogObject,
    ChangeAction,
    FieldChange,
    ObjectVersion,
    diff_versions,
)
from pimhub.catalog.ports import ObjectPointReads, Page, UnitOfWork, UnitOfWorkFactory
from pimhub.catalog.preconditions import (
    Existence,
    check_existence,
    check_unique,
    check_version,
    duplicate_key,
)
from pimhub.catalog.product_view import product_view
from pimhub.catalog.query import FieldResolver, FilterParser, parse_sort
from pimhub.catalog.relations import resolve_relations
from pimhub.catalog.retry import write_retrying
from pimhub.catalog.validation import NUL, changed_fields, validate_values

MAX_PAGE_SIZE = 1000
MAX_REFERRERS_SHOWN = 20
T = TypeVar("T")


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class SaveResult:
    object: CatalogObject
    created: bool
    changed: bool


@dataclass(frozen=True, slots=True)
class ListQuery:
    filter: str | None = None
    sort: Sequence[str] = ()
    first: int = 50
    after: str | None = None
    include_drafts: bool = False


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
        self.clock = clock

    # -- reads ---------------------------------------------------------------------------

    def class_definition(self, uow: UnitOfWork, name: str) -> ClassDefinition:
        definition = uow.classes.get(name)
        if definition is None:
            known = ", ".join(sorted(c.name for c in uow.classes.all())) or "none yet"
            raise UnknownClass(f"there is no class '{name}' (classes: {known})")
        return definition

    def get_object(self, class_name: str, key: str, *, include_drafts: bool) -> CatalogObject:
        with self.uow() as uow:
            self.class_definition(uow, class_name)
            return self._visible(uow, class_name, key, include_drafts)

    def list_objects(self, class_name: str, query: ListQuery) -> Page:
        if not 1 <= query.first <= MAX_PAGE_SIZE:
            raise InvalidInput(
                f"first must be between 1 and {MAX_PAGE_SIZE}",
                [FieldError("first", f"got {query.first}")],
            )
        with self.uow() as uow:
            definition = self.class_definition(uow, class_name)
            resolver = FieldResolver(definition, default_language=self.default_language)
            where = FilterParser(resolver).parse(query.filter)
            sort = parse_sort(resolver, list(query.sort))
            return uow.objects.list_page(
                class_name, where, sort, query.first, query.after, query.include_drafts
            )

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
        """The class's definition, locked against changes until the write commits."""
        uow.classes.lock([class_name], shared=True)
        return self.class_definition(uow, class_name)

    def _current(self, uow: UnitOfWork, class_name: str, key: str) -> CatalogObject | None:
        """The stored object with business key `key`, read after locking the key."""
        if NUL in key:
            # No stored key holds one (validation refuses it), and PostgreSQL cannot even
            # compare it: the write goes on to validation, which names the field.
            return None
        uow.objects.lock(class_name, [key_lock(key)])
        return uow.objects.get_by_key(class_name, key)

    def create(
        self, class_name: str, values: Mapping[str, Any], *, published: bool = True, author: str
    ) -> CatalogObject:
        def work(uow: UnitOfWork) -> CatalogObject:
            definition = self._writable_class(uow, class_name)
            key = values.get(definition.business_key)
            if isinstance(key, str) and self._current(uow, class_name, key) is not None:
                raise duplicate_key(definition, key)
            return self._save(uow, definition, None, values, published, author).object

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
        author: str,
    ) -> SaveResult:
        """Create or fully replace the object with business key `key`."""

        def work(uow: UnitOfWork) -> SaveResult:
            definition = self._writable_class(uow, class_name)
            body_key = values.get(definition.business_key, key)
            if body_key != key:
                raise InvalidInput(
                    f"the body names {definition.business_key} '{body_key}' but the URL "
                    f"names '{key}'; rename an object with PATCH",
                    [FieldError(definition.business_key, "differs from the key in the URL")],
                )
            before = self._current(uow, class_name, key)
            check_existence(class_name, key, before, existence)
            if before is None and expected_version is not None:
                raise ObjectNotFound(f"no {class_name} with key '{key}' to update")
            check_version(before, expected_version)
            full = {**values, definition.business_key: key}
            pub = published if published is not None else (before.published if before else True)
            return self._save(uow, definition, before, full, pub, author)

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
        author: str,
    ) -> SaveResult:
        """Merge `changes` into the stored values; a null removes a field (RFC 7396)."""

        def work(uow: UnitOfWork) -> SaveResult:
            definition = self._writable_class(uow, class_name)
            before = self._current(uow, class_name, key)
            check_existence(class_name, key, before, existence)
            if before is None:
                raise ObjectNotFound(f"no {class_name} with key '{key}'")
            return self._merge(
                uow, definition, before, changes, published, expected_version, author
            )

        return self._write(work)

    def upsert(
        self,
        class_name: str,
        values: Mapping[str, Any],
        *,
        published: bool | None = None,
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
            before = self._current(uow, class_name, key)
            if before is None:
                pub = True if published is None else published
                return self._save(uow, definition, None, values, pub, author)
            return self._merge(uow, definition, before, values, published, None, author)

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
            yield BatchWriter(
                uow,
                definition,
                mode=mode,
                published=published,
                author=author,
                clock=self.clock,
                languages=self.languages,
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
    ) -> SaveResult:
        check_version(before, expected_version)
        merged = merge_patch(before.values, changes)
        new_key = merged.get(definition.business_key)
        if (
            new_key != before.key
            and isinstance(new_key, str)
            and (self._current(uow, definition.name, new_key) is not None)
        ):
            raise duplicate_key(definition, new_key)
        pub = before.published if published is None else published
        return self._save(uow, definition, before, merged, pub, author)

    def delete(
        self,
        class_name: str,
        key: str,
        *,
        force: bool = False,
        expected_version: int | None = None,
        existence: Existence | None = None,
        author: str,
    ) -> CatalogObject:
        """Delete an object. While others refer to it this is refused, unless `force`, which
        removes those references (a new version of each referrer)."""

        def work(uow: UnitOfWork) -> CatalogObject:
            self._writable_class(uow, class_name)
            obj = self._current(uow, class_name, key)
            check_existence(class_name, key, obj, existence)
            if obj is None:
                raise ObjectNotFound(f"no {class_name} with key '{key}'")
            check_version(obj, expected_version)
            return self._delete(uow, obj, force, author)

        return self._write(work)

    def _delete(
        self, uow: UnitOfWork, obj: CatalogObject, force: bool, author: str
    ) -> CatalogObject:
        referrers = uow.objects.referrers(obj.uuid, MAX_REFERRERS_SHOWN + 1)
        if referrers and not force:
            shown = referrers[:MAX_REFERRERS_SHOWN]
            more = " and more" if len(referrers) > MAX_REFERRERS_SHOWN else ""
            raise StillReferenced(
                f"{obj.class_name} '{obj.key}' is still referenced by {len(shown)}{more} "
                "object(s); remove those references first or delete with force",
                [
                    FieldError(f"{r.class_name}/{r.key}", f"refers to it in field '{r.field}'")
                    for r in shown
                ],
            )
        if referrers:
            self._unlink_referrers(uow, obj.uuid, author)
        now = self.clock()
        uow.search.remove(obj)
        uow.objects.delete(obj)
        gone = CatalogObject(
            obj.class_name,
            obj.key,
            obj.uuid,
            obj.values,
            obj.published,
            obj.version + 1,
            obj.created_at,
            now,
            obj.id,
        )
        self._record(uow, None, gone, [], ChangeAction.DELETED, author, deleted_from=obj)
        return gone

    def _unlink_referrers(self, uow: UnitOfWork, target_uuid: str, author: str) -> None:
        while referrers := uow.objects.referrers(target_uuid, 100):
            for ref in {(r.class_name, r.key) for r in referrers}:
                definition = self._writable_class(uow, ref[0])
                before = self._current(uow, *ref)
                if before is None:  # deleted meanwhile: its references went with it
                    continue
                values = {
                    k: _without(v, target_uuid)
                    if definition.field(k) and definition.field(k).type == FieldType.RELATION  # type: ignore[union-attr]
                    else v
                    for k, v in before.values.items()
                }
                self._save(uow, definition, before, values, before.published, author)

    def _save(
        self,
        uow: UnitOfWork,
        definition: ClassDefinition,
        before: CatalogObject | None,
        values: Mapping[str, Any],
        published: bool,
        author: str,
    ) -> SaveResult:
        normalized, errors = validate_values(definition, values, languages=self.languages)
        refs = resolve_relations(uow.objects, definition, normalized, errors)
        check_unique(uow, definition, normalized, before, errors)
        if errors:
            raise ValidationFailed(
                f"{definition.name} has {len(errors)} invalid field(s); nothing was saved", errors
            )
        changed = changed_fields(before.values if before else {}, normalized)
        if before is not None and before.published != published:
            changed.append("published")
        if before is not None and not changed:
            return SaveResult(before, created=False, changed=False)
        now = self.clock()
        key = normalized[definition.business_key]
        if before is None:
            obj = CatalogObject(
                definition.name, key, new_uuid(), normalized, published, 1, now, now
            )
            uow.objects.insert(obj)
        else:
            obj = CatalogObject(
                definition.name,
                key,
                before.uuid,
                normalized,
                published,
                before.version + 1,
                before.created_at,
                now,
                before.id,
            )
            if not uow.objects.update(obj, before.version):
                # Only a writer that skipped the key lock gets here; run the write again.
                raise WriteConflict(
                    f"{definition.name} '{before.key}' was changed concurrently; try again"
                )
        uow.objects.set_references(obj, refs)
        uow.search.put(definition, obj)
        action = ChangeAction.CREATED if before is None else ChangeAction.UPDATED
        self._record(uow, before, obj, changed, action, author)
        return SaveResult(obj, created=before is None, changed=True)

    def _record(
        self,
        uow: UnitOfWork,
        before: CatalogObject | None,
        obj: CatalogObject,
        changed: list[str],
        action: ChangeAction,
        author: str,
        deleted_from: CatalogObject | None = None,
    ) -> None:
        uow.versions.add(version_of(before, obj, changed, author, action))
        after = None if deleted_from is not None else obj
        event_type = object_event_type(deleted_from or before, after)
        uow.outbox.add(object_event(event_type, obj, changed, obj.modified_at))


def _without(value: Any, target: str) -> Any:
    if isinstance(value, list):
        return [v for v in value if v != target]
    return None if value == target else value
