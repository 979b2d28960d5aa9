"""Class definition changes: create, replace, delete and apply, refusing breaking changes."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from pimhub.access.audit import Auditor
from pimhub.catalog import completeness
from pimhub.catalog.classes import ClassDefinition, parse_class_definition
from pimhub.catalog.clock import utc_now
from pimhub.catalog.errors import (
    ClassInUse,
    Conflict,
    FieldError,
    IncompatibleClassChange,
    InvalidClassDefinition,
    InvalidInput,
    StaleVersion,
    UnknownClass,
    WriteConflict,
)
from pimhub.catalog.events import class_event
from pimhub.catalog.fields import FieldType
from pimhub.catalog.objects import CatalogObject
from pimhub.catalog.ports import ObjectRepository, UnitOfWork, UnitOfWorkFactory
from pimhub.catalog.retry import write_retrying
from pimhub.catalog.validation import validate_values
from pimhub.catalog.workflow_changes import WorkflowStates, assign_workflow_states

MAX_PROBLEMS_SHOWN = 20
T = TypeVar("T")


def breaking_changes(
    old: ClassDefinition,
    new: ClassDefinition,
    objects: Iterable[CatalogObject],
    count: int,
    duplicates: Callable[[str], list[Any]],
) -> list[FieldError]:
    """Every way `new` would break the stored objects of `old` (at most MAX_PROBLEMS_SHOWN
    per kind); empty when the change is safe."""
    problems: list[FieldError] = []
    if count == 0:
        return problems
    if old.business_key != new.business_key:
        problems.append(
            FieldError(
                "businessKey",
                f"changes from '{old.business_key}' to "
                f"'{new.business_key}' while {count} object(s) exist",
            )
        )
    for f in new.fields:
        prev = old.field(f.name)
        if f.type == FieldType.RELATION and prev is not None and prev.target != f.target:
            problems.append(
                FieldError(
                    f.name,
                    f"relation target changes from {prev.target} to "
                    f"{f.target}; stored references point at {prev.target}",
                )
            )
        if f.unique and (prev is None or not prev.unique):
            dupes = duplicates(f.name)
            if dupes:
                shown = ", ".join(repr(d) for d in dupes[:5])
                problems.append(
                    FieldError(f.name, f"becomes unique but objects share values: {shown}")
                )
    bad_objects = variants = 0
    states = WorkflowStates(old.workflow, new.workflow)
    for obj in objects:
        variants += obj.parent is not None
        states.count(obj)
        # Relation values are stored uuids; shape-checking them is enough here.
        _, errors = validate_values(new, obj.values)
        if errors:
            bad_objects += 1
            if bad_objects <= MAX_PROBLEMS_SHOWN:
                problems.extend(FieldError(f"{obj.key}.{e.field}", e.message) for e in errors)
    if bad_objects > MAX_PROBLEMS_SHOWN:
        problems.append(
            FieldError(
                "",
                f"... and {bad_objects - MAX_PROBLEMS_SHOWN} more objects would no longer be valid",
            )
        )
    problems += states.problems()
    if variants and old.variants != new.variants:
        # Axes and parent-only fields decide what every stored variant may hold and inherit.
        problems.append(
            FieldError(
                "variants",
                f"the variant rules change while {variants} variant(s) exist; make them "
                "standalone or delete them first",
            )
        )
    return problems


def _reshaped_fields(old: ClassDefinition, new: ClassDefinition) -> list[str]:
    """Fields whose stored shape changes with `new`: a number that becomes a quantity, a
    money field that becomes a price list."""
    names = []
    for f in new.fields:
        prev = old.field(f.name)
        if prev is None or (prev.type, prev.price_list) == (f.type, f.price_list):
            continue
        if f.type == FieldType.QUANTITY or f.price_list:
            names.append(f.name)
    return names


def upgrade_stored_values(
    objects: ObjectRepository, old: ClassDefinition, new: ClassDefinition
) -> int:
    """Rewrites the values of reshaped fields (see _reshaped_fields) into their new shape:
    a number n becomes n in the quantity's unit, a money value the amount of its currency.
    Run after _refuse_breaking (which validated every object against `new`) in the class
    change's transaction. Objects keep their version: their values mean what they meant."""
    names = _reshaped_fields(old, new)
    if not names:
        return 0
    changes: list[tuple[CatalogObject, int]] = []
    for obj in objects.iterate(old.name):
        given = {n: obj.values[n] for n in names if n in obj.values}
        values, errors = validate_values(new, given)
        errors = [e for e in errors if e.code != "required"]  # the other fields are not given
        if given and not errors and values != given:
            obj.values = {**obj.values, **values}
            changes.append((obj, obj.version))
    for start in range(0, len(changes), 500):
        chunk = changes[start : start + 500]
        if objects.update_many(chunk) != len(chunk):
            # The class lock keeps object writes out, so this is a race lost some other way:
            # run the whole class change again.
            raise WriteConflict(
                f"objects of {old.name} changed while their values were upgraded",
                [FieldError("", "changed concurrently", "write-conflict")],
            )
    return len(changes)


