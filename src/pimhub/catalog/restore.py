"""Restoring an old version: the merge patch that turns an object's values into a version's."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def replacing_patch(current: Mapping[str, Any], target: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON merge patch (RFC 7396) that makes `current` equal to `target`: fields the target
    lacks become null, and an object value (a localized text, a price list) names each of
    its keys, so that a language the old version did not have is removed, not merged."""
    patch: dict[str, Any] = {}
    for name in sorted(set(current) | set(target)):
        old, new = current.get(name), target.get(name)
        if old == new:
            continue
        if isinstance(old, Mapping) and isinstance(new, Mapping):
            patch[name] = replacing_patch(old, new)
        else:
            patch[name] = new
    return patch
