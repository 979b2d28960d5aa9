"""An object's completeness: per channel of its class (catalog.channels) and per language of
that channel, how much of what the channel requires is filled, and what is missing.

The stored and shown shape, one JSON object per object:

    {"ecommerce": {"en": {"ratio": 75, "missing": ["image"]},
                   "de": {"ratio": 50, "missing": ["description", "image"]}}}

`ratio` is a whole percent rounded down, so 100 means nothing is missing. It is computed on
every write in the write's transaction (catalog.service, catalog.batch) and again for every
object of a class when the class's channels change (recompute_class), never by a later job.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Protocol

from pimhub.catalog.channels import Channel
from pimhub.catalog.classes import ClassDefinition

# validation's notion of an empty value: what does not satisfy `required` there is not
# filled here either (money, quantities and lists count once they hold a value).
from pimhub.catalog.validation import _is_empty

Completeness = dict[str, dict[str, dict[str, Any]]]
RECOMPUTE_BATCH = 2000


def completeness_of(definition: ClassDefinition, values: Mapping[str, Any]) -> Completeness:
    """Per channel and language: {"ratio": 0..100, "missing": [field names]}; {} when the
    class has no channels."""
    return measure(plan_of(definition), values)


# Per channel: its name, its languages, and its required fields as (name, localized).
Plan = list[tuple[str, tuple[str, ...], list[tuple[str, bool]]]]


def plan_of(definition: ClassDefinition) -> Plan:
    """What `measure` needs of a class, looked up once for many objects."""
    return [
        (c.name, c.languages, [(name, _localized(definition, name)) for name in c.required])
        for c in definition.completeness
    ]


def measure(plan: Plan, values: Mapping[str, Any]) -> Completeness:
    """completeness_of with the class's plan (recomputing a class runs this per object)."""
    out: Completeness = {}
    for channel, languages, fields in plan:
        total = len(fields)
        per_language: dict[str, dict[str, Any]] = {}
        for language in languages:
            missing = [
                name for name, localized in fields if not _filled(values, name, localized, language)
            ]
            per_language[language] = {
                "ratio": (total - len(missing)) * 100 // total,
                "missing": missing,
            }
        out[channel] = per_language
    return out


def _filled(values: Mapping[str, Any], name: str, localized: bool, language: str) -> bool:
    value: Any = values.get(name)
    if localized:
        # dict first: stored values are decoded JSON, and the ABC check costs more.
        is_map = value.__class__ is dict or isinstance(value, Mapping)
        return is_map and not _is_empty(value.get(language))
    return not _is_empty(value)


def completeness_shape(definition: ClassDefinition) -> tuple[Any, ...]:
    """What of a class decides its objects' completeness: a class change that keeps this
    leaves every stored completeness as it is."""
    return tuple(
        (
            c.name,
            c.languages,
            tuple((name, _localized(definition, name)) for name in c.required),
        )
        for c in definition.completeness
    )


def _localized(definition: ClassDefinition, name: str) -> bool:
    f = definition.field(name)
    return f is not None and f.localized


def channel(definition: ClassDefinition, name: str) -> Channel | None:
    return next((c for c in definition.completeness if c.name == name), None)


class CompletenessStore(Protocol):
    """What recompute_class needs from storage (ObjectRepository provides it)."""

    def values_batches(self, class_name: str, size: int) -> Iterator[list[tuple[int, Any]]]:
        """(internal id, values) of every object of the class, in batches."""

    def set_completeness_many(self, rows: Iterable[tuple[int, Completeness]]) -> None:
        """Store each object's completeness by internal id."""


def recompute_class(store: CompletenessStore, definition: ClassDefinition) -> int:
    """Compute and store the completeness of every object of the class again, in batches of
    plain rows (no object is loaded through the write path); the number of objects."""
    done = 0
    plan = plan_of(definition)
    for batch in store.values_batches(definition.name, RECOMPUTE_BATCH):
        store.set_completeness_many(
            (object_id, measure(plan, values)) for object_id, values in batch
        )
        done += len(batch)
    return done


def class_changed(store: CompletenessStore, old: ClassDefinition, new: ClassDefinition) -> int:
    """Recompute the class's objects when the change affects their completeness (in the
    caller's transaction, as the search index is); the number of objects recomputed."""
    if completeness_shape(old) == completeness_shape(new):
        return 0
    return recompute_class(store, new)


def only_channels_differ(old: ClassDefinition, new: ClassDefinition) -> bool:
    """Whether the two definitions differ in their completeness channels only, a change
    no stored object can break."""

    def rest(definition: ClassDefinition) -> dict[str, Any]:
        data = definition.to_dict(with_version=False)
        data.pop("completeness", None)
        return data

    return rest(old) == rest(new)
