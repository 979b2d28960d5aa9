"""Saved grid views in the admin: a stored query string per user and class."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import parse_qsl

from pimhub.bootstrap import Hub
from tests.admin.conftest import AdminClient

GRID = "/admin/objects/Product"
_VIEW = re.compile(r'<li>\s*<a href="(/admin/objects/Product\?[^"]*)">([^<]+)</a>')


def form_of(query: str) -> dict[str, str | list[str]]:
    """The filter form's fields holding `query` (repeated names as lists)."""
    fields: dict[str, list[str]] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        fields.setdefault(name, []).append(value)
    return {k: v[0] if len(v) == 1 else v for k, v in fields.items()}


def views_on(html: str) -> list[tuple[str, str]]:
    return [(name, href.replace("&amp;", "&")) for href, name in _VIEW.findall(html)]


def test_save_list_apply_and_delete_a_view(
    users_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    client = signed_in("manager")
    query = "q=tee&f=price&op=gt&v=10&published=published&sort=-price&cols=sku,price&first=25"
    saved = client.post_form(
        "/admin/grid/Product/views", {"view_name": "Dear tees", **form_of(f"{query}&after=")}
    )
    assert saved.status_code == 303
    assert saved.headers["location"] == f"{GRID}?{query}"
    listed = client.get(GRID)
    assert views_on(listed.text) == [("Dear tees", f"{GRID}?{query}")]
    applied = client.get(f"{GRID}?{query}")
    assert 'value="tee"' in applied.text and 'aria-sort="descending"' in applied.text
    assert re.findall(
        r'<td class="key"><a href="/admin/objects/Product/([^"]+)">', applied.text
    ) == ["TS-1"]
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
        "/admin/grid/Product/views", {"view_name": "x", **form_of("sort=price&after=abc&junk=1")}
    )
    assert answer.status_code == 303
    views = users_hub.saved_views.list(users_hub.users.get("manager").id, "Product")
    assert [v.query for v in views] == ["sort=price"]  # no page, nothing unknown
    refused = client.post_form("/admin/grid/Product/views", {"view_name": "y", "first": "0"})
    assert refused.status_code == 303
    assert "not%20saved" in refused.headers["set-cookie"]
    assert len(users_hub.saved_views.list(users_hub.users.get("manager").id, "Product")) == 1
    blank = client.post_form("/admin/grid/Product/views", {"view_name": " ", "q": "a"})
    assert blank.status_code == 303
    assert len(users_hub.saved_views.list(users_hub.users.get("manager").id, "Product")) == 1


def test_views_of_an_unknown_class_are_a_404(signed_in: Callable[[str], AdminClient]) -> None:
    client = signed_in("manager")
    assert client.post_form("/admin/grid/Nope/views", {"view_name": "a"}).status_code == 404
    assert client.post_form("/admin/grid/Product/views/abc/delete").status_code == 404
    assert client.post_form("/admin/grid/Product/views/%C2%B2/delete").status_code == 404
    assert client.post_form("/admin/grid/Product/views/" + "9" * 40 + "/delete").status_code == 404


def test_saving_keeps_the_filters_on_screen_not_yet_applied(
    users_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    """The page was loaded unfiltered; the user typed a search and a filter row and saved
    without Apply: the view holds them, and the answer shows them applied."""
    client = signed_in("manager")
    page = client.get(GRID)
    assert 'name="view_name"' in page.text and 'form="grid-form"' in page.text
    fields = {"q": "tee", "f": ["price", ""], "op": ["gt", "eq"], "v": ["10", ""]}
    saved = client.post_form("/admin/grid/Product/views", {"view_name": "Dear", **fields})
    assert saved.status_code == 303
    assert saved.headers["location"] == f"{GRID}?q=tee&f=price&op=gt&v=10"
    views = users_hub.saved_views.list(users_hub.users.get("manager").id, "Product")
    assert [(v.name, v.query) for v in views] == [("Dear", "q=tee&f=price&op=gt&v=10")]
    shown = client.get(saved.headers["location"])
    assert 'id="v1" name="v" value="10"' in shown.text
    assert re.findall(r'<td class="key"><a href="/admin/objects/Product/([^"]+)">', shown.text) == [
        "TS-1"
    ]


def test_the_csrf_token_is_only_on_the_save_button(
    signed_in: Callable[[str], AdminClient],
) -> None:
    """Apply is a GET of the same form: the token must not be one of its fields."""
    page = signed_in("manager").get(GRID).text
    start = page.index('id="grid-form"')
    form = page[start : page.index("</form>", start)]
    assert 'name="csrf_token"' not in form
    button = re.search(r'<button[^>]*formmethod="post"[^>]*>', page)
    assert button is not None and 'name="csrf_token"' in button.group(0)
    assert 'form="grid-form"' in button.group(0)


def test_a_view_that_would_open_on_an_error_is_not_saved(
    users_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    client = signed_in("manager")
    user = users_hub.users.get("manager").id
    for bad in ("f=price&op=gt&v=%C2%B2", "f=%00&op=eq&v=1", "f=brand&op=eq&v=nosuch"):
        answer = client.post_form(
            "/admin/grid/Product/views", {"view_name": "broken", **form_of(bad)}
        )
        assert answer.status_code == 303
        assert "not saved" in client.get(answer.headers["location"]).text
        assert users_hub.saved_views.list(user, "Product") == []
