"""The GraphQL types of assets (Pimcore's `asset`, `dimensions`, `asset_metadata_item`) and
the `getAsset` root field; their values come from assets.py, which compiled plans share."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, urlsplit

from graphql import (
    GraphQLArgument,
    GraphQLBoolean,
    GraphQLField,
    GraphQLInt,
    GraphQLList,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLString,
)

from pimhub.api.graphql.assets import (
    ASSET_TYPE,
    DIMENSIONS_TYPE,
    METADATA_ITEM_TYPE,
    SIMPLE_FIELDS,
    UUID_LENGTH,
    AssetLoader,
    dimensions,
    metadata_items,
)
from pimhub.api.graphql.errors import coded, from_domain
from pimhub.assets.model import Asset
from pimhub.assets.paths import normalize_path
from pimhub.catalog.errors import CatalogError


def _loader(info: GraphQLResolveInfo[Any]) -> AssetLoader:
    loader: AssetLoader = info.context.assets
    return loader


class AssetTypes:
    """The `asset`, `dimensions` and `asset_metadata_item` types of one schema."""

    def __init__(self) -> None:
        self.metadata_item = GraphQLObjectType(
            METADATA_ITEM_TYPE,
            {
                "name": GraphQLField(GraphQLString),
                "type": GraphQLField(GraphQLString, description="input, checkbox"),
                "data": GraphQLField(GraphQLString, description="The value as text"),
                "language": GraphQLField(GraphQLString, description="null: any language"),
            },
            description="One metadata value of an asset (Pimcore's shape).",
        )
        self.dimensions = GraphQLObjectType(
            DIMENSIONS_TYPE,
            {"width": GraphQLField(GraphQLInt), "height": GraphQLField(GraphQLInt)},
            description="An image's size in pixels.",
        )
        self.asset = GraphQLObjectType(ASSET_TYPE, self._fields, description=ASSET_DESCRIPTION)

    def _fields(self) -> dict[str, GraphQLField]:
        def simple(get: Callable[[Asset], Any]) -> Callable[..., Any]:
            return lambda a, _i: get(a)

        def resolve_fullpath(
            a: Asset, info: GraphQLResolveInfo[Any], thumbnail: str | None = None
        ) -> str | None:
            return _loader(info).fullpath(a, thumbnail)

        def resolve_metadata(
            a: Asset,
            _info: Any,
            language: str | None = None,
            ignore_language: bool | None = None,
        ) -> list[dict[str, Any]]:
            return metadata_items(a, language, ignore_language)

        descriptions = {
            "id": "The asset's uuid (Pimcore's id is a number; ours is stable across hubs)",
            "path": "Its path in the hub (/products/a.jpg), as getAsset(fullpath:) takes it",
            "type": "image, document, text, video, audio or unknown (Pimcore's names)",
            "filesize": "Bytes",
            "creationDate": "Unix seconds",
            "modificationDate": "Unix seconds",
        }
        out: dict[str, GraphQLField] = {}
        for name, get in SIMPLE_FIELDS.items():
            kind = GraphQLInt if name in ("filesize", "creationDate", "modificationDate") else None
            out[name] = GraphQLField(
                kind or GraphQLString, resolve=simple(get), description=descriptions.get(name)
            )
        out["fullpath"] = GraphQLField(
            GraphQLString,
            args={
                "thumbnail": GraphQLArgument(
                    GraphQLString, description="A thumbnail preset's name: that thumbnail's URL"
                )
            },
            resolve=resolve_fullpath,
            description="The public URL of the file; with `thumbnail`, the URL of that "
            "thumbnail (made on first request; null for SVG and PDF, which have none)",
        )
        out["dimensions"] = GraphQLField(
            self.dimensions, resolve=lambda a, _i: dimensions(a), description="Images only"
        )
        out["metadata"] = GraphQLField(
            GraphQLList(self.metadata_item),
            args={
                "language": GraphQLArgument(GraphQLString),
                "ignore_language": GraphQLArgument(GraphQLBoolean),
            },
            resolve=resolve_metadata,
            description="Alt text (per language) and the other metadata",
        )
        return out

    def get_asset_field(self) -> GraphQLField:
        def resolve(
            _root: Any,
            info: GraphQLResolveInfo[Any],
            id: str | None = None,
            fullpath: str | None = None,
        ) -> Asset | None:
            return find_asset(_loader(info), id, fullpath)

        return GraphQLField(
            self.asset,
            args={
                "id": GraphQLArgument(GraphQLString, description="The asset's uuid"),
                "fullpath": GraphQLArgument(
                    GraphQLString,
                    description="Its path (/products/a.jpg), or a URL `fullpath` answered",
                ),
            },
            resolve=resolve,
            description="One asset by uuid or path (exactly one of them).",
        )


ASSET_DESCRIPTION = (
    "A file the catalog refers to (Pimcore's asset). `fullpath` is its public URL; "
    "`fullpath(thumbnail: NAME)` the URL of a thumbnail preset."
)


def find_asset(loader: AssetLoader, id: str | None, fullpath: str | None) -> Asset | None:
    """getAsset: the asset with uuid `id` or at path `fullpath` (a URL that `fullpath`
    answered works too); None when there is none."""
    if (id is None) == (fullpath is None):
        raise coded("name the asset by exactly one of id or fullpath", "BAD_USER_INPUT")
    if loader.reads is None:
        return None
    if id is not None:
        if len(id) != UUID_LENGTH or "/" in id:
            return None  # no uuid: no asset has it
        # Stored uuids are lower case; clients may hold them in capitals.
        uuid = id.lower()
        loader.load([uuid])
        return loader.known.get(uuid)
    assert fullpath is not None
    try:
        path = normalize_path(_path_of(fullpath, loader.base_url), field="fullpath")
    except CatalogError as exc:
        raise from_domain(exc) from None
    return loader.reads.asset_at(path)


def _path_of(fullpath: str, base_url: str) -> str:
    """A path, or the path inside a URL `{base}/assets{path}?v=...` (any host: the URL
    may come from a proxy's public name)."""
    if "://" not in fullpath:
        return fullpath
    prefix = urlsplit(base_url).path.rstrip("/") + "/assets/"
    path = urlsplit(fullpath).path
    if not path.startswith(prefix):
        raise coded(f"fullpath: '{fullpath[:200]}' is no asset URL of this hub", "BAD_USER_INPUT")
    return unquote(path[len(prefix) - 1 :])
