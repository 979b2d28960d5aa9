"""What an asset write leaves besides its row: a version in object_versions and an event
in the outbox (class "Asset", the path as business key), and the checks around them."""

from __future__ import annotations

from collections.abc import Sequence

from pimhub.assets.model import ASSET_CLASS, Asset
from pimhub.catalog.errors import AssetInUse, FieldError, WriteConflict
from pimhub.catalog.events import EventType, asset_event
from pimhub.catalog.objects import ChangeAction, ObjectVersion
from pimhub.catalog.ports import Referrer, UnitOfWork
from pimhub.catalog.preconditions import check_expected_version

# The parts of an asset a change names in changedFields.
ALL_CHANGED = ("content", "metadata", "path")
# object_versions and the outbox keep business keys in 255 characters; asset paths may be
# longer, so theirs is cut there (the uuid, not the key, identifies the asset).
RECORD_KEY_LENGTH = 255
MAX_REFERRERS_SHOWN = 20

_EVENT_TYPES = {
    ChangeAction.CREATED: EventType.ASSET_CREATED,
    ChangeAction.UPDATED: EventType.ASSET_UPDATED,
    ChangeAction.DELETED: EventType.ASSET_DELETED,
}


def record_key(path: str) -> str:
    if len(path) <= RECORD_KEY_LENGTH:
        return path
    return path[: RECORD_KEY_LENGTH - 1] + "\u2026"


def record(
    uow: UnitOfWork, asset: Asset, changed: Sequence[str], action: ChangeAction, author: str
) -> None:
    """The version row and the outbox event of one asset change, in the caller's unit of
    work."""
    data = asset.to_dict()
    uow.versions.add(
        ObjectVersion(
            object_uuid=asset.uuid,
            class_name=ASSET_CLASS,
            key=record_key(asset.path),
            version=asset.version,
            action=action,
            author=author,
            created_at=asset.modified_at,
            published=True,
            changed_fields=tuple(changed),
            values=data,
        )
    )
    uow.outbox.add(
        asset_event(
            _EVENT_TYPES[action],
            data,
            list(changed),
            asset.modified_at,
            business_key=record_key(asset.path),
        )
    )


def changed_parts(before: Asset, after: Asset) -> list[str]:
    """What a reader of the asset sees changed: its content, its metadata, its path."""
    changed = []
    if before.checksum != after.checksum:
        changed.append("content")
    if before.metadata != after.metadata:
        changed.append("metadata")
    if before.path != after.path:
        changed.append("path")
    return changed


def check_version(asset: Asset | None, expected: int | None) -> None:
    if asset is not None:
        check_expected_version(f"the asset '{asset.path}'", asset.version, expected)


def lost_race(asset: Asset) -> WriteConflict:
    # Only a writer that skipped the path lock gets here; the write runs again.
    return WriteConflict(f"the asset '{asset.path}' was changed concurrently; try again")


def asset_in_use(asset: Asset, referrers: Sequence[Referrer]) -> AssetInUse:
    # One object using the asset in two fields is one user, named once with both fields.
    fields: dict[tuple[str, str], list[str]] = {}
    for r in referrers:
        fields.setdefault((r.class_name, r.key), []).append(r.field)
    shown = list(fields.items())[:MAX_REFERRERS_SHOWN]
    more = " and more" if len(referrers) > MAX_REFERRERS_SHOWN else ""
    return AssetInUse(
        f"the asset '{asset.path}' is used by {len(shown)}{more} object(s); remove it from "
        "them first, or delete with force to remove it everywhere",
        [FieldError(f"{cls}/{key}", f"uses it in {_fields(names)}") for (cls, key), names in shown],
    )


def _fields(names: list[str]) -> str:
    unique = sorted(set(names))
    if len(unique) == 1:
        return f"field '{unique[0]}'"
    return "fields " + ", ".join(f"'{n}'" for n in unique)
