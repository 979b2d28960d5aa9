"""Saved grid views (users/views.py over storage/saved_views.py), on both backends."""

from __future__ import annotations

import pytest

from pimhub.bootstrap import Hub
from pimhub.catalog.errors import InvalidInput, NotFound


def _users(hub: Hub) -> tuple[int, int]:
    from pimhub.users.passwords import Argon2Passwords

    hub.users.passwords = Argon2Passwords(time_cost=1, memory_cost=64)
    a = hub.users.create("ann", "a-long-password", "viewer")
    b = hub.users.create("bob", "a-long-password", "viewer")
    return a.id, b.id


def test_views_are_per_user_and_class_and_a_name_replaces(hub: Hub) -> None:
    ann, bob = _users(hub)
    views = hub.saved_views
    views.save(ann, "Product", " Cheap ", "filter=%7B%7D&sort=price")
    views.save(ann, "Product", "Alpha", "?q=tee")
    views.save(ann, "Category", "Cats", "q=x")
    views.save(bob, "Product", "Cheap", "sort=-price")
    mine = views.list(ann, "Product")
    assert [(v.name, v.query) for v in mine] == [
        ("Alpha", "q=tee"),
        ("Cheap", "filter=%7B%7D&sort=price"),
    ]
    replaced = views.save(ann, "Product", "Cheap", "sort=-stock")
    assert replaced.id == mine[1].id
    assert [v.query for v in views.list(ann, "Product")] == ["q=tee", "sort=-stock"]
    assert [v.query for v in views.list(bob, "Product")] == ["sort=-price"]


def test_deleting_only_ones_own_view(hub: Hub) -> None:
    ann, bob = _users(hub)
    view = hub.saved_views.save(ann, "Product", "Mine", "q=a")
    with pytest.raises(NotFound):
        hub.saved_views.delete(bob, view.id)
    assert len(hub.saved_views.list(ann, "Product")) == 1
    hub.saved_views.delete(ann, view.id)
    assert hub.saved_views.list(ann, "Product") == []
    with pytest.raises(NotFound):
        hub.saved_views.delete(ann, view.id)


@pytest.mark.parametrize(
    ("name", "query", "field"),
    [("", "q=a", "name"), ("x" * 129, "q=a", "name"), ("a\x00", "q", "name"),
     ("ok", "q=\x00", "query"), ("ok", "q=" + "a" * 9000, "query")],
)  # fmt: skip
def test_bad_views_are_refused_naming_the_field(
    hub: Hub, name: str, query: str, field: str
) -> None:
    ann, _ = _users(hub)
    with pytest.raises(InvalidInput) as refused:
        hub.saved_views.save(ann, "Product", name, query)
    assert refused.value.errors[0].field == field
    assert hub.saved_views.list(ann, "Product") == []


def test_a_listed_view_is_never_stale(hub: Hub) -> None:
    """The list is remembered on SQLite until anything is committed: a view written behind
    the repository's back (another process, say) shows on the very next read, and one
    deleted so goes."""
    from datetime import UTC, datetime

    from sqlalchemy import delete, insert

    from pimhub.storage.tables import ui_saved_views

    ann, _ = _users(hub)
    first = hub.saved_views.save(ann, "Product", "One", "q=a")
    listed = hub.saved_views.list(ann, "Product")
    assert listed == [first] and listed[0].created_at.tzinfo is not None
    assert hub.saved_views.list(ann, "Product") == [first]  # remembered: the same answer
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    with hub.engine.begin() as conn:
        conn.execute(
            insert(ui_saved_views).values(
                user_id=ann, class_name="Product", name="Another", query="q=b", created_at=at
            )
        )
    again = hub.saved_views.list(ann, "Product")
    assert [(v.name, v.query, v.created_at) for v in again] == [
        ("Another", "q=b", at),
        ("One", "q=a", first.created_at),
    ]
    with hub.engine.begin() as conn:
        conn.execute(delete(ui_saved_views).where(ui_saved_views.c.name == "One"))
    assert [v.name for v in hub.saved_views.list(ann, "Product")] == ["Another"]
