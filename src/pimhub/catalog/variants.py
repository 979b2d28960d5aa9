"""Variants: objects of one class that form a family, a parent and its children.

A child stores its effective values, its own merged over what it inherits from its parent,
and the names of the inherited ones (CatalogObject.inherited). Reads, filters, sorts, search
documents and completeness therefore see a child exactly as clients do, at the cost of
rewriting the children when their parent changes, which the write path does in the same
transaction (and which also gives each changed child its version and its event).

The rules (ClassDefinition.variants): a family has one level (a child has no children); a
child sets every axis itself and no two siblings share the same axis values; it never sets a
parent-only field; its business key and unique fields are its own, never inherited.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from pimhub.catalog.classes import ClassDefinition
from pimhub.catalog.errors import FieldError
from pimhub.catalog.objects import CatalogObject


class _Keep:
    """The parent a write does not mention: an update keeps the object's parent."""

    def __repr__(self) -> str:
        return "KEEP"


KEEP: Final = _Keep()
# What a write says about the parent: KEEP, None (no parent) or its business key or uuid.
ParentRef = str | None | _Keep

# Keys an import item may carry next to its field values (no field name starts with '@'):
# the parent's key, and on a parent the keys of its children.
PARENT_ITEM_KEY = "@parent"
CHILDREN_ITEM_KEY = "@variants"


class FamilyRole(StrEnum):
    """Which objects a listing keeps by their place in a family."""

    PARENTS = "parents"  # objects with at least one variant
    VARIANTS = "variants"  # objects with a parent
    STANDALONE = "standalone"  # neither


@dataclass(frozen=True, slots=True)
class FamilyFilter:
    role: FamilyRole | None = None
    parent_uuid: str | None = None  # only the variants of this parent


def patch_target(obj: CatalogObject, changes: Mapping[str, Any]) -> dict[str, Any]:
    """What a merge patch of `obj` applies to: its own values, and, for each inherited field
    the patch changes part of (a localized text, a money value), the value the client reads,
    so that the rest of it stays (RFC 7396 on the object as shown)."""
    if not obj.inherited:
        return obj.values
    target = obj.own_values
    for name in obj.inherited:
        if isinstance(changes.get(name), Mapping):
            target[name] = obj.values[name]
    return target


def inherited_values(definition: ClassDefinition, parent: CatalogObject) -> dict[str, Any]:
    """What a child of `parent` inherits: its parent's inheritable values."""
    return {k: v for k, v in parent.values.items() if definition.inheritable(k)}


def effective(
    definition: ClassDefinition, parent: CatalogObject | None, own: Mapping[str, Any]
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """A child's effective values (in the class's field order) and the names of those that
    come from `parent`; `own` unchanged when there is no parent."""
    if parent is None:
        return dict(own), ()
    from_parent = {k: v for k, v in inherited_values(definition, parent).items() if k not in own}
    if not from_parent:
        return dict(own), ()
    merged = {**from_parent, **own}
    ordered = {name: merged[name] for name in definition.field_names if name in merged}
    return ordered, tuple(name for name in definition.field_names if name in from_parent)


def structure_errors(
    definition: ClassDefinition,
    obj_uuid: str | None,
    parent: CatalogObject,
    has_children: bool,
) -> list[FieldError]:
    """Problems with making an object (uuid None: a new one) a child of `parent`."""
    if definition.variants is None:
        return [
            FieldError(
                "parent",
                f"{definition.name} has no variants; declare 'variants: {{axes: [...]}}' in "
                "its class definition first",
                "no-variants",
            )
        ]
    if parent.uuid == obj_uuid:
        return [FieldError("parent", "an object cannot be its own parent", "variant-level")]
    if parent.parent is not None:
        return [
            FieldError(
                "parent",
                f"{definition.name} '{parent.key}' is itself a variant; a family has one "
                "level, so name its parent instead",
                "variant-level",
            )
        ]
    if has_children:
        return [
            FieldError(
                "parent",
                "this object has variants of its own, so it cannot become a variant",
                "variant-level",
            )
        ]
    return []


def own_value_errors(
    definition: ClassDefinition, own: Mapping[str, Any], parent: CatalogObject
) -> list[FieldError]:
    """A child's own values against the rules: every axis set, no parent-only field."""
    rules = definition.variants
    assert rules is not None
    errors = [
        FieldError(
            name,
            f"is an axis of {definition.name}: each variant of '{parent.key}' sets it",
            "axis-required",
        )
        for name in rules.axes
        if own.get(name) is None
    ]
    errors += [
        FieldError(name, f"is set on the parent '{parent.key}' only", "parent-only")
        for name in rules.parent_only
        if name in own
    ]
    return errors


def axis_values(definition: ClassDefinition, values: Mapping[str, Any]) -> tuple[Any, ...]:
    assert definition.variants is not None
    return tuple(values.get(name) for name in definition.variants.axes)


def sibling_errors(
    definition: ClassDefinition,
    own: Mapping[str, Any],
    obj_uuid: str | None,
    siblings: Sequence[CatalogObject],
) -> list[FieldError]:
    """A clear problem naming the sibling that already has this child's axis values."""
    mine = axis_values(definition, own)
    for sibling in siblings:
        if sibling.uuid != obj_uuid and axis_values(definition, sibling.values) == mine:
            assert definition.variants is not None
            combination = ", ".join(
                f"{name}={value}"
                for name, value in zip(definition.variants.axes, mine, strict=True)
            )
            return [
                FieldError(
                    ",".join(definition.variants.axes),
                    f"{sibling_name(sibling)} already has {combination}",
                    "axes-taken",
                )
            ]
    return []


def sibling_name(sibling: CatalogObject) -> str:
    """How a refusal names a sibling: by key when it is published, since the client may be
    one that must not learn of unpublished objects."""
    return f"sibling '{sibling.key}'" if sibling.published else "an unpublished sibling"
