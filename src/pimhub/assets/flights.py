"""Bounds on thumbnail drawing, shared by every thread of the process: one draw per key at
a time (later callers wait for it and read the stored result), and at most N draws at once.

A draw decodes the whole source image (up to assets_max_pixels, hundreds of MB), and any
client may ask for a missing thumbnail without a key: without these bounds, parallel first
requests multiply that memory by their number."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Hashable
from typing import TypeVar

T = TypeVar("T")

_slots_lock = threading.Lock()
_slots: dict[int, threading.BoundedSemaphore] = {}


def default_concurrency() -> int:
    """The CPU count (at least 1): drawing is CPU bound, more at once only costs memory."""
    return max(1, os.cpu_count() or 1)


def draw_slots(concurrency: int | None = None) -> threading.BoundedSemaphore:
    """The process-wide semaphore of `concurrency` draw slots (default: the CPU count).
    One per size, so every thumbnailer the process builds from the settings shares it."""
    size = max(1, concurrency or default_concurrency())
    with _slots_lock:
        slots = _slots.get(size)
        if slots is None:
            slots = _slots[size] = threading.BoundedSemaphore(size)
        return slots


class _Flight:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.error: BaseException | None = None


class SingleFlight:
    """Per-key single flight: the first caller of `run(key, work)` (the leader) runs
    `work`; callers arriving while it runs wait for it and get None (they then read the
    stored result), or the leader's error, rather than redoing the work."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[Hashable, _Flight] = {}

    def run(self, key: Hashable, work: Callable[[], T]) -> T | None:
        with self._lock:
            flight = self._running.get(key)
            leader = flight is None
            if flight is None:
                flight = self._running[key] = _Flight()
        if not leader:
            flight.done.wait()
            if flight.error is not None:
                raise flight.error
            return None
        try:
            return work()
        except BaseException as exc:
            flight.error = exc
            raise
        finally:
            with self._lock:
                del self._running[key]
            flight.done.set()


# Every thumbnailer of the process shares it: two app instances over one store must not
# draw the same thumbnail twice either.
FLIGHTS = SingleFlight()
