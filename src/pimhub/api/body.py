"""Request bodies: parsed as JSON whatever the Content-Type (curl -d sends a form type),
with errors that say where the JSON broke, then checked against a pydantic model."""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from fastapi import Request
from pydantic import BaseModel, ValidationError

from pimhub.api.errors import MalformedJson
from pimhub.catalog.errors import FieldError, InvalidInput

M = TypeVar("M", bound=BaseModel)
MAX_BODY_BYTES = 16 * 1024 * 1024


class InvalidBody(InvalidInput):
    code = "invalid-body"
    title = "Invalid request body"


async def read_json(request: Request) -> Any:
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise InvalidInput(
            f"the body is larger than {MAX_BODY_BYTES} bytes",
            [FieldError("body", "too large", "too-large")],
        )
    if not raw.strip():
        raise MalformedJson(
            "the request body is empty; send a JSON object",
            [FieldError("body", "empty", "malformed-json")],
        )
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise MalformedJson(
            f"the request body is not valid JSON: {exc.msg} at line "
            f"{exc.lineno} column {exc.colno} (character {exc.pos})",
            [FieldError("body", exc.msg, "malformed-json")],
        ) from None


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
