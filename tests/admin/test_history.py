"""Version history pages through the TestClient, on SQLite and PostgreSQL: the list, one
version's readable diff (per language, relations by key), and restore as a new version,
refused when the object changed since the page was shown."""

from __future__ import annotations

from collections.abc import Callable

from pimhub.bootstrap import Hub
from tests.admin.conftest import AdminClient

Open = Callable[[str], AdminClient]
HISTORY = "/admin/objects/Product/TS-1/versions"


def _two_changes(hub: Hub) -> None:
    hub.catalog.patch(
        "Product", "TS-1", {"name": {"de": "Hemd"}, "stock": 8}, author="alice"
    )  # version 2
    hub.catalog.patch("Product", "TS-1", {"brand": None, "stock": 9}, author="bob")  # version 3


def test_the_history_lists_every_version_with_author_and_changed_fields(
    users_hub: Hub, signed_in: Open
) -> None:
    _two_changes(users_hub)
    page = signed_in("viewer").get(HISTORY)
    assert page.status_code == 200
    html = page.text
    assert '<th scope="col"' in html
    for n in (1, 2, 3):
        assert f'href="{HISTORY}/{n}">Version {n}</a>' in html
    assert "alice" in html and "bob" in html and "brand, stock" in html
    assert html.index("Version 3") < html.index("Version 1")  # newest first


def test_a_version_shows_its_changes_per_language_and_against_the_current_one(
    users_hub: Hub, signed_in: Open
) -> None:
    _two_changes(users_hub)
    page = signed_in("viewer").get(HISTORY + "/2")
    assert page.status_code == 200
    html = page.text
    changed = html[html.index("Changed in this version") : html.index("Compared with")]
    assert "<td>de</td>" in changed and "T-Shirt" in changed and "Hemd" in changed
    assert "<td>en</td>" not in changed  # the English name did not change
    assert '<td class="diff-old">7</td><td class="diff-new">8</td>' in changed
    current = html[html.index("Compared with the current version 3") :]
    assert "acme" in current  # a relation shown by the target's key, not its uuid
    assert "Restore version 2" not in html  # a viewer may not restore
    three = signed_in("viewer").get(HISTORY + "/3").text
    assert "Compared with" not in three


def test_restore_writes_the_old_values_as_a_new_version(users_hub: Hub, signed_in: Open) -> None:
    _two_changes(users_hub)
    client = signed_in("manager")
    page = client.get(HISTORY + "/1")
    assert "Restore version 1" in page.text and 'name="version" value="3"' in page.text
    answer = client.post_form(HISTORY + "/1/restore", {"version": "3"})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/admin/objects/Product/TS-1"
    obj = users_hub.catalog.get_object("Product", "TS-1", include_drafts=True)
    assert obj.version == 4
    assert obj.values["name"] == {"en": "Tee", "de": "T-Shirt"}  # the added text removed
    assert obj.values["stock"] == 7 and "brand" in obj.values
    first = users_hub.catalog.list_versions("Product", "TS-1", include_drafts=True)[-1]
    assert {k: v for k, v in obj.values.items()} == first.values
    assert "Restored version 1 as version 4." in client.get(answer.headers["location"]).text


def test_a_restore_from_a_stale_page_is_refused_and_changes_nothing(
    users_hub: Hub, signed_in: Open
) -> None:
    _two_changes(users_hub)
    client = signed_in("manager")
    answer = client.post_form(HISTORY + "/1/restore", {"version": "2"})
    assert answer.status_code == 303
    obj = users_hub.catalog.get_object("Product", "TS-1", include_drafts=True)
    assert (obj.version, obj.values["stock"]) == (3, 9)
    assert "Not restored" in client.get(answer.headers["location"]).text


def test_restore_needs_write(users_hub: Hub, signed_in: Open) -> None:
    _two_changes(users_hub)
    viewer = signed_in("viewer")
    assert viewer.post_form(HISTORY + "/1/restore", {"version": "3"}).status_code == 403
    bad = signed_in("manager").post_form(HISTORY + "/1/restore", {"version": "x"})
    assert 400 <= bad.status_code < 500
    missing = signed_in("manager").post_form(HISTORY + "/77/restore", {"version": "3"})
    assert missing.status_code == 404


def test_titles_and_breadcrumbs_end_with_the_page_itself(users_hub: Hub, signed_in: Open) -> None:
    _two_changes(users_hub)
    client = signed_in("viewer")
    pages = {
        "/admin/objects/Product/TS-1": ("TS-1 · Product", "Product <code>TS-1</code>"),
        HISTORY: ("History of TS-1 · Product", "Version history of Product <code>TS-1</code>"),
        HISTORY + "/2": ("Version 2 of TS-1 · Product", "Version 2 of Product <code>TS-1</code>"),
    }
    for path, (title, h1) in pages.items():
        html = client.get(path).text
        assert f"<title>{title} · pimhub admin</title>" in html
        assert f"<h1>{h1}</h1>" in html and html.count("<h1>") == 1
        crumbs = html[html.index('aria-label="Breadcrumb"') :]
        crumbs = crumbs[: crumbs.index("</nav>")]
        assert '<span aria-current="page">' in crumbs and not crumbs.rstrip("</p>").endswith("/")
        assert " /</p>" not in crumbs


def test_a_removed_value_reads_removed_and_an_absent_one_empty(
    users_hub: Hub, signed_in: Open
) -> None:
    _two_changes(users_hub)
    client = signed_in("viewer")
    three = client.get(HISTORY + "/3").text
    assert '<td class="diff-old">acme</td><td class="diff-new">(removed)</td>' in three
    users_hub.catalog.patch("Product", "TS-1", {"brand": "acme"}, author="carol")  # version 4
    four = client.get(HISTORY + "/4").text
    assert '<td class="diff-old">(empty)</td><td class="diff-new">acme</td>' in four


def test_restore_is_not_offered_when_the_version_equals_now(
    users_hub: Hub, signed_in: Open
) -> None:
    _two_changes(users_hub)
    client = signed_in("manager")
    assert client.post_form(HISTORY + "/1/restore", {"version": "3"}).status_code == 303
    html = client.get(HISTORY + "/1").text  # now version 4, holding version 1's values
    current = html[html.index("Compared with the current version 4") :]
    assert "No differences." in current and "Restore version 1" not in html
    assert "Restore version 2" in client.get(HISTORY + "/2").text
