"""/api/v1/keys: API keys (admin): list, create, change, rotate and revoke.

A key's full secret is in the answer to the request that made it (create, rotate) and
nowhere else; only its hash is stored.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from pimhub.access.keys import Action, ApiKey, InvalidKey
from pimhub.access.service import MAX_OVERLAP, AccessService, KeyChanges
from pimhub.api.auth import api_key, hub_of, require
from pimhub.api.body import object_doc, read_json
from pimhub.api.responses import OrjsonResponse
from pimhub.catalog.errors import FieldError, NotFound

router = APIRouter(prefix="/api/v1/keys", tags=["keys"])

KeyId = Annotated[str, Path(max_length=64, description="The key id (the part after phk_)")]
CREATE_DOC = object_doc(
    "name (required), scopes[] (required), environment (production | staging | development "
    "| test), expiresInDays, description, allowedNetworks[] (CIDR; empty: anywhere), "
    "rateLimit ('N/second|minute|hour'; null: the hub's per-key rate); see docs/security.md"
)
PATCH_DOC = object_doc(
    "any of allowedNetworks[], rateLimit, description, expiresInDays (null: never expires)"
)
_CREATE_FIELDS = {
    "name": "name",
    "scopes": "scopes",
    "environment": "environment",
    "expiresInDays": "expires_in_days",
    "description": "description",
    "allowedNetworks": "allowed_networks",
    "rateLimit": "rate_limit",
}
_PATCH_FIELDS = {
    "allowedNetworks": "allowed_networks",
    "rateLimit": "rate_limit",
    "description": "description",
    "expiresInDays": "expires_in_days",
}


def admin_access(request: Request) -> AccessService:
    """Keys are admin's alone: a key that makes keys can give itself any scope."""
    require(api_key(request), Action.ADMIN)
    return hub_of(request).access


Access = Annotated[AccessService, Depends(admin_access)]


def described(request: Request, key: ApiKey) -> dict[str, Any]:
    """The key as JSON, with what the API does with it now (status, expiry warning)."""
    settings = hub_of(request).settings
    window = timedelta(days=settings.key_expiry_warning_days)
    now = hub_of(request).access.clock()
    return {
        **key.to_dict(),
        "status": key.status(now, window),
        "expiryWarning": key.expiry_warning(now, window),
    }


@router.get("", summary="List API keys (never their secrets)")
def list_keys(request: Request, access: Access) -> OrjsonResponse:
    return OrjsonResponse({"items": [described(request, k) for k in access.all()]})


@router.post(
    "",
    status_code=201,
    summary="Create a key; the answer carries its secret, shown this once",
    openapi_extra=CREATE_DOC,
)
async def create_key(request: Request, access: Access) -> OrjsonResponse:
    values = _fields(await read_json(request), _CREATE_FIELDS)
    if "name" not in values or "scopes" not in values:
        raise InvalidKey(
            "a key needs a name and scopes",
            [FieldError(f, "required") for f in ("name", "scopes") if f not in values],
        )
    name = _text(values.pop("name"), "name")
    scopes = _texts(values.pop("scopes"), "scopes")
    options: dict[str, Any] = {}
    if "environment" in values:
        options["environment"] = _text(values["environment"], "environment")
    if values.get("expires_in_days") is not None:
        options["expires_in_days"] = _days(values["expires_in_days"])
    if values.get("description") is not None:
        options["description"] = _text(values["description"], "description")
    if values.get("allowed_networks") is not None:
        options["allowed_networks"] = _texts(values["allowed_networks"], "allowedNetworks")
    if values.get("rate_limit") is not None:
        options["rate_limit"] = _text(values["rate_limit"], "rateLimit")
    key, secret = await run_in_threadpool(access.create, name, scopes, **options)
    return OrjsonResponse(
        {**described(request, key), "secret": secret},
        201,
        headers={"Location": f"/api/v1/keys/{key.key_id}", "Cache-Control": "no-store"},
    )


