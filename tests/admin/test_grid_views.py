"""Saved grid views in the admin: a stored query string per user and class."""

from __future__ import annotations

import re
from collections.abc import Callable

from pimhub.bootstrap import Hub
from tests.admin.conftest import AdminClient

GRID = "/admin/objects/Product"
_VIEW = re.compile(r'<li>\s*<a href="(/admin/objects/Product\?[^"]*)">([^<]+)</a>')


def views_on(html: str) -> list[tuple[str, str]]:
    return [(name, href.replace("&amp;", "&")) for href, name in _VIEW.findall(html)]


def test_save_list_apply_and_delete_a_view(
    users_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    client = signed_in("manager")
    query = "q=tee&f=price&op=gt&v=10&published=published&sort=-price&cols=sku,price&first=25"
    page = client.get(f"{GRID}?{query}&after=")
    stored = re.search(r'name="query" value="([^"]*)"', page.text)
    assert stored is not None
    saved = client.post_form(
        "/admin/grid/Product/views",
        {"name": "Dear tees", "query": stored.group(1).replace("&amp;", "&")},
    )
    assert saved.status_code == 303
    assert saved.headers["location"] == f"{GRID}?{query}"
    listed = client.get(GRID)
    assert views_on(listed.text) == [("Dear tees", f"{GRID}?{query}")]
    applied = client.get(f"{GRID}?{query}")
    assert 'value="tee"' in applied.text and 'aria-sort="descending"' in applied.text
    assert re.findall(r'<td><a href="/admin/objects/Product/([^"]+)">', applied.text) == ["TS-1"]
    # another user sees none of it
    assert views_on(signed_in("viewer").get(GRID).text) == []
    view_id = users_hub.saved_views.list(users_hub.users.get("manager").id, "Product")[0].id
    other = signed_in("viewer").post_form(f"/admin/grid/Product/views/{view_id}/delete")
    assert other.status_code == 404
    gone = client.post_form(f"/admin/grid/Product/views/{view_id}/delete")
    assert gone.status_code == 303
    assert views_on(client.get(GRID).text) == []


def test_a_saved_query_is_checked_and_canonical(
    users_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    client = signed_in("manager")
    answer = client.post_form(
        "/admin/grid/Product/views", {"name": "x", "query": "?sort=price&after=abc&junk=1"}
    )
    assert answer.status_code == 303
    views = users_hub.saved_views.list(users_hub.users.get("manager").id, "Product")
    assert [v.query for v in views] == ["sort=price"]  # no page, nothing unknown
    refused = client.post_form("/admin/grid/Product/views", {"name": "y", "query": "first=0"})
    assert refused.status_code == 303
    assert "not%20saved" in refused.headers["set-cookie"]
    assert len(users_hub.saved_views.list(users_hub.users.get("manager").id, "Product")) == 1
    blank = client.post_form("/admin/grid/Product/views", {"name": " ", "query": "q=a"})
    assert blank.status_code == 303
    assert len(users_hub.saved_views.list(users_hub.users.get("manager").id, "Product")) == 1


def test_views_of_an_unknown_class_are_a_404(signed_in: Callable[[str], AdminClient]) -> None:
    client = signed_in("manager")
    assert client.post_form("/admin/grid/Nope/views", {"name": "a", "query": ""}).status_code == 404
    assert client.post_form("/admin/grid/Product/views/abc/delete").status_code == 404
