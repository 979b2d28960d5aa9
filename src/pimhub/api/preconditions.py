"""The version a REST write expects, from If-Match or the body, and the 412 a stale
If-Match answers: shared by the object and asset routes."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar

from pimhub.api.errors import PreconditionFailed
from pimhub.catalog.errors import FieldError, InvalidInput, StaleVersion

T = TypeVar("T")
# The ETags this API issues: the version, and after a dot a hash of the shown content.
_IF_MATCH = re.compile(r'^(?:W/)?"(\d+)(?:\.[0-9a-f]+)?"$')


def expected_version(if_match: str | None, body_version: int | None) -> tuple[int | None, bool]:
    """The version a write expects, and whether it came from If-Match (412 when stale)."""
    if if_match is None or if_match.strip() == "*":
        return body_version, False
    match = _IF_MATCH.match(if_match.strip())
    if not match:
        raise InvalidInput(
            'If-Match must be an ETag this API issued, such as "3"',
            [FieldError("If-Match", f"got {if_match!r}")],
        )
    header_version = int(match.group(1))
    if body_version is not None and body_version != header_version:
        raise InvalidInput(
            "If-Match and the body's version disagree",
            [FieldError("version", f"{body_version} vs If-Match {if_match}")],
        )
    return header_version, True


def guarded(from_header: bool, write: Callable[[], T]) -> T:
    """Runs `write`; a stale version named by If-Match is 412 Precondition Failed, one
    named in the body stays 409 (StaleVersion)."""
    try:
        return write()
    except StaleVersion as exc:
        if from_header:
            raise PreconditionFailed(exc.detail) from None
        raise
