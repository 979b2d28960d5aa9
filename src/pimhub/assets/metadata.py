"""Asset metadata: a small JSON object; `alt` holds the alt text per language."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pimhub.catalog.channels import LANGUAGE_PATTERN
from pimhub.catalog.errors import FieldError, InvalidInput
from pimhub.catalog.validation import find_nul, nul_message

MAX_METADATA_BYTES = 16 << 10  # serialized
# Levels of objects and lists: enough for any real metadata, and far below what the JSON
# encoders that store it can take (orjson refuses about 255).
MAX_METADATA_DEPTH = 32


def check_metadata(metadata: Any, languages: frozenset[str] | None) -> dict[str, Any]:
    """`metadata` as stored (nulls dropped), or InvalidInput naming every problem: not an
    object, a NUL anywhere, an `alt` that is no {language: text}, over MAX_METADATA_BYTES."""
    if not isinstance(metadata, Mapping):
        raise _invalid([FieldError("metadata", "must be a JSON object", "type")])
    if _deeper_than(metadata, MAX_METADATA_DEPTH):
        message = f"is nested more than {MAX_METADATA_DEPTH} levels deep"
        raise _invalid([FieldError("metadata", message, "too-deep")])
    nul = find_nul(metadata, "metadata")
    if nul is not None:
        raise _invalid([FieldError(nul, nul_message(nul), "nul-character")])
    try:
        size = len(json.dumps(metadata, allow_nan=False, ensure_ascii=False).encode("utf-8"))
    except (TypeError, ValueError, RecursionError):
        problem = "must be plain JSON (no NaN or Infinity)"
        raise _invalid([FieldError("metadata", problem, "type")]) from None
    if size > MAX_METADATA_BYTES:
        message = f"is {size:,} bytes as JSON; at most {MAX_METADATA_BYTES:,} are allowed"
        raise _invalid([FieldError("metadata", message, "too-large")])
    errors: list[FieldError] = []
    out = {str(k): v for k, v in metadata.items() if v is not None}
    if "alt" in out:
        out["alt"] = _alt(out["alt"], languages, errors)
        if not out["alt"]:
            del out["alt"]
    if errors:
        raise _invalid(errors)
    return out


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether objects and lists nest more than `limit` levels, found without recursion."""
    level: list[Any] = [value]
    for _ in range(limit):
        level = [
            child
            for item in level
            for child in (item.values() if isinstance(item, Mapping) else item)
            if isinstance(child, Mapping | list)
        ]
        if not level:
            return False
    return True


def _alt(value: Any, languages: frozenset[str] | None, errors: list[FieldError]) -> dict[str, str]:
    if not isinstance(value, Mapping):
        message = 'alt takes an object of language to text, e.g. {"en": "Red shirt"}'
        errors.append(FieldError("metadata.alt", message, "type"))
        return {}
    out: dict[str, str] = {}
    for lang, text in value.items():
        where = f"metadata.alt.{lang}"
        if not LANGUAGE_PATTERN.fullmatch(str(lang)) or (
            languages is not None and lang not in languages
        ):
            allowed = f"; configured: {', '.join(sorted(languages))}" if languages else ""
            errors.append(FieldError(where, f"unknown language code{allowed}", "language"))
        elif text is None or text == "":
            continue
        elif not isinstance(text, str):
            errors.append(FieldError(where, "expected a text", "type"))
        else:
            out[lang] = text
    return out


def _invalid(errors: list[FieldError]) -> InvalidInput:
    return InvalidInput(
        f"the asset metadata is invalid: {errors[0].field}: {errors[0].message}", errors
    )
