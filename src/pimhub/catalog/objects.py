"""Catalog objects and their versions."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache
from typing import Any

# An object's columns in the order a joined row holds them (GraphQL's plans and the storage's
# point reads shape rows by it); here so that storage needs no datahub module to know it.
OBJECT_FIELDS = (
    "id",
    "uuid",
    "class_name",
    "business_key",
    "published",
    "version",
    "created_at",
    "modified_at",
    "data",
    "parent_uuid",
    "inherited",
    "completeness",
    "workflow_state",
)


@dataclass(slots=True)
class CatalogObject:
    """An object of a class. `id` is internal to the hub; `uuid` and `key` leave it."""

    class_name: str
    key: str
    uuid: str
    values: dict[str, Any]
    published: bool
    version: int
    created_at: datetime
    modified_at: datetime
    id: int | None = None
    # A variant: its parent's uuid, and which of `values` it takes from that parent (the
    # values are the effective ones; its own are the rest, see `own_values`).
    parent: str | None = None
    inherited: tuple[str, ...] = ()
    # Per completeness channel and language: {"ratio", "missing"} (catalog.completeness);
    # None where it was not read or computed.
    completeness: dict[str, Any] | None = None
    # Its state in its class's workflow (catalog.workflows); None for classes without one.
    workflow_state: str | None = None

    @property
    def own_values(self) -> dict[str, Any]:
        """The values the object sets itself (all of them, unless it is a variant)."""
        if not self.inherited:
            return self.values
        return {k: v for k, v in self.values.items() if k not in self.inherited}

    def to_dict(self) -> dict[str, Any]:
        """The public envelope: no internal id. A variant also names its parent and the
        fields whose values come from it."""
        out: dict[str, Any] = {
            "uuid": self.uuid,
            "class": self.class_name,
            "key": self.key,
            "published": self.published,
            "version": self.version,
            "createdAt": iso(self.created_at),
            "modifiedAt": iso(self.modified_at),
            "fields": self.values,
        }
        if self.completeness is not None:
            out["completeness"] = self.completeness
        if self.workflow_state is not None:
            # The transitions open to a caller depend on its key: the API adds them.
            out["workflow"] = {"state": self.workflow_state}
        if self.parent is not None:
            out["parent"] = {"uuid": self.parent}
            out["inherited"] = list(self.inherited)
        return out


@dataclass(frozen=True, slots=True)
class RelatedObject:
    """What a view of one object needs from an object it refers to: no times, no version."""

    class_name: str
    key: str
    uuid: str
    published: bool
    values: dict[str, Any]


class ChangeAction(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"


@dataclass(frozen=True, slots=True)
class ObjectVersion:
    """One saved state of an object: who saved it, when, and which fields changed."""

    object_uuid: str
    class_name: str
    key: str
    version: int
    action: ChangeAction
    author: str
    created_at: datetime
    published: bool
    changed_fields: tuple[str, ...]
    values: dict[str, Any] = field(default_factory=dict)

    def to_dict(self, *, with_values: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "version": self.version,
            "action": self.action.value,
            "author": self.author,
            "createdAt": iso(self.created_at),
            "published": self.published,
            "changedFields": list(self.changed_fields),
        }
        if with_values:
            out["fields"] = self.values
        return out


@dataclass(frozen=True, slots=True)
class FieldChange:
    field: str
    before: Any
    after: Any

    def to_dict(self) -> dict[str, Any]:
        return {"field": self.field, "before": self.before, "after": self.after}


def diff_versions(before: ObjectVersion | None, after: ObjectVersion) -> list[FieldChange]:
    """Field-level changes that turned `before` (None: nothing) into `after`."""
    old = before.values if before else {}
    new = after.values
    changes = [
        FieldChange(k, old.get(k), new.get(k))
        for k in sorted(set(old) | set(new))
        if old.get(k) != new.get(k)
    ]
    if before is None or before.published != after.published:
        changes.append(
            FieldChange("published", before.published if before else None, after.published)
        )
    return changes


def iso(moment: datetime) -> str:
    """UTC timestamps as ISO 8601 with a Z, to the millisecond."""
    if moment.tzinfo is UTC:
        return _iso_utc(moment)
    return _iso(moment)


# Cached for UTC only: equal datetimes in other zones are one key but print differently.
@lru_cache(maxsize=64)  # a batch writes thousands of objects with one `now`
def _iso_utc(moment: datetime) -> str:
    return _iso(moment)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