# What else depends on a class and its fields (the datahub configurations: the classes they
# expose, the fields they list, their formats): given the current definition (None for a new
# class) and the new one (None when the class is deleted), the problems the change would
# cause there. Wired by bootstrap; the domain knows nothing of who depends.
ClassDependents = Callable[[ClassDefinition | None, ClassDefinition | None], list[FieldError]]


class ClassService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Callable[[], datetime] = utc_now,
        *,
        audit: Auditor | None = None,
    ) -> None:
        self.uow = uow
        self.clock = clock
        self.dependents: list[ClassDependents] = []
        self.audit = audit  # records each change after it committed

    def _record(
        self, verb: str, name: str, before: ClassDefinition | None, after: ClassDefinition | None
    ) -> None:
        if self.audit is not None:
            self.audit.record(
                f"class.{verb}",
                "class",
                name,
                before=before.to_dict() if before else None,
                after=after.to_dict() if after else None,
            )

    def _refuse_breaking_dependents(self, definitions: Sequence[ClassDefinition]) -> None:
        """Refuses changes that would break what depends on the classes' fields. Checked
        before the class change's transaction, which it would otherwise hold open while
        reading elsewhere; a dependent saved in between is still refused by its own
        validation or, at worst, left out of its answers with a warning."""
        if not self.dependents:
            return
        current = {c.name: c for c in self.all()}
        problems: list[FieldError] = []
        for new in definitions:
            old = current.get(new.name)
            if old is not None and old.to_dict(with_version=False) == new.to_dict(
                with_version=False
            ):
                continue
            for check in self.dependents:
                problems += check(old, new)
        if problems:
            raise IncompatibleClassChange(
                f"changing class {', '.join(d.name for d in definitions)} would break "
                f"{len(problems)} thing(s) that depend on its fields, first: "
                f"{problems[0].message}; change those first",
                problems,
            )

    def all(self) -> list[ClassDefinition]:
        with self.uow() as uow:
            return sorted(uow.classes.all(), key=lambda c: c.name)

    def get(self, name: str) -> ClassDefinition:
        with self.uow() as uow:
            return self._existing(uow, name)

    def create(self, raw: Mapping[str, Any], *, author: str) -> ClassDefinition:
        definition = parse_class_definition(raw)

        def work(uow: UnitOfWork) -> ClassDefinition:
            uow.classes.lock([definition.name])
            if uow.classes.get(definition.name) is not None:
                raise Conflict(
                    f"class '{definition.name}' already exists; use PUT to change it",
                    [FieldError("name", "already exists")],
                )
            return self._store(uow, definition, 1, "created", author, pending=[definition])

        created = self._write(work)
        self._record("created", created.name, None, created)
        return created

    def _write(self, work: Callable[[UnitOfWork], T]) -> T:
        return write_retrying(self.uow, work)

    def replace(
        self, name: str, raw: Mapping[str, Any], *, author: str, expected_version: int | None = None
    ) -> ClassDefinition:
        definition = parse_class_definition(raw)
        if definition.name != name:
            raise InvalidInput(
                f"the body defines '{definition.name}' but the URL names '{name}'",
                [FieldError("name", "differs from the URL")],
            )
        self._refuse_breaking_dependents([definition])
        read: list[ClassDefinition] = []  # the definition replaced, for the audit log

        def work(uow: UnitOfWork) -> ClassDefinition:
            uow.classes.lock([name])
            old = self._existing(uow, name)
            read[:] = [old]
            if expected_version is not None and expected_version != old.version:
                raise StaleVersion(
                    f"class {name} is at version {old.version}, not {expected_version}",
                    current_version=old.version,
                )
            if old.to_dict(with_version=False) == definition.to_dict(with_version=False):
                return old
            self._refuse_breaking(uow, old, definition)
            upgrade_stored_values(uow.objects, old, definition)
            assign_workflow_states(uow.objects, old, definition)
            saved = self._store(
                uow, definition, old.version + 1, "updated", author, pending=[definition]
            )
            uow.search.class_changed(old, saved)
            completeness.class_changed(uow.objects, old, saved)
            return saved

        saved = self._write(work)
        if saved.version != read[0].version:
            self._record("updated", name, read[0], saved)
        return saved

    def check(self, raw: Mapping[str, Any], *, name: str | None = None) -> str:
        """What saving `raw` would do (created, updated or unchanged) without saving it: the
        same refusals as create (`name` None) and replace (`name` the class changed), from
        the same checks, so a form can offer a dry run."""
        definition = parse_class_definition(raw)
        if name is not None and definition.name != name:
            raise InvalidInput(
                f"the definition names '{definition.name}' but this is class '{name}'",
                [FieldError("name", "differs from the class being changed")],
            )
        self._refuse_breaking_dependents([definition])
        with self.uow() as uow:
            old = uow.classes.get(definition.name)
            if old is None and name is not None:
                raise UnknownClass(f"there is no class '{name}'")
            if old is not None and name is None:
                raise Conflict(
                    f"class '{definition.name}' already exists; use PUT to change it",
                    [FieldError("name", "already exists")],
                )
            if old is not None and old.to_dict(with_version=False) == definition.to_dict(
                with_version=False
            ):
                return "unchanged"
            if old is not None:
                self._refuse_breaking(uow, old, definition)
            known = {c.name for c in uow.classes.all()} | {definition.name}
            _refuse_unknown_targets(definition, known)
            return "created" if old is None else "updated"

    def delete(self, name: str, *, author: str) -> None:
        if self.dependents:
            old = self.get(name)
            problems = [p for check in self.dependents for p in check(old, None)]
            if problems:
                raise IncompatibleClassChange(
                    f"deleting class {name} would break {len(problems)} thing(s) that "
                    f"depend on it, first: {problems[0].message}; change those first",
                    problems,
                )
        deleted = self._write(lambda uow: self._delete(uow, name))
        self._record("deleted", name, deleted, None)

    def _delete(self, uow: UnitOfWork, name: str) -> ClassDefinition:
        uow.classes.lock([name])
        self._existing(uow, name)
        count = uow.objects.count(name)
        if count:
            raise ClassInUse(f"class {name} still has {count} object(s); delete them first")
        users = [
            f"{c.name}.{f.name}"
            for c in uow.classes.all()
            if c.name != name
            for f in c.relation_fields()
            if f.target == name
        ]
        if users:
            raise ClassInUse(
                f"class {name} is the target of relations: {', '.join(users)}",
                [FieldError(u, "relation targets this class") for u in users],
            )
        old = self._existing(uow, name)
        uow.classes.delete(name)
        uow.outbox.add(class_event(name, old.version + 1, "deleted", self.clock()))
        return old

    def apply(self, raws: Sequence[Mapping[str, Any]], *, author: str) -> list[tuple[str, str]]:
        """Create or update several classes in one transaction (YAML apply). Returns
        (name, created|updated|unchanged) per class; nothing is saved if any one fails."""
        definitions: list[ClassDefinition] = []
        errors: list[FieldError] = []
        for i, raw in enumerate(raws):
            try:
                definitions.append(parse_class_definition(raw))
            except InvalidClassDefinition as exc:
                errors.extend(FieldError(f"classes[{i}].{e.field}", e.message) for e in exc.errors)
        if errors:
            raise InvalidClassDefinition(
                "the class definitions have problems; nothing applied", errors
            )
        self._refuse_breaking_dependents(definitions)
        changes: dict[str, tuple[ClassDefinition | None, ClassDefinition]] = {}
        results = self._write(lambda uow: self._apply(uow, definitions, author, changes))
        for name, outcome in results:
            if name in changes:
                self._record(outcome, name, *changes[name])
        return results

    def _apply(
        self,
        uow: UnitOfWork,
        definitions: list[ClassDefinition],
        author: str,
        changes: dict[str, tuple[ClassDefinition | None, ClassDefinition]],
    ) -> list[tuple[str, str]]:
        """`changes` gets (before, after) of each class created or updated."""
        changes.clear()  # a retried transaction starts again
        results: list[tuple[str, str]] = []
        uow.classes.lock([d.name for d in definitions])
        for definition in definitions:
            old = uow.classes.get(definition.name)
            if old is None:
                created = self._store(uow, definition, 1, "created", author, pending=definitions)
                changes[definition.name] = (None, created)
                results.append((definition.name, "created"))
            elif old.to_dict(with_version=False) == definition.to_dict(with_version=False):
                results.append((definition.name, "unchanged"))
            else:
                self._refuse_breaking(uow, old, definition)
                upgrade_stored_values(uow.objects, old, definition)
                assign_workflow_states(uow.objects, old, definition)
                saved = self._store(
                    uow, definition, old.version + 1, "updated", author, pending=definitions
                )
                uow.search.class_changed(old, saved)
                completeness.class_changed(uow.objects, old, saved)
                changes[definition.name] = (old, saved)
                results.append((definition.name, "updated"))
        return results

    def _existing(self, uow: UnitOfWork, name: str) -> ClassDefinition:
        definition = uow.classes.get(name)
        if definition is None:
            raise UnknownClass(f"there is no class '{name}'")
        return definition

    def _refuse_breaking(self, uow: UnitOfWork, old: ClassDefinition, new: ClassDefinition) -> None:
        if completeness.only_channels_differ(old, new):
            # Channels decide no object's validity: skip reading and validating them all.
            return
        count = uow.objects.count(old.name)
        problems = breaking_changes(
            old,
            new,
            uow.objects.iterate(old.name),
            count,
            lambda field: uow.objects.duplicate_values(old.name, field, 5),
        )
        if problems:
            raise IncompatibleClassChange(
                f"changing class {old.name} would break its {count} stored object(s); "
                "migrate the data first or make the change compatible",
                problems,
            )

    def _store(
        self,
        uow: UnitOfWork,
        definition: ClassDefinition,
        version: int,
        action: str,
        author: str,
        pending: Sequence[ClassDefinition],
    ) -> ClassDefinition:
        _refuse_unknown_targets(
            definition, {c.name for c in uow.classes.all()} | {p.name for p in pending}
        )
        saved = definition.with_version(version)
        uow.classes.save(saved, author)
        uow.outbox.add(class_event(definition.name, version, action, self.clock()))
        return saved


def _refuse_unknown_targets(definition: ClassDefinition, known: set[str]) -> None:
    """Relations must target a class that exists (or is saved in the same apply)."""
    missing = [
        FieldError(f"fields.{f.name}.target", f"no class '{f.target}'")
        for f in definition.relation_fields()
        if f.target not in known
    ]
    if missing:
        raise InvalidClassDefinition(f"class {definition.name} relates to unknown classes", missing)
