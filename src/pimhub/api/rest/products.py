"""/api/v1/products/{sku}: the normalized product payload, cacheable by ETag.

This is the hottest read route, so it is a bare ASGI endpoint that create_app serves outside
FastAPI (see HubApp): FastAPI's layers, route matching and parameter solving cost more than
the database read itself (about 150 us of 300 us per request, measured in-process).
Because FastAPI does not see the route, its OpenAPI description is written out here
(OPENAPI_PATHS) and merged by create_app.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

import orjson
from pydantic import BaseModel, Field
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from pimhub.access.keys import Action, ApiKey
from pimhub.api.asset_links import asset_views, base_url, presets_of
from pimhub.api.auth import authentication_of, point_read, require
from pimhub.api.openapi_schemas import IF_NONE_MATCH
from pimhub.assets.presets import ThumbnailPreset
from pimhub.bootstrap import Hub
from pimhub.catalog.product_view import PRODUCT_ASSETS, asset_uuids, shown_assets

PREFIX = "/api/v1/products/"
PATH = PREFIX + "{sku}"


class ProductEndpoint:
    """GET /api/v1/products/{sku} as a bare ASGI app: Starlette hands it scope, receive and
    send untouched, so no Request or Response object is built for the hottest route. Errors
    propagate as exceptions to the app's handlers like everywhere else."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = _wanted_headers(scope["headers"])
        sku: str = scope["path_params"]["sku"]
        lang = _query_lang(scope["query_string"])
        hub: Hub = scope["app"].state.hub
        caller = authentication_of(scope)  # api.guard's: never the headers again
        links = base_url(hub, scope), presets_of(scope["app"].state)
        view = await point_read(hub, lambda: _view(hub, caller.principal(), sku, lang, links))
        body = orjson.dumps(view)
        # The version leads so the tag works as If-Match on /api/v1/objects/Product/{sku};
        # the hash changes when a related category or brand name changes.
        tag = f'"{view["version"]}.{hashlib.blake2b(body, digest_size=6).hexdigest()}"'.encode()
        if_none_match = headers.get(b"if-none-match")
        if if_none_match is not None and tag.decode() in (
            t.strip() for t in if_none_match.split(",")
        ):
            await send({"type": "http.response.start", "status": 304, "headers": [(b"etag", tag)]})
            await send({"type": "http.response.body", "body": b""})
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"etag", tag),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


_WANTED = (b"if-none-match",)


def _wanted_headers(raw: list[tuple[bytes, bytes]]) -> dict[bytes, str]:
    return {name: value.decode("latin-1") for name, value in raw if name in _WANTED}


def _query_lang(query_string: bytes) -> str | None:
    # Parsing the query string is skipped when there is none, the common case.
    if not query_string:
        return None
    values = parse_qs(query_string.decode("latin-1")).get("lang")
    return values[-1] if values else None


def _view(
    hub: Hub,
    key: ApiKey,
    sku: str,
    lang: str | None,
    links: tuple[str, Mapping[str, ThumbnailPreset]],
) -> dict[str, Any]:
    require(key, Action.READ, "Product")
    view = hub.catalog.product(
        sku, language=lang, include_drafts=key.allows(Action.READ_DRAFTS, "Product")
    )
    # The image and the gallery, read with one statement (none when the product has none).
    fields = [view[name] for name in PRODUCT_ASSETS]
    assets = asset_views(hub, asset_uuids(fields), links[0], view["language"], links[1])
    for name in PRODUCT_ASSETS:
        view[name] = shown_assets(view[name], assets)
    return view


routes = [Route(PATH, ProductEndpoint(), methods=["GET"], name="get_product")]


ASSET_SHAPE = (
    '{"uuid", "path": "/products/a.jpg", "url", "mimetype", "width", "height", "alt" (in the '
    'requested language), "thumbnails": {preset name: URL} (empty for SVG and PDF)}; the '
    "URLs change when the file does"
)


class ProductView(BaseModel):
    """The normalized product (documentation only; catalog.product_view builds it)."""

    sku: str
    uuid: str
    name: str | None = Field(description="In the requested language, else the default one")
    price: float | None
    currency: str | None = Field(description="ISO 4217 code")
    category: str | None = Field(description="Name of the product's category")
    brand: str | None = Field(description="Name of the product's brand")
    description: str | None
    stock: int | None
    weight: dict[str, Any] | None = Field(
        description='A quantity as sent: {"value": 500, "unit": "g"}'
    )
    image: dict[str, Any] | None = Field(
        description="The main image, null without one: " + ASSET_SHAPE
    )
    gallery: list[dict[str, Any]] = Field(
        description="The gallery's images in order, each " + ASSET_SHAPE
    )
    prices: dict[str, float] | None = Field(
        None, description="Only for a price list: the amount per currency; price is the first"
    )
    published: bool
    updatedAt: str = Field(description="ISO 8601, UTC")
    version: int
    language: str
    completeness: dict[str, dict[str, Any]] = Field(
        description="Per completeness channel that has the language: {ratio, missing}, the "
        "ratio a whole percent rounded down, missing the required fields not filled"
    )


OPENAPI_PATHS: dict[str, Any] = {
    PATH: {
        "get": {
            "tags": ["products"],
            "summary": "Normalized product: sku, name, price, category, brand, stock...",
            "operationId": "get_product",
            "parameters": [
                {"name": "sku", "in": "path", "required": True, "schema": {"type": "string"}},
                {
                    "name": "lang",
                    "in": "query",
                    "required": False,
                    "description": "Language of localized texts",
                    "schema": {"type": "string"},
                },
                IF_NONE_MATCH,
            ],
            "responses": {
                "200": {
                    "description": "The product, with an ETag header",
                    "content": {"application/json": {"schema": ProductView.model_json_schema()}},
                },
                "304": {"description": "Unchanged since the ETag sent in If-None-Match"},
                # The errors are added with every other operation's (api/openapi.py).
            },
        }
    }
}
