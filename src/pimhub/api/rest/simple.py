"""/simple-rest/{config}: read-only search and object reads for partners and search-index
feeders, with a key of the datahub configuration (see docs/search.md)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from pimhub.access.keys import ApiKey
from pimhub.api.asset_links import asset_views, base_url, presets_of
from pimhub.api.auth import api_key, hub_of
from pimhub.api.responses import OrjsonResponse
from pimhub.catalog.fields import FieldType
from pimhub.catalog.product_view import asset_uuids, shown_assets

router = APIRouter(prefix="/simple-rest", tags=["simple-rest"])
Key = Annotated[ApiKey, Depends(api_key)]


def _params(request: Request) -> dict[str, str]:
    # Read by hand, all as text: the search service reports unknown and invalid parameters
    # itself, as 400 problems naming the parameter.
    return dict(request.query_params)


@router.get("/{config}/search", summary="Search the objects a datahub configuration exposes")
def search(
    request: Request,
    config: str,
    key: Key,
    q: Annotated[str | None, Query(description="words; the last one may be a prefix")] = None,
    class_: Annotated[str | None, Query(alias="class", description="one exposed class")] = None,
    filter: Annotated[str | None, Query(description="a JSON filter, as in listings")] = None,
    sort: Annotated[str | None, Query(description="fields, '-' for descending")] = None,
    size: Annotated[str | None, Query(description="page size, at most the limit")] = None,
    after: Annotated[str | None, Query(description="the previous page's nextCursor")] = None,
    cursor: Annotated[
        str | None, Query(description="the old name of `after`", deprecated=True)
    ] = None,
    facets: Annotated[str | None, Query(description="fields to count values of")] = None,
    lang: Annotated[str | None, Query(description="language of text and matching")] = None,
) -> OrjsonResponse:
    body = hub_of(request).simple_search.search(config, key, _params(request))
    _show_assets(request, config, body["items"])
    return OrjsonResponse(body)


@router.get("/{config}/objects/{ident}", summary="One exposed object by uuid or business key")
def get_object(
    request: Request,
    config: str,
    ident: str,
    key: Key,
    class_: Annotated[str | None, Query(alias="class", description="one exposed class")] = None,
    lang: Annotated[str | None, Query(description="language of localized text")] = None,
) -> OrjsonResponse:
    body = hub_of(request).simple_search.get_object(config, key, ident, _params(request))
    _show_assets(request, config, [body])
    return OrjsonResponse(body)


def _show_assets(request: Request, config: str, items: Sequence[dict[str, Any]]) -> None:
    """Asset fields of `items` as the assets' views (path, URLs, size, alt text) instead of
    uuids, every item's assets read with one statement."""
    hub = hub_of(request)
    # The configuration's exposed fields per class, as the GraphQL schema cache holds them
    # (it is rebuilt only when the configuration or a class changes).
    bindings = request.app.state.graphql.schema(config).classes
    fields = {
        name: [f.name for f in b.fields if f.type == FieldType.ASSET]
        for name, b in bindings.items()
    }
    wanted = [
        (item["fields"], name)
        for item in items
        for name in fields.get(item["class"], ())
        if name in item["fields"]
    ]
    if not wanted:
        return
    language = request.query_params.get("lang") or hub.settings.default_language
    uuids = asset_uuids([values[name] for values, name in wanted])
    presets = presets_of(request.app.state)
    views = asset_views(hub, uuids, base_url(hub, request.scope), language, presets)
    for values, name in wanted:
        values[name] = shown_assets(values[name], views)
