"""/api/v1/products/{sku}: the normalized product payload, cacheable by ETag.

This is the hottest read route, so it is a plain Starlette route that create_app serves
outside FastAPI (see HubApp): FastAPI's layers, route matching and parameter solving cost more
than the database read itself (about 150 us of 300 us per request, measured in-process).
Because FastAPI does not see the route, its OpenAPI description is written out here
(OPENAPI_PATHS) and merged by create_app.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pimhub.access.keys import Action
from pimhub.api.auth import api_key, hub_of, point_read, require

PREFIX = "/api/v1/products/"
PATH = PREFIX + "{sku}"


async def get_product(request: Request) -> Response:
    sku: str = request.path_params["sku"]
    # Parsing the query string is skipped when there is none, the common case.
    lang = request.query_params.get("lang") if request.scope["query_string"] else None
    view = await point_read(request, lambda: _view(request, sku, lang))
    body = orjson.dumps(view)
    # The version leads so the tag works as If-Match on /api/v1/objects/Product/{sku}; the
    # hash changes when a related category or brand name changes.
    tag = f'"{view["version"]}.{hashlib.blake2b(body, digest_size=6).hexdigest()}"'
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None and tag in [t.strip() for t in if_none_match.split(",")]:
        return Response(status_code=304, headers={"ETag": tag})
    return Response(body, media_type="application/json", headers={"ETag": tag})


def _view(request: Request, sku: str, lang: str | None) -> dict[str, Any]:
    key = api_key(request)
    require(key, Action.READ, "Product")
    return hub_of(request).catalog.product(
        sku, language=lang, include_drafts=key.allows(Action.READ_DRAFTS, "Product")
    )


routes = [Route(PATH, get_product, methods=["GET"], name="get_product")]


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
    published: bool
    updatedAt: str = Field(description="ISO 8601, UTC")
    version: int
    language: str


_PROBLEM = {"application/problem+json": {"schema": {"type": "object"}}}

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
                {
                    "name": "If-None-Match",
                    "in": "header",
                    "required": False,
                    "description": "An ETag from an earlier response; 304 when unchanged",
                    "schema": {"type": "string"},
                },
            ],
            "responses": {
                "200": {
                    "description": "The product, with an ETag header",
                    "content": {"application/json": {"schema": ProductView.model_json_schema()}},
                },
                "304": {"description": "Unchanged since the ETag sent in If-None-Match"},
                "401": {"description": "Missing or invalid API key", "content": _PROBLEM},
                "403": {"description": "The key may not read products", "content": _PROBLEM},
                "404": {"description": "No (visible) product with this SKU", "content": _PROBLEM},
            },
        }
    }
}