@router.get("/{key_id}", summary="Read a key (never its secret)")
def get_key(key_id: KeyId, request: Request, access: Access) -> OrjsonResponse:
    return OrjsonResponse(described(request, access.get(key_id)))


@router.patch(
    "/{key_id}",
    summary="Change a key's allowed networks, rate limit, description or expiry",
    openapi_extra=PATCH_DOC,
)
async def patch_key(key_id: KeyId, request: Request, access: Access) -> OrjsonResponse:
    values = _fields(await read_json(request), _PATCH_FIELDS)
    changes: dict[str, Any] = {}
    if "allowed_networks" in values:
        networks = values["allowed_networks"]
        changes["allowed_networks"] = (
            () if networks is None else _texts(networks, "allowedNetworks")
        )
    if "rate_limit" in values:
        rate = values["rate_limit"]
        changes["rate_limit"] = None if rate is None else _text(rate, "rateLimit")
    if "description" in values:
        text = values["description"]
        changes["description"] = None if text is None else _text(text, "description")
    if "expires_in_days" in values:
        days = values["expires_in_days"]
        changes["expires_in_days"] = None if days is None else _days(days)
    updated = await run_in_threadpool(access.update, _by_id(access, key_id), KeyChanges(**changes))
    return OrjsonResponse(described(request, updated))


@router.post(
    "/{key_id}/rotate",
    summary="New secret for the same key; the previous one stays valid for the overlap",
)
def rotate_key(
    key_id: KeyId,
    request: Request,
    access: Access,
    overlap_hours: Annotated[
        float | None,
        Query(
            alias="overlapHours",
            ge=0,
            le=MAX_OVERLAP.total_seconds() / 3600,
            allow_inf_nan=False,
            description="Hours the previous secret stays valid (default: "
            "key_rotation_overlap_hours; 0 ends it now)",
        ),
    ] = None,
) -> OrjsonResponse:
    hours = overlap_hours
    if hours is None:
        hours = hub_of(request).settings.key_rotation_overlap_hours
    key, secret = access.rotate(_by_id(access, key_id), timedelta(hours=hours))
    return OrjsonResponse(
        {**described(request, key), "secret": secret},
        headers={"Cache-Control": "no-store"},
    )


@router.delete("/{key_id}", status_code=204, summary="Revoke a key; it is refused at once")
def revoke_key(key_id: KeyId, access: Access) -> Response:
    access.revoke(_by_id(access, key_id))
    return Response(status_code=204)


def _by_id(access: AccessService, key_id: str) -> str:
    """The service also takes names; the path names an id, so an unknown id is a 404 even
    when some key is named like it."""
    key = access.get(key_id)
    if key.revoked_at is not None:
        raise NotFound(f"the key {key.key_id} was revoked at {key.revoked_at.isoformat()}")
    return key.key_id


def _fields(body: Any, known: dict[str, str]) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InvalidKey("send a JSON object", [FieldError("body", "not an object")])
    unknown = sorted(set(body) - set(known))
    if unknown:
        raise InvalidKey(
            f"unknown field(s): {', '.join(unknown)[:200]}; known: {', '.join(known)}",
            [FieldError(str(name)[:64], "unknown field") for name in unknown[:20]],
        )
    return {known[name]: value for name, value in body.items()}


def _text(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise InvalidKey(f"{field} must be a string", [FieldError(field, "not a string")])
    if len(value) > 2000:
        raise InvalidKey(f"{field} is longer than 2000 characters", [FieldError(field, "too long")])
    return value


def _texts(value: Any, field: str) -> list[str]:
    """A list of strings; one string is taken as a comma-separated list."""
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        raise InvalidKey(f"{field} must be a list of strings", [FieldError(field, "not a list")])
    if len(value) > 200:
        raise InvalidKey(f"{field} holds more than 200 items", [FieldError(field, "too many")])
    return [_text(item, field) for item in value]


def _days(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidKey(
            "expiresInDays must be a whole number of days",
            [FieldError("expiresInDays", "not an integer")],
        )
    return value
