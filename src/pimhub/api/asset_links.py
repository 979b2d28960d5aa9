"""What the read APIs (GraphQL, Simple REST, the product view) need to show assets: the base
URL clients reached, the thumbnail presets' names, and the views of a set of assets read with
one statement."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from starlette.types import Scope

from pimhub.assets.presets import BUILTIN_PRESETS, ThumbnailPreset
from pimhub.assets.thumbnails import RASTER_TYPES
from pimhub.bootstrap import Hub
from pimhub.catalog.product_view import asset_view


def presets_of(state: Any) -> Mapping[str, ThumbnailPreset]:
    """The thumbnail presets by name, from the app's Thumbnailer (`state.thumbnails`, set
    by create_app); an app built without one has the built-in presets."""
    thumbnailer = getattr(state, "thumbnails", None)
    presets: Mapping[str, ThumbnailPreset] = (
        BUILTIN_PRESETS if thumbnailer is None else thumbnailer.presets
    )
    return presets


def base_url(hub: Hub, scope: Scope) -> str:
    """Where asset URLs start: the configured public URL, else where the client reached
    this server (as Starlette's Request.base_url, without building a Request)."""
    if hub.settings.public_url:
        return hub.settings.public_url
    host = next((v.decode("latin-1") for k, v in scope.get("headers", ()) if k == b"host"), "")
    if not host:
        server = scope.get("server") or ("localhost", None)
        host = server[0] if server[1] is None else f"{server[0]}:{server[1]}"
    return f"{scope.get('scheme', 'http')}://{host}{scope.get('root_path', '')}"


def asset_views(
    hub: Hub,
    uuids: Iterable[str],
    base: str,
    language: str,
    presets: Mapping[str, ThumbnailPreset],
) -> dict[str, dict[str, Any]]:
    """uuid -> the asset's view (catalog.product_view.asset_view), read with one statement;
    assets that are gone are missing."""
    wanted = list(dict.fromkeys(uuids))
    if not wanted:
        return {}
    # One driver statement on the point reader's connection: no unit of work, no session.
    found = hub.graph_reads.assets(wanted)
    default = hub.settings.default_language
    return {
        uuid: asset_view(
            asset,
            base,
            presets,
            thumbnail_types=RASTER_TYPES,
            language=language,
            default_language=default,
        )
        for uuid, asset in found.items()
    }
