"""The object editor through the TestClient, on SQLite and PostgreSQL: pages per role, saves
that change exactly the fields the user changed (a version and an event each), inline
validation errors, stale versions refused without loss, create, delete, publish."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from pimhub.bootstrap import Hub
from pimhub.storage.tables import outbox
from tests.admin.conftest import AdminClient
from tests.assets.images import png

Open = Callable[[str], AdminClient]
EDITOR = "/admin/objects/Product/TS-1"


def form_of(html: str, action_suffix: str = "") -> dict[str, Any]:
    """The values the editor's save form would send as drawn (inputs, selected options,
    checked boxes, textareas), without the CSRF token, which post_form adds."""
    start = html.index('<form method="post" action="/admin/objects/')
    body = html[start : html.index("</form>", start)]
    data: dict[str, Any] = {}
    for tag in re.finditer(r"<input ([^>]*)>", body):
        attrs = dict(re.findall(r'(\w[\w-]*)="([^"]*)"', tag.group(1)))
        name = attrs.get("name")
        if not name or name == "csrf_token":
            continue
        if attrs.get("type") == "checkbox":
            if " checked" in tag.group(1):
                data[name] = attrs.get("value", "on")
            continue
        data[name] = _unescape(attrs.get("value", ""))
    for area in re.finditer(r'<textarea [^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', body, re.S):
        data[area.group(1)] = _unescape(area.group(2))
    for sel in re.finditer(r'<select [^>]*name="([^"]+)"([^>]*)>(.*?)</select>', body, re.S):
        options = [
            (_unescape(m.group(2) if m.group(1) else m.group(4)), "selected" in m.group(3))
            for m in re.finditer(
                r'<option( value="([^"]*)")?([^>]*)>([^<]*)</option>', sel.group(3)
            )
        ]
        chosen = [value for value, selected in options if selected]
        if "multiple" in sel.group(2):
            data[sel.group(1)] = chosen
        else:
            first = [value for value, _ in options[:1]]
            data[sel.group(1)] = (chosen or first or [""])[0]
    return data


def _unescape(text: str) -> str:
    return (
        text.replace("&lt;", "<").replace("&gt;", ">").replace("&#34;", '"')
        .replace("&#39;", "'").replace("&amp;", "&")
    )  # fmt: skip


def outbox_types(hub: Hub) -> list[str]:
    with hub.engine.connect() as conn:
        return [
            r.event_type for r in conn.execute(select(outbox.c.event_type).order_by(outbox.c.id))
        ]


@pytest.mark.parametrize("role", ["admin", "manager", "integrator", "viewer"])
def test_the_editor_renders_for_every_reading_role(signed_in: Open, role: str) -> None:
    page = signed_in(role).get(EDITOR)
    assert page.status_code == 200
    html = page.text
    assert "<h1>Product <code>TS-1</code></h1>" in html
    assert "Published" in html and 'id="object-version">1<' in html
    assert 'value="Tee"' in html  # name in the default language
    assert "men-tops" in html and "acme" in html  # relations shown by key
    if role == "viewer":
        assert "You may read this object but not change it." in html
        assert ">Save</button>" not in html and "/publish" not in html and "Delete" not in html
        assert " disabled" in html
    else:
        assert ">Save</button>" in html and "/unpublish" in html
        assert ("Delete" in html) == (role != "integrator")


def test_a_save_changes_only_the_changed_field_with_a_new_version_and_event(
    users_hub: Hub, signed_in: Open
) -> None:
    client = signed_in("manager")
    data = form_of(client.get(EDITOR).text)
    assert data["version"] == "1" and data["f.stock"] == "7"
    data["f.stock"] = "12"
    before = outbox_types(users_hub)
    answer = client.post_form(EDITOR, data)
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == EDITOR
    obj = users_hub.catalog.get_object("Product", "TS-1", include_drafts=True)
    assert obj.values["stock"] == 12 and obj.version == 2
    assert obj.values["price"] == {"amount": 19.99, "currency": "EUR"}
    assert obj.values["name"] == {"en": "Tee", "de": "T-Shirt"}
    versions = users_hub.catalog.list_versions("Product", "TS-1", include_drafts=True)
    assert versions[0].author == "manager" and versions[0].changed_fields == ("stock",)
    assert outbox_types(users_hub)[len(before) :] == ["object.updated"]
    follow = client.get(EDITOR)
    assert "Saved as version 2." in follow.text


def test_an_unchanged_form_keeps_the_version(users_hub: Hub, signed_in: Open) -> None:
    client = signed_in("manager")
    answer = client.post_form(EDITOR, form_of(client.get(EDITOR).text))
    assert answer.status_code == 303
    assert users_hub.catalog.get_object("Product", "TS-1", include_drafts=True).version == 1
    assert "No changes to save." in client.get(EDITOR).text


def test_a_localized_field_is_edited_in_the_chosen_language(
    users_hub: Hub, signed_in: Open
) -> None:
    client = signed_in("manager")
    page = client.get(EDITOR + "?lang=de")
    assert 'value="T-Shirt"' in page.text
    data = form_of(page.text)
    data["f.name"] = "Hemd"
    answer = client.post_form(EDITOR + "?lang=de", data)
    assert answer.status_code == 303
    assert answer.headers["location"] == EDITOR + "?lang=de"
    obj = users_hub.catalog.get_object("Product", "TS-1", include_drafts=True)
    assert obj.values["name"] == {"en": "Tee", "de": "Hemd"}


def test_invalid_values_come_back_422_with_messages_next_to_the_inputs(
    users_hub: Hub, signed_in: Open
) -> None:
    client = signed_in("manager")
    data = form_of(client.get(EDITOR).text)
    data.update({"f.stock": "-3", "f.ean": "12x", "f.brand": "no-such-brand"})
    answer = client.post_form(EDITOR, data)
    assert answer.status_code == 422
    html = answer.text
    assert 'role="alert"' in html and 'href="#f-stock"' in html
    assert re.search(r'id="f-stock"[^>]*aria-invalid="true"', html)
    assert 'aria-describedby="f-stock-error"' in html or "f-stock-error" in html
    assert "must be at least 0" in html and 'value="-3"' in html and 'value="12x"' in html
    assert 'value="no-such-brand"' in html
    # The summary names fields by their labels and says a pattern's rule in words.
    assert '<a href="#f-ean">EAN / GTIN</a>: is not in the expected format (pattern' in html
    assert '<a href="#f-stock">Stock</a>' in html and ">ean</a>" not in html
    assert "does not match the pattern" not in html
    assert users_hub.catalog.get_object("Product", "TS-1", include_drafts=True).version == 1


def test_text_that_is_no_number_is_named_without_calling_the_service(signed_in: Open) -> None:
    client = signed_in("manager")
    data = form_of(client.get(EDITOR).text)
    data["f.stock"] = "twelve"
    answer = client.post_form(EDITOR, data)
    assert answer.status_code == 422
    assert "is not a number" in answer.text and 'value="twelve"' in answer.text


def test_a_stale_version_is_refused_409_keeping_input_and_showing_the_newer_values(
    users_hub: Hub, signed_in: Open
) -> None:
    client = signed_in("manager")
    data = form_of(client.get(EDITOR).text)
    users_hub.catalog.patch(
        "Product", "TS-1", {"stock": 99, "ean": "4006381333948"}, author="someone-else"
    )
    data["f.stock"] = "12"  # both changed stock; only the other writer changed ean
    answer = client.post_form(EDITOR, data)
    assert answer.status_code == 409
    html = answer.text
    assert "someone-else" in html and "as version 2" in html
    assert 'value="12"' in html  # the user's input is kept
    assert "Now stored:</strong> 99" in html  # the newer value beside it
    assert 'value="4006381333948"' in html  # the other writer's change taken over
    assert 'name="version" value="2"' in html
    obj = users_hub.catalog.get_object("Product", "TS-1", include_drafts=True)
    assert (obj.version, obj.values["stock"]) == (2, 99)  # nothing overwritten
    again = client.post_form(EDITOR, form_of(html))
    assert again.status_code == 303
    obj = users_hub.catalog.get_object("Product", "TS-1", include_drafts=True)
    assert (obj.version, obj.values["stock"], obj.values["ean"]) == (3, 12, "4006381333948")


def test_a_conflict_shows_now_stored_only_where_the_other_writer_changed_the_field_too(
    users_hub: Hub, signed_in: Open
) -> None:
    client = signed_in("manager")
    data = form_of(client.get(EDITOR).text)
    users_hub.catalog.patch("Product", "TS-1", {"stock": 99}, author="someone-else")
    data["f.stock"] = "12"  # both changed stock
    data["f.price.amount"] = "77.5"  # only this user changed the price
    answer = client.post_form(EDITOR, data)
    assert answer.status_code == 409
    html = answer.text
    assert 'id="f-stock-theirs"' in html and "Now stored:</strong> 99" in html
    assert 'id="f-price-theirs"' not in html and 'value="77.5"' in html


def test_a_required_localized_field_says_one_language_fills_it_as_rest_does(
    users_hub: Hub, signed_in: Open
) -> None:
    """The catalog's rule: a required localized field needs text in at least one language
    (reads fall back to another). The editor says so rather than implying English is
    required, and refuses, with the field named, only what REST refuses."""
    client = signed_in("manager")
    html = client.get(EDITOR).text
    assert "in language en; required in at least one language" in html
    data = form_of(html)
    data["f.name"] = ""
    assert client.post_form(EDITOR, data).status_code == 303  # German text remains
    assert users_hub.catalog.get_object("Product", "TS-1", include_drafts=True).values["name"] == {
        "de": "T-Shirt"
    }
    german = form_of(client.get(EDITOR + "?lang=de").text)
    german["f.name"] = ""
    answer = client.post_form(EDITOR + "?lang=de", german)
    assert answer.status_code == 422
    assert '<a href="#f-name">Name</a>: is required' in answer.text


def test_publish_and_unpublish(users_hub: Hub, signed_in: Open) -> None:
    client = signed_in("manager")
    draft = "/admin/objects/Product/TS-2"
    assert "/publish" in client.get(draft).text
    answer = client.post_form(draft + "/publish", {"version": "1"})
    assert answer.status_code == 303
    assert users_hub.catalog.get_object("Product", "TS-2", include_drafts=True).published
    assert "Published as version 2." in client.get(draft).text
    stale = client.post_form(draft + "/unpublish", {"version": "1"})
    assert stale.status_code == 409
    answer = client.post_form(draft + "/unpublish", {"version": "2"})
    assert answer.status_code == 303
    assert not users_hub.catalog.get_object("Product", "TS-2", include_drafts=True).published
    assert signed_in("viewer").post_form(draft + "/publish", {"version": "3"}).status_code == 403


def test_create_then_delete_with_a_confirmation(users_hub: Hub, signed_in: Open) -> None:
    client = signed_in("manager")
    form = client.get("/admin/new/Brand")
    assert form.status_code == 200 and 'name="f.code"' in form.text
    bad = client.post_form("/admin/new/Brand", {"f.code": "Not Valid", "f.name": ""})
    assert bad.status_code == 422
    assert 'value="Not Valid"' in bad.text and "is required" in bad.text
    answer = client.post_form("/admin/new/Brand", {"f.code": "zeta", "f.name": "Zeta"})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/admin/objects/Brand/zeta"
    obj = users_hub.catalog.get_object("Brand", "zeta", include_drafts=True)
    assert (obj.values["name"], obj.published, obj.version) == ("Zeta", False, 1)
    taken = client.post_form("/admin/new/Brand", {"f.code": "zeta", "f.name": "Again"})
    assert taken.status_code == 409 and "already" in taken.text
    confirm = client.post_form("/admin/objects/Brand/zeta/delete", {"version": "1"})
    assert confirm.status_code == 200 and "Yes, delete it" in confirm.text
    assert users_hub.catalog.get_object("Brand", "zeta", include_drafts=True)
    gone = client.post_form("/admin/objects/Brand/zeta/delete", {"version": "1", "confirm": "yes"})
    assert gone.status_code == 303
    assert client.get("/admin/objects/Brand/zeta").status_code == 404


def test_a_delete_refused_while_referenced_names_the_referrers(
    users_hub: Hub, signed_in: Open
) -> None:
    client = signed_in("manager")
    answer = client.post_form(
        "/admin/objects/Brand/acme/delete", {"version": "1", "confirm": "yes"}
    )
    assert answer.status_code == 409
    assert "Product/TS-1" in answer.text and 'href="/admin/objects/Product/TS-1"' in answer.text
    assert users_hub.catalog.get_object("Brand", "acme", include_drafts=True)
    assert (
        signed_in("integrator")
        .post_form("/admin/objects/Brand/acme/delete", {"version": "1"})
        .status_code
        == 403
    )


def test_the_viewer_may_not_save_or_create(signed_in: Open) -> None:
    client = signed_in("viewer")
    assert client.post_form(EDITOR, {"version": "1", "f.stock": "1"}).status_code == 403
    assert client.get("/admin/new/Product").status_code == 403


def test_the_relation_lookup_finds_targets_by_key_and_name(signed_in: Open) -> None:
    client = signed_in("viewer")
    found = client.get("/admin/lookup/Category?for=f-category&f.category=top")
    assert found.status_code == 200
    assert 'data-pick="men-tops"' in found.text and 'data-for="f-category"' in found.text
    assert "Tops" in found.text
    assert "No Brand matches" in client.get("/admin/lookup/Brand?q=zzz").text
    assert client.get("/admin/lookup/Nope?q=a").status_code == 404


def test_the_relation_lookup_finds_a_key_prefix_and_a_name_word(signed_in: Open) -> None:
    client = signed_in("viewer")
    by_key = client.get("/admin/lookup/Product?for=f-related&q=TS")
    assert 'data-pick="TS-1"' in by_key.text and 'data-pick="TS-2"' in by_key.text
    by_prefix = client.get("/admin/lookup/Category?q=men-t")
    assert 'data-pick="men-tops"' in by_prefix.text
    by_word = client.get("/admin/lookup/Category?q=tops")
    assert 'data-pick="men-tops"' in by_word.text and 'data-pick="men"' not in by_word.text


@pytest.mark.parametrize(
    ("path", "data"),
    [
        (EDITOR, {"version": "abc"}),
        (EDITOR, {"version": ""}),
        (EDITOR, {"version": "1", "f.stock": "1\x002"}),
        (EDITOR, {"version": "1", "f.description": "x" * 1024 * 1024}),
        (EDITOR, {"version": "1", "f.stock": "9" * 5000}),
        (EDITOR, {"version": "1", "f.related": "\n".join(f"k{i}" for i in range(1500))}),
        ("/admin/objects/Product/TS-1/publish", {"version": "99999999999999999999"}),
        ("/admin/objects/Nope/x", {"version": "1"}),
        ("/admin/objects/Product/no-such", {"version": "1"}),
        ("/admin/new/Product", {"f.sku": "A\x00B"}),
        ("/admin/objects/Product/TS-1/transitions/go", {"version": "1"}),
    ],
)
def test_hostile_input_is_a_4xx_page_never_a_500(signed_in: Open, path: str, data: Any) -> None:
    answer = signed_in("manager").post_form(path, data)
    assert 400 <= answer.status_code < 500, (answer.status_code, answer.text[:500])
    assert "<html" in answer.text


@pytest.mark.parametrize(
    "path",
    [
        "/admin/objects/Nope/x",
        "/admin/objects/Product/no-such",
        "/admin/objects/Product/TS-1/versions/abc",
        "/admin/objects/Product/TS-1/versions/99",
        "/admin/new/Nope",
    ],
)
def test_unknown_objects_are_a_404_page(signed_in: Open, path: str) -> None:
    answer = signed_in("manager").get(path)
    assert 400 <= answer.status_code < 500 and "<html" in answer.text
    if "abc" not in path:
        assert answer.status_code == 404


def test_a_nul_in_the_address_is_refused_before_the_editor(signed_in: Open) -> None:
    assert signed_in("manager").get("/admin/objects/Product/%00").status_code == 400


def test_asset_fields_show_the_path_and_a_thumbnail_and_take_a_path(
    users_hub: Hub, signed_in: Open
) -> None:
    users_hub.assets.add(io.BytesIO(png()), "/products/tee.png", author="t")
    client = signed_in("manager")
    data = form_of(client.get(EDITOR).text)
    data["f.image"] = "/products/tee.png"
    assert client.post_form(EDITOR, data).status_code == 303
    obj = users_hub.catalog.get_object("Product", "TS-1", include_drafts=True)
    assert obj.values["image"] != "/products/tee.png"  # stored as the asset's uuid
    html = client.get(EDITOR).text
    assert 'value="/products/tee.png"' in html
    assert re.search(r'<img class="thumb" src="/assets/products/tee.png\?thumbnail=[^"]+"', html)
    data = form_of(html)
    data["f.image"] = "/products/missing.png"
    refused = client.post_form(EDITOR, data)
    assert refused.status_code == 422 and 'href="#f-image"' in refused.text
