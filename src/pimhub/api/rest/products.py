"""/api/v1/products/{sku}: the normalized product payload, cacheable by ETag."""

from __future__ import annotations

import hashlib
from typing import Annotated

import orjson
from fastapi import APIRouter, Header, Query, Request, Response

from pimhub.access.keys import Action
from pimhub.api.auth import api_key, hub_of, require

router = APIRouter(prefix="/api/v1/products", tags=["products"])


@router.get("/{sku}", summary="Normalized product: sku, name, price, category, brand, stock...")
def get_product(
    request: Request,
    sku: str,
    lang: Annotated[str | None, Query(description="Language of localized texts")] = None,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    # Authenticated here rather than with Depends(api_key): a sync dependency is a second
    # trip through the thread pool, which cost more than the rest of the request under load.
    key = api_key(request)
    require(key, Action.READ, "Product")
    view = hub_of(request).catalog.product(
        sku, language=lang, include_drafts=key.allows(Action.READ_DRAFTS, "Product")
    )
    body = orjson.dumps(view)
    # The version leads so the tag works as If-Match on /api/v1/objects/Product/{sku}; the
    # hash changes when a related category or brand name changes.
    tag = f'"{view["version"]}.{hashlib.blake2b(body, digest_size=6).hexdigest()}"'
    if if_none_match is not None and tag in [t.strip() for t in if_none_match.split(",")]:
        return Response(status_code=304, headers={"ETag": tag})
    return Response(body, media_type="application/json", headers={"ETag": tag})
