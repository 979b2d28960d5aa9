"""Asset fields in GraphQL, in Pimcore's shape: the per-request AssetLoader that reads the
assets of a whole batch (a page, or one relation's targets) with one statement, and the
values of the `asset` type's fields (asset_types.py builds the types and `getAsset`;
asset_plan.py compiles selections of them).

Objects hold asset uuids (a string, or a list for galleries). An asset that is gone (a
force-delete removes references, but a read may race it) answers null, and a gallery skips
it, as relations do with targets that are gone.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLResolveInfo,
    InlineFragmentNode,
    SelectionSetNode,
)

from pimhub.api.graphql.loaders import GraphObject
from pimhub.api.graphql.values import PerFieldError, int_or_none
from pimhub.assets.model import Asset, asset_url
from pimhub.assets.presets import ThumbnailPreset
from pimhub.assets.thumbnails import RASTER_TYPES
from pimhub.catalog.channels import LANGUAGE_PATTERN

ASSET_TYPE = "asset"  # Pimcore's type name, so `... on asset { }` fragments run unchanged
METADATA_ITEM_TYPE = "asset_metadata_item"
DIMENSIONS_TYPE = "dimensions"
UUID_LENGTH = 36


class AssetReads(Protocol):
    """What GraphQL reads of assets: the request's read session (GraphReadSession), so
    assets come from its snapshot and its connection."""

    def assets(self, uuids: Sequence[str]) -> dict[str, Asset]: ...
    def asset_at(self, path: str) -> Asset | None: ...


class AssetLoader:
    """A request's assets by uuid. The first asset asked for in a batch of objects reads
    those fields' assets for every member of the batch with one statement; a compiled
    joined listing reads its page's assets before shaping its rows (prefetch_rows)."""

    def __init__(
        self, reads: AssetReads | None, base_url: str, presets: Mapping[str, ThumbnailPreset]
    ) -> None:
        self.reads = reads
        self.base_url = base_url
        self.presets = presets
        self.known: dict[str, Asset | None] = {}
        self.urls: dict[tuple[str, str | None], str | None] = {}
        self._selected: frozenset[str] | None = None

    # -- loading --------------------------------------------------------------------------

    def load(self, uuids: Iterable[str]) -> None:
        wanted = [u for u in dict.fromkeys(uuids) if u not in self.known]
        if not wanted:
            return
        found = self.reads.assets(wanted) if self.reads is not None else {}
        for uuid in wanted:
            self.known[uuid] = found.get(uuid)

    def _load_batch(self, node: GraphObject, names: Sequence[str]) -> None:
        uuids: list[str] = []
        for member in node.batch.members:
            values = member.obj.values
            for name in names:
                uuids.extend(_uuids(values.get(name)))
        self.load(uuids)

    def one(self, node: GraphObject, name: str, names: Sequence[str]) -> Asset | None:
        """The asset of field `name` of `node`; `names` are the asset fields to read for
        the whole batch with it (those the query selects)."""
        value = node.obj.values.get(name)
        if value.__class__ is not str:
            return None
        if value not in self.known:
            self._load_batch(node, names)
        return self.known.get(value)

    def many(self, node: GraphObject, name: str, names: Sequence[str]) -> list[Asset]:
        """A gallery's assets, in its order; assets that are gone are left out."""
        value = node.obj.values.get(name)
        if not isinstance(value, list):
            return []
        if any(u not in self.known for u in _uuids(value)):
            self._load_batch(node, names)
        return [a for u in _uuids(value) if (a := self.known.get(u)) is not None]

    def prefetch_rows(
        self,
        rows: Sequence[Sequence[Any]],
        spots: Sequence[tuple[int, tuple[str, ...]]],
        decode: Callable[[Any], Any],
    ) -> None:
        """Reads the assets that joined `rows` refer to: `spots` are (position of an
        object's data column, its asset fields the query selects)."""
        uuids: list[str] = []
        for row in rows:
            for position, names in spots:
                raw = row[position]
                if raw is None:
                    continue  # a to-one relation without a target
                values = decode(raw)
                for name in names:
                    uuids.extend(_uuids(values.get(name)))
        self.load(uuids)

    def row_one(self, value: Any) -> Asset | None:
        if value.__class__ is not str:
            return None
        if value not in self.known:
            self.load([value])  # not prefetched: still right, one read more
        return self.known.get(value)

    def row_many(self, value: Any) -> list[Asset]:
        if not isinstance(value, list):
            return []
        self.load(_uuids(value))
        return [a for u in _uuids(value) if (a := self.known.get(u)) is not None]

    def selected(self, info: GraphQLResolveInfo[Any], names: Sequence[str]) -> tuple[str, ...]:
        """Those of `names` (a class's asset fields) that the operation selects anywhere:
        graphql-core's resolvers then read them for a batch with one statement, as compiled
        plans do. The operation is walked once per request."""
        if self._selected is None:
            self._selected = _field_names(info.operation.selection_set, info.fragments)
        return tuple(n for n in names if n in self._selected)

    # -- values ---------------------------------------------------------------------------

    def fullpath(self, asset: Asset, thumbnail: str | None) -> str | None:
        """The public URL of the asset, or of its thumbnail `thumbnail` (None for types the
        hub makes no thumbnails of: SVG, PDF)."""
        # Quoting a path costs more than the rest of an asset's answer; pages often show one
        # asset many times (a brand's logo on each product).
        key = (asset.uuid, thumbnail)
        url = self.urls.get(key, "")
        if url == "":
            url = self.urls[key] = self._url(asset, thumbnail)
        return url

    def _url(self, asset: Asset, thumbnail: str | None) -> str | None:
        if thumbnail is None:
            return asset_url(self.base_url, asset)
        self.check_preset(thumbnail)
        if asset.mimetype not in RASTER_TYPES:  # SVG and PDF are served as they are
            return None
        return asset_url(self.base_url, asset, self.presets[thumbnail])

    def check_preset(self, name: str) -> None:
        if name not in self.presets:
            known = sorted(self.presets)
            shown = name if len(name) <= 64 else name[:64] + "..."
            raise UnknownThumbnail(
                f"there is no thumbnail preset '{shown}'; presets: {', '.join(known) or 'none'}",
                extensions={"code": "UNKNOWN_THUMBNAIL", "thumbnails": known},
            )


