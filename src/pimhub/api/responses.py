"""Fast JSON responses (orjson)."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import JSONResponse


class OrjsonResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


class ProblemResponse(OrjsonResponse):
    media_type = "application/problem+json"
