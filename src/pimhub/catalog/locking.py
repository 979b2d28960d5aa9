"""Names of the write locks a unit of work takes before it checks and writes (see
ObjectRepository.lock): a business key, or a unique field's value. Writers of the same name
run one after the other; the storage decides what a lock is (nothing at all on SQLite,
whose writers already take turns)."""

from __future__ import annotations

from typing import Any


def key_lock(key: str) -> str:
    """The lock name of a business key."""
    return f"key\x1f{key}"


def value_lock(field: str, value: Any) -> str:
    """The lock name of a unique field's value; numbers that are equal as floats (the way
    uniqueness compares them) share one."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = float(value)
    return f"{field}\x1f{value!r}"
