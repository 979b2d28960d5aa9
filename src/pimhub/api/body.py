"""Request bodies: how large each route takes them (ROUTE_LIMITS, enforced at the edge),
parsed as JSON whatever the Content-Type (curl -d sends a form type), with errors that say
where the JSON broke, then checked against a pydantic model."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
from fastapi import Request
from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Message, Receive

from pimhub.api.errors import MalformedJson
from pimhub.catalog.errors import FieldError, InvalidInput, NulCharacter, PayloadTooLarge
from pimhub.catalog.validation import find_nul, nul_message
from pimhub.settings import Settings

M = TypeVar("M", bound=BaseModel)
# A multipart asset upload holds its other fields and part headers beside the file.
FORM_OVERHEAD_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class BodyLimit:
    """The largest body a route takes: `bytes` of `settings` (plus `extra`), named `what` in
    the 413, with a `hint` of where larger data goes."""

    methods: frozenset[str]  # empty: any method that sends a body
    prefix: str
    exact: bool  # the path is `prefix` itself, not a path below it
    setting: str | None  # None: the route enforces its own limit
    what: str = "the request body"
    extra: int = 0
    hint: str = ""

    def matches(self, method: str, path: str) -> bool:
        if self.methods and method not in self.methods:
            return False
        return path == self.prefix if self.exact else path.startswith(self.prefix)

    def limit(self, settings: Settings) -> int | None:
        if self.setting is None:
            return None
        value: int = getattr(settings, self.setting)
        return value + self.extra


_POST, _PUT = frozenset({"POST"}), frozenset({"PUT"})
_ANY: frozenset[str] = frozenset()
# First match wins; the last rule is every other route (JSON bodies).
ROUTE_LIMITS: tuple[BodyLimit, ...] = (
    # Per source (its maxBytes), checked and audited by the inbound route itself.
    BodyLimit(_ANY, "/inbound/", False, None),
    # The admin's forms: their own limits (admin/web.py checked_form) and error pages.
    BodyLimit(_ANY, "/admin/", False, None),
    BodyLimit(_ANY, "/graphql/", False, "graphql_max_body_bytes"),
    BodyLimit(_POST, "/api/v1/imports", True, "import_max_upload_bytes", "the upload"),
    BodyLimit(_POST, "/api/v1/assets", True, "assets_max_bytes", "the upload", FORM_OVERHEAD_BYTES),
    BodyLimit(_PUT, "/api/v1/assets/", False, "assets_max_bytes", "the file"),
    BodyLimit(
        _ANY,
        "/",
        False,
        "max_body_bytes",
        hint="; send bulk data as an import file (POST /api/v1/imports)",
    ),
)


def route_limit(method: str, path: str) -> BodyLimit:
    """The rule of ROUTE_LIMITS for a request (the last one matches every path)."""
    return next(rule for rule in ROUTE_LIMITS if rule.matches(method, path))


class InvalidBody(InvalidInput):
    code = "invalid-body"
    title = "Invalid request body"


def too_large(limit: int, what: str = "the request body", hint: str = "") -> PayloadTooLarge:
    return PayloadTooLarge(
        f"{what} is larger than {limit} bytes{hint}",
        [FieldError("body", f"more than {limit} bytes", "payload-too-large")],
    )


def check_length(headers: Mapping[str, str], limit: int, what: str = "the request body") -> None:
    """Refuses at once a request whose Content-Length announces more than `limit` bytes."""
    declared = headers.get("content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > limit:
        raise too_large(limit, what)


async def receive_chunks(receive: Receive) -> AsyncIterator[bytes]:
    """The body chunks of a bare ASGI request."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        yield message.get("body", b"")
        if not message.get("more_body", False):
            return


async def read_limited(chunks: AsyncIterator[bytes], limit: int) -> bytes:
    """The whole body, read chunk by chunk; PayloadTooLarge as soon as it passes `limit`
    bytes, so a chunked body without a Content-Length cannot fill memory first."""
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        parts.append(chunk)
    return b"".join(parts)


async def read_form(
    request: Request,
    limit: int,
    *,
    what: str = "the upload",
    max_files: int = 1,
    max_fields: int = 20,
    max_part_size: int = 1 << 20,
) -> FormData:
    """The multipart form, parsed as it streams in (files spooled to temporary files);
    413 as soon as the body passes `limit` bytes (or its Content-Length says it will).
    `max_part_size` bounds each non-file field."""
    check_length(request.headers, limit, what)
    received = 0
    receive = request.receive

    async def counted() -> Message:
        nonlocal received
        message = await receive()
        received += len(message.get("body", b""))
        if received > limit:
            raise too_large(limit, what)
        return message

    try:
        return await Request(request.scope, counted).form(
            max_files=max_files, max_fields=max_fields, max_part_size=max_part_size
        )
    except StarletteHTTPException as exc:  # the multipart parser's refusals
        raise InvalidInput(
            f"{what} is not a form this route takes: {exc.detail}",
            [FieldError("body", str(exc.detail), "invalid-form")],
        ) from None


async def read_json(request: Request) -> Any:
    """The parsed JSON body. Its size limit (max_body_bytes) is enforced at the edge, from
    Content-Length and while it streams in (api/edge.py, ROUTE_LIMITS)."""
    raw = b"".join([chunk async for chunk in request.stream()])
    if not raw.strip():
        raise MalformedJson(
            "the request body is empty; send a JSON object",
            [FieldError("body", "empty", "malformed-json")],
        )
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise MalformedJson(
            f"the request body is not valid JSON: {exc.msg} at line "
            f"{exc.lineno} column {exc.colno} (character {exc.pos})",
            [FieldError("body", exc.msg, "malformed-json")],
        ) from None
    refuse_nul(data, raw=raw)
    return data


def refuse_nul(data: Any, what: str = "the request body", *, raw: bytes | None = None) -> None:
    """NulCharacter, naming where, when any text or key of the parsed `data` (JSON, form
    fields) holds a NUL character; `raw`, the JSON source, lets the usual body, without a
    `\\u0000`, skip the walk."""
    if raw is not None and b"\\u0000" not in raw:
        return
    where = find_nul(data)
    if where is not None:
        message = nul_message(where or "the body")
        raise NulCharacter(
            f"{what}: {message}", [FieldError(where or "body", message, NulCharacter.code)]
        )


def parse_model(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = [
            FieldError(".".join(str(p) for p in e["loc"]) or "body", e["msg"], e["type"])
            for e in exc.errors()
        ]
        raise InvalidBody("the request body does not have the expected shape", errors) from None


def body_doc(model: type[BaseModel]) -> dict[str, Any]:
    """openapi_extra that documents `model` as the JSON request body."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema()}},
        }
    }


def object_doc(description: str) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    }