class UnknownThumbnail(PerFieldError):
    """fullpath(thumbnail:) names no preset: code UNKNOWN_THUMBNAIL, and the known names in
    extensions.thumbnails."""


def _field_names(
    selection_set: SelectionSetNode | None, fragments: Mapping[str, FragmentDefinitionNode]
) -> frozenset[str]:
    names: set[str] = set()
    seen: set[str] = set()
    pending = [selection_set]
    while pending:
        current = pending.pop()
        for selection in current.selections if current is not None else ():
            if isinstance(selection, FieldNode):
                names.add(selection.name.value)
                pending.append(selection.selection_set)
            elif isinstance(selection, InlineFragmentNode):
                pending.append(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name not in seen and name in fragments:
                    seen.add(name)
                    pending.append(fragments[name].selection_set)
    return frozenset(names)


def _uuids(value: Any) -> list[str]:
    if value.__class__ is str:
        return [value]
    if isinstance(value, list):
        return [u for u in value if u.__class__ is str]
    return []


def pimcore_type(mimetype: str) -> str:
    """Pimcore's asset type names: image, document, text, video, audio, unknown."""
    major = mimetype.split("/", 1)[0]
    if major in ("image", "text", "video", "audio"):
        return major
    if mimetype == "application/pdf":
        return "document"
    return "unknown"


def metadata_items(
    asset: Asset, language: str | None = None, ignore_language: bool | None = None
) -> list[dict[str, Any]]:
    """The asset's metadata as Pimcore's items {name, type, data, language}: a value per
    language ({"en": "...", "de": "..."}, as `alt`) is an item per language. With
    `language`, only that language's items and those without one, unless
    `ignore_language`. Sorted by name and language, so every backend answers alike."""
    items: list[dict[str, Any]] = []
    for name, value in asset.metadata.items():
        if _per_language(value):
            for lang, text in value.items():
                items.append(_item(name, text, lang))
        else:
            items.append(_item(name, value, None))
    if language is not None and not ignore_language:
        items = [i for i in items if i["language"] in (None, language)]
    items.sort(key=lambda i: (i["name"], i["language"] or ""))
    return items


def _per_language(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and bool(value)
        and all(
            isinstance(k, str) and LANGUAGE_PATTERN.fullmatch(k) and isinstance(v, str)
            for k, v in value.items()
        )
    )


def _item(name: str, value: Any, language: str | None) -> dict[str, Any]:
    if isinstance(value, bool):
        kind, data = "checkbox", "1" if value else "0"
    elif isinstance(value, str):
        kind, data = "input", value
    elif isinstance(value, int | float):
        kind, data = "input", json.dumps(value)
    else:
        kind, data = "input", json.dumps(value, ensure_ascii=False, sort_keys=True)
    return {"name": name, "type": kind, "data": data, "language": language}


def dimensions(asset: Asset) -> dict[str, Any] | None:
    if asset.width is None and asset.height is None:
        return None
    return {"width": asset.width, "height": asset.height}


# Plain fields of the asset type, as functions of the Asset: shared by the resolvers and
# the compiled plans (plan.py), so both answer alike.
SIMPLE_FIELDS: dict[str, Callable[[Asset], Any]] = {
    "id": lambda a: a.uuid,
    "path": lambda a: a.path,
    "filename": lambda a: a.filename,
    "mimetype": lambda a: a.mimetype,
    "type": lambda a: pimcore_type(a.mimetype),
    "filesize": lambda a: int_or_none(a.filesize),
    "creationDate": lambda a: int(a.created_at.timestamp()),
    "modificationDate": lambda a: int(a.modified_at.timestamp()),
}
