"""SqlRefusalStore on both backends: refused feed items recorded once per (event, item),
replaced when refused again, resolved, paged and read; parallel records of one item."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta

from sqlalchemy import Engine, func, insert, select

from pimhub.bootstrap import Hub
from pimhub.catalog.clock import utc_now
from pimhub.catalog.errors import FieldError
from pimhub.inbound.ports import Refusal
from pimhub.storage.inbound_refusals import SqlRefusalStore
from pimhub.storage.tables import inbound_messages, inbound_refusals


def refusal(
    event_id: str = "evt_1",
    index: int = 0,
    *,
    source: str = "erp",
    key: str | None = "MH01",
    message: str = "'lots' is not a number",
    item: object = None,
) -> Refusal:
    return Refusal(
        id=0,
        source=source,
        message=0,
        event_id=event_id,
        item_index=index,
        key=key,
        errors=(FieldError("qty", message, "transform"),),
        item=item if item is not None else {"sku": key, "qty": "lots"},
        created_at=utc_now(),
        resolved_at=None,
    )


def audit(engine: Engine, event_id: str) -> int:
    """An accepted audit row for `event_id`, as the inbox writes it; its id."""
    with engine.begin() as conn:
        return int(
            conn.execute(
                insert(inbound_messages)
                .values(
                    source="erp",
                    message_id=f"m-{event_id}",
                    event_type="erp.stock.changed",
                    received_at=utc_now(),
                    verification="passed",
                    outcome="accepted",
                    payload_hash="0" * 64,
                    size=2,
                    event_id=event_id,
                )
                .returning(inbound_messages.c.id)
            ).scalar_one()
        )


def count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(inbound_refusals)).scalar_one())


def test_record_page_get_and_the_audit_row_of_the_event(bare_hub: Hub) -> None:
    store = SqlRefusalStore(bare_hub.engine)
    row = audit(bare_hub.engine, "evt_1")
    store.record([refusal(index=0), refusal(index=2, key=None, item=[1, 2])])
    store.record([refusal("evt_9", 0, source="other")])
    page = store.page("erp", open_only=True, limit=10, after_id=None)
    assert [(r.event_id, r.item_index) for r in page] == [("evt_1", 0), ("evt_1", 2)]
    first = page[0]
    assert first.message == row  # looked up by the event's id
    assert first.key == "MH01"
    assert first.errors == (FieldError("qty", "'lots' is not a number", "transform"),)
    assert first.item == {"sku": "MH01", "qty": "lots"}
    assert page[1].item == [1, 2] and page[1].key is None
    assert store.get(first.id) == first
    assert store.get(10**6) is None
    # Every source, a page at a time.
    everything = store.page(None, open_only=True, limit=2, after_id=None)
    rest = store.page(None, open_only=True, limit=2, after_id=everything[-1].id)
    assert [r.source for r in everything + rest] == ["erp", "erp", "other"]
    # No audit row (a test, or an audit already pruned): message 0.
    assert rest[0].message == 0


def test_refused_again_replaces_in_place_and_reopens(bare_hub: Hub) -> None:
    store = SqlRefusalStore(bare_hub.engine)
    store.record([refusal()])
    [first] = store.page("erp", open_only=True, limit=10, after_id=None)
    store.resolve([first.id], utc_now())
    assert store.page("erp", open_only=True, limit=10, after_id=None) == []
    store.record([refusal(message="a newer reason", key="MH01b")])
    [again] = store.page("erp", open_only=True, limit=10, after_id=None)
    assert again.id == first.id
    assert again.created_at == first.created_at
    assert again.errors[0].message == "a newer reason" and again.key == "MH01b"
    assert again.resolved_at is None
    assert count(bare_hub.engine) == 1


def test_resolve_only_closes_open_ones_and_keeps_them_listed(bare_hub: Hub) -> None:
    store = SqlRefusalStore(bare_hub.engine)
    store.record([refusal(index=n) for n in range(3)])
    ids = [r.id for r in store.page("erp", open_only=True, limit=10, after_id=None)]
    first_at = utc_now() - timedelta(hours=1)
    store.resolve([ids[0]], first_at)
    store.resolve([ids[0], ids[1], ids[1]], utc_now())
    store.resolve([], utc_now())
    assert [r.id for r in store.page("erp", open_only=True, limit=10, after_id=None)] == [ids[2]]
    listed = store.page("erp", open_only=False, limit=10, after_id=None)
    assert [r.id for r in listed] == ids
    assert listed[0].resolved_at == first_at  # resolving again keeps the first time


def test_unstorable_text_is_spelled_out(bare_hub: Hub) -> None:
    store = SqlRefusalStore(bare_hub.engine)
    store.record([refusal(key="A\x00B", message="bad \x00", item={"k\x00": "v\x00"})])
    [found] = store.page("erp", open_only=True, limit=10, after_id=None)
    assert found.key == "A\\u0000B"
    assert found.errors[0].message == "bad \\u0000"
    assert found.item == {"k\\u0000": "v\\u0000"}


def test_parallel_records_of_one_item_leave_one_row(bare_hub: Hub) -> None:
    """A retried delivery on two workers at once (a lease ran out): one row per item."""
    store = SqlRefusalStore(bare_hub.engine)
    start = threading.Barrier(8)
    failures: list[BaseException] = []

    def work(n: int) -> None:
        try:
            start.wait()
            store.record([refusal(index=0, message=f"reason {n}"), refusal(index=1)])
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert count(bare_hub.engine) == 2


def test_settle_resolves_an_events_other_open_items(bare_hub: Hub) -> None:
    store = SqlRefusalStore(bare_hub.engine)
    store.record([refusal(index=n) for n in range(4)] + [refusal("evt_2", 0)])
    store.settle("evt_1", [1, 3], utc_now())
    open_ones = store.page("erp", open_only=True, limit=10, after_id=None)
    assert [(r.event_id, r.item_index) for r in open_ones] == [
        ("evt_1", 1),
        ("evt_1", 3),
        ("evt_2", 0),
    ]
    store.settle("evt_1", [], utc_now())
    assert [r.event_id for r in store.page("erp", open_only=True, limit=10, after_id=None)] == [
        "evt_2"
    ]


def test_many_refusals_at_once_and_the_last_word_on_an_item(bare_hub: Hub) -> None:
    """A message of thousands of bad items is one call (chunked upserts); the same item
    twice in one call keeps the later reason."""
    store = SqlRefusalStore(bare_hub.engine)
    many = [refusal(index=n, key=f"K-{n}") for n in range(1_203)]
    store.record([*many, refusal(index=7, message="the later reason")])
    assert count(bare_hub.engine) == 1_203
    found = store.page("erp", open_only=True, limit=1_000, after_id=None)
    assert [r.item_index for r in found] == list(range(1_000))
    assert found[7].errors[0].message == "the later reason"
    assert found[8].errors[0].message == "'lots' is not a number"


def test_supersede_notes_and_resolves_open_ones_only(bare_hub: Hub) -> None:
    """A refusal another replay resolved meanwhile stays as that replay left it (not opened
    again, no superseded note)."""
    store = SqlRefusalStore(bare_hub.engine)
    store.record([refusal(index=n) for n in range(2)])
    first, second = store.page("erp", open_only=True, limit=10, after_id=None)
    applied_at = utc_now() - timedelta(minutes=1)
    store.resolve([second.id], applied_at)
    note = FieldError("", "superseded: erp wrote this object since", "superseded")
    noted = [replace(r, errors=(*r.errors, note)) for r in (first, second)]
    assert store.supersede(noted, utc_now()) == 1
    assert store.supersede([], utc_now()) == 0
    got_first, got_second = (store.get(first.id), store.get(second.id))
    assert got_first is not None and got_second is not None
    assert got_first.resolved_at is not None
    assert [e.code for e in got_first.errors] == ["transform", "superseded"]
    assert got_second.resolved_at == applied_at
    assert [e.code for e in got_second.errors] == ["transform"]


def test_last_written_by_author_class_key_and_time(hub: Hub) -> None:
    store = SqlRefusalStore(hub.engine)
    before = utc_now()
    hub.catalog.create("Product", {"sku": "LW-1", "name": {"en": "x"}}, author="inbound:erp")
    hub.catalog.create("Product", {"sku": "LW-2", "name": {"en": "x"}}, author="someone")
    after = utc_now() + timedelta(seconds=1)
    found = store.last_written("Product", "inbound:erp", ["LW-1", "LW-2", "LW-3"], after)
    assert list(found) == ["LW-1"] and before <= found["LW-1"] <= after
    assert store.last_written("Product", "inbound:erp", ["LW-1"], before) == {}
    assert store.last_written("Brand", "inbound:erp", ["LW-1"], after) == {}
