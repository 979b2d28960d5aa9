"""Object uuids and event ids are version 7: valid uuids, unique, ordered by creation time."""

from __future__ import annotations

import time
import uuid

from pimhub.catalog.ids import new_event_id, new_uuid
from pimhub.catalog.relations import looks_like_uuid


def test_new_uuids_are_canonical_version_7_uuids() -> None:
    value = new_uuid()
    parsed = uuid.UUID(value)
    assert (parsed.version, parsed.variant) == (7, uuid.RFC_4122)
    assert str(parsed) == value and looks_like_uuid(value)
    # The first 48 bits are the creation time in Unix milliseconds.
    assert abs(int(value.replace("-", "")[:12], 16) - time.time() * 1000) < 5000


def test_ids_are_unique_and_later_ones_sort_after_earlier_ones() -> None:
    first = [new_uuid() for _ in range(5000)]
    time.sleep(0.002)
    later = new_uuid()
    assert len(set(first)) == len(first)
    assert later > max(first)
    events = [new_event_id() for _ in range(1000)]
    assert len(set(events)) == 1000
    assert all(e.startswith("evt_") and len(e) == 36 for e in events)
    assert uuid.UUID(events[0][4:]).version == 7
