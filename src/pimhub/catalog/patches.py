"""Pieces every write shares: RFC 7396 merge patches, and the version row of a save."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pimhub.catalog.objects import CatalogObject, ChangeAction, ObjectVersion


def merge_patch(target: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """RFC 7396: `patch` merged into `target`; a null removes a field."""
    merged = dict(target)
    for k, v in patch.items():
        if v is None:
            merged.pop(k, None)
        elif isinstance(v, Mapping) and isinstance(merged.get(k), Mapping):
            merged[k] = merge_patch(merged[k], v)
        else:
            merged[k] = v
    return merged


def version_of(
    before: CatalogObject | None,
    obj: CatalogObject,
    changed: Sequence[str],
    author: str,
    action: ChangeAction | None = None,
) -> ObjectVersion:
    """The version row of a save (created or updated, from `before`) or of `action`."""
    if action is None:
        action = ChangeAction.CREATED if before is None else ChangeAction.UPDATED
    return ObjectVersion(
        object_uuid=obj.uuid,
        class_name=obj.class_name,
        key=obj.key,
        version=obj.version,
        action=action,
        author=author,
        created_at=obj.modified_at,
        published=obj.published,
        changed_fields=tuple(changed),
        values=obj.values,
    )
