"""Running a write again when it lost a race (a WriteConflict: a deadlock, two inserts of
one key, a compare-and-set that missed). Each attempt must be a whole unit of work that
reads what it checks afresh, so that the retry answers as if the writers had come one
after the other."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from pimhub.catalog.errors import CatalogError
from pimhub.catalog.ports import UnitOfWork, UnitOfWorkFactory

T = TypeVar("T")
# Attempts in all, and the first pause; each pause is random (so that writers that collided
# do not collide again in step) and at most twice as long as the one before.
WRITE_ATTEMPTS = 8
RETRY_PAUSE_SECONDS = 0.005


def retrying(work: Callable[[], T], *, attempts: int = WRITE_ATTEMPTS) -> T:
    """`work()`, run again while it raises a retryable CatalogError, `attempts` times in
    all; the last conflict reaches the caller."""
    for attempt in range(1, attempts + 1):
        try:
            return work()
        except CatalogError as exc:
            if not exc.retryable or attempt == attempts:
                raise
        time.sleep(random.uniform(0, RETRY_PAUSE_SECONDS * 2**attempt))
    raise AssertionError("unreachable")  # pragma: no cover


def write_retrying(uow: UnitOfWorkFactory, work: Callable[[UnitOfWork], T]) -> T:
    """`work` in a write unit of work, committed; run again in a fresh one when it lost a
    race. `work` takes its locks before reading what it checks."""

    def attempt() -> T:
        with uow(write=True) as unit:
            result = work(unit)
            unit.commit()
            return result

    return retrying(attempt)
