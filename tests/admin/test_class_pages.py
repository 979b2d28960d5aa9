"""Class definition pages on both backends: who sees and who changes them, changes through
the same service as REST (refusals shown next to the kept text, accepted ones visible in
REST), the check button, creating a class, and hostile YAML answered with a 4xx page."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

from pimhub.admin.yaml_field import dump
from pimhub.api.app import create_app
from pimhub.bootstrap import Hub
from tests.admin.conftest import AdminClient
from tests.conftest import bearer

ROLES = ("admin", "manager", "integrator", "viewer")


def _product_yaml(hub: Hub) -> str:
    return dump(hub.classes.get("Product").to_dict(with_version=False))


def _with_stock_required(text: str) -> str:
    changed = text.replace("title: Stock\n", "title: Stock\n  required: true\n", 1)
    assert changed != text
    return changed


def _with_care_field(text: str) -> str:
    extra = "- name: care\n  type: text\n  title: Care instructions\n"
    return text.replace("variants:\n", extra + "variants:\n", 1)


def _textarea(html: str) -> str:
    found = re.search(r'<textarea id="definition"[^>]*>(.*?)</textarea>', html, re.S)
    assert found, "no definition textarea"
    return found[1]


def _rest(hub: Hub) -> TestClient:
    client = TestClient(create_app(hub))
    client.headers.update(bearer(hub, "admin", name="rest-check"))
    return client


@pytest.mark.parametrize("role", ROLES)
def test_every_role_reads_the_classes_only_admins_get_the_editor(
    signed_in: Callable[[str], AdminClient], role: str
) -> None:
    client = signed_in(role)
    listing = client.get("/admin/classes")
    assert listing.status_code == 200
    assert re.search(
        r'<tr id="class-Product">.*?>1<.*?>1<', listing.text, re.S
    )  # published, drafts
    page = client.get("/admin/classes/Product")
    assert page.status_code == 200
    assert '<tr id="field-sku">' in page.text and "business key" in page.text
    editable = '<textarea id="definition"' in page.text
    assert editable == (role == "admin")
    assert ('id="definition-yaml"' in page.text) == (role != "admin")
    assert (client.get("/admin/classes/new").status_code == 200) == (role == "admin")


@pytest.mark.parametrize("role", ["manager", "integrator", "viewer"])
def test_only_admins_may_change_or_create_classes(
    users_hub: Hub, signed_in: Callable[[str], AdminClient], role: str
) -> None:
    client = signed_in(role)
    text = _with_care_field(_product_yaml(users_hub))
    assert client.post_form("/admin/classes/Product", {"definition": text}).status_code == 403
    assert client.post_form("/admin/classes", {"definition": "name: Foo"}).status_code == 403
    assert users_hub.classes.get("Product").field("care") is None


def test_an_incompatible_change_is_refused_with_the_message_next_to_the_kept_text(
    users_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    before = users_hub.classes.get("Product")
    text = _with_stock_required(_product_yaml(users_hub))
    answer = signed_in("admin").post_form(
        "/admin/classes/Product", {"definition": text, "version": str(before.version)}
    )
    assert answer.status_code == 409
    assert 'aria-invalid="true"' in answer.text
    assert 'aria-describedby="definition-help definition-error"' in answer.text
    error = re.search(
        r'<div class="field-error" id="definition-error">(.*?)</div>', answer.text, re.S
    )
    assert error and "would break its 2 stored object(s)" in error[1]
    assert "TS-2.stock" in error[1]  # the draft without stock, named by the service
    assert _textarea(answer.text) == str(escape(text))
    assert users_hub.classes.get("Product").version == before.version


def test_an_accepted_change_is_what_rest_reads_afterwards(
    users_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    before = users_hub.classes.get("Product")
    text = _with_care_field(_product_yaml(users_hub))
    answer = signed_in("admin").post_form(
        "/admin/classes/Product", {"definition": text, "version": str(before.version)}
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/admin/classes/Product"
    rest = _rest(users_hub).get("/api/v1/classes/Product").json()
    assert rest["version"] == before.version + 1
    assert {"name": "care", "type": "text", "title": "Care instructions"} in rest["fields"]
    page = signed_in("admin").get("/admin/classes/Product").text
    assert '<tr id="field-care">' in page
    assert f"version {before.version + 1}" in page


def test_a_save_over_a_newer_version_is_refused_not_applied(
    users_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    old = users_hub.classes.get("Product")
    text = _with_care_field(_product_yaml(users_hub))
    users_hub.classes.replace("Product", {**old.to_dict(), "title": "Goods"}, author="someone")
    answer = signed_in("admin").post_form(
        "/admin/classes/Product", {"definition": text, "version": str(old.version)}
    )
    assert answer.status_code == 409
    assert f"class Product is at version {old.version + 1}, not {old.version}" in answer.text
    assert _textarea(answer.text) == str(escape(text))
    assert users_hub.classes.get("Product").field("care") is None


def test_check_reports_what_saving_would_do_and_saves_nothing(
    users_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    client = signed_in("admin")
    version = users_hub.classes.get("Product").version
    good = _with_care_field(_product_yaml(users_hub))
    checked = client.post_form("/admin/classes/Product", {"definition": good, "action": "check"})
    assert checked.status_code == 200
    assert "Check passed: saving would change the class" in checked.text
    assert _textarea(checked.text) == str(escape(good))
    bad = _with_stock_required(_product_yaml(users_hub))
    refused = client.post_form("/admin/classes/Product", {"definition": bad, "action": "check"})
    assert refused.status_code == 409 and "would break its 2 stored object(s)" in refused.text
    same = _product_yaml(users_hub)
    unchanged = client.post_form("/admin/classes/Product", {"definition": same, "action": "check"})
    assert "changes nothing" in unchanged.text
    assert users_hub.classes.get("Product").version == version
    assert users_hub.classes.get("Product").field("care") is None


def test_a_new_class_is_created_checked_and_refused_twice(
    users_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    client = signed_in("admin")
    form = client.get("/admin/classes/new")
    text = _textarea(form.text).replace("Supplier", "Vendor").replace("&#34;", '"')
    checked = client.post_form("/admin/classes", {"definition": text, "action": "check"})
    assert checked.status_code == 200 and "would create the class" in checked.text
    assert _rest(users_hub).get("/api/v1/classes/Vendor").status_code == 404
    created = client.post_form("/admin/classes", {"definition": text})
    assert created.status_code == 303 and created.headers["location"] == "/admin/classes/Vendor"
    rest = _rest(users_hub).get("/api/v1/classes/Vendor").json()
    assert rest["businessKey"] == "code" and rest["version"] == 1
    again = client.post_form("/admin/classes", {"definition": text})
    assert again.status_code == 409 and "class &#39;Vendor&#39; already exists" in again.text
    assert _textarea(again.text) == str(escape(text))


def test_a_definition_naming_another_class_or_no_class_is_refused(
    users_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    client = signed_in("admin")
    other = _product_yaml(users_hub).replace("name: Product\n", "name: Brand\n", 1)
    answer = client.post_form("/admin/classes/Product", {"definition": other})
    assert answer.status_code == 422
    assert "the body defines &#39;Brand&#39; but the URL names &#39;Product&#39;" in answer.text
    invalid = client.post_form("/admin/classes", {"definition": "name: lower\nfields: 3\n"})
    assert invalid.status_code == 422
    assert "<code>name</code>: must start with an upper-case letter" in invalid.text
    assert client.get("/admin/classes/Nope").status_code == 404


BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
)
HOSTILE = {
    "nul": ("name: Pro\x00duct\n", 422, "NUL character"),
    "syntax": ("name: [unclosed\n", 422, "not valid YAML at line 2"),
    "deep": ("x: " + "[" * 5000 + "]" * 5000 + "\n", 422, "nested deeper than 64 levels"),
    "alias bomb": (BOMB, 422, "expands to more than 20,000 values"),
    "not text keys": ("name: Foo\n1: a\n2.5: b\n", 422, "mapping keys must be text"),
    "binary": ("name: !!binary aGVsbG8=\n", 422, "values of type bytes are not allowed"),
    "nan": ("name: Foo\nx: .nan\n", 422, "numbers must be finite"),
    "a list": ("- name: Foo\n", 422, "must be a YAML mapping"),
    "control character": ("name: \x07\n", 422, "not valid YAML"),
    "empty": ("   \n", 422, "the text is empty"),
    "long": ("# " + "x" * 300_000 + "\nname: Foo\n", 422, "at most 262,144 are read"),
    "2 MB": ("# " + "x" * 2_000_000 + "\n", 413, ""),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_yaml_gets_a_4xx_page_never_a_500(
    users_hub: Hub, signed_in: Callable[[str], AdminClient], case: str
) -> None:
    text, status, message = HOSTILE[case]
    client = signed_in("admin")
    version = users_hub.classes.get("Product").version
    for path in ("/admin/classes/Product", "/admin/classes"):
        for action in ("save", "check"):
            answer = client.post_form(path, {"definition": text, "action": action})
            assert answer.status_code == status, (path, action, answer.text[:500])
            assert message in answer.text
            assert "\x00" not in answer.text
    assert users_hub.classes.get("Product").version == version


def test_a_change_breaking_a_datahub_configuration_is_refused_on_check_and_save(
    users_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    users_hub.datahub.create(
        {"name": "shop", "classes": {"Brand": {"fields": ["code", "name"]}}}, author="test"
    )
    brand = users_hub.classes.get("Brand")
    without_name = {**brand.to_dict(with_version=False)}
    without_name["fields"] = [f for f in without_name["fields"] if f["name"] != "name"]
    text = dump(without_name)
    client = signed_in("admin")
    for action in ("check", "save"):
        answer = client.post_form("/admin/classes/Brand", {"definition": text, "action": action})
        assert answer.status_code == 409, action
        assert "would break 1 thing(s) that depend on its fields" in answer.text
        assert _textarea(answer.text) == str(escape(text))
    assert users_hub.classes.get("Brand").version == brand.version


def summary_on_top(page: str, field: str) -> str:
    """The page's one alert, right under the h1 and before any h2 and the form, linking down
    to the text; its message."""
    assert page.count('role="alert"') == 1, "one alert, not one per place"
    found = re.search(r'<div class="alert" role="alert" id="form-summary">(.*?)</div>', page, re.S)
    assert found, "no summary"
    assert page.index("</h1>") < found.start() < page.index(f'<textarea id="{field}"')
    if "<h2" in page:
        assert found.start() < page.index("<h2")
    assert f'href="#{field}"' in found[1]
    return found[1]


def test_a_refused_save_shows_a_summary_at_the_top_and_the_message_by_the_text(
    users_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    client = signed_in("admin")
    version = str(users_hub.classes.get("Product").version)
    refused = client.post_form(
        "/admin/classes/Product", {"definition": "name: [unclosed\n", "version": version}
    )
    assert refused.status_code == 422
    assert "not valid YAML at line 2" in summary_on_top(refused.text, "definition")
    assert 'id="definition-error"' in refused.text  # still next to the text
    breaking = _with_stock_required(_product_yaml(users_hub))
    conflict = client.post_form("/admin/classes/Product", {"definition": breaking})
    assert conflict.status_code == 409
    assert "would break" in summary_on_top(conflict.text, "definition")
    created = client.post_form("/admin/classes", {"definition": _product_yaml(users_hub)})
    assert created.status_code == 409
    assert "already exists" in summary_on_top(created.text, "definition")
    checked = client.post_form(
        "/admin/classes/Product", {"definition": _product_yaml(users_hub), "action": "check"}
    )
    status = checked.text.index('id="check-result"')
    assert checked.text.index("</h1>") < status < checked.text.index("<h2")


SURROGATES = ('name: "\\ud800"\n', 'name: Foo\ntitle: "x\\udfff"\n', '"\\ud800": 1\nname: Foo\n')


@pytest.mark.parametrize("text", SURROGATES)
def test_a_lone_surrogate_is_refused_with_a_422_never_a_500(
    users_hub: Hub, signed_in: Callable[[str], AdminClient], text: str
) -> None:
    client = signed_in("admin")
    version = users_hub.classes.get("Product").version
    for path in ("/admin/classes/Product", "/admin/classes"):
        for action in ("save", "check"):
            answer = client.post_form(path, {"definition": text, "action": action})
            assert answer.status_code == 422, (path, action)
            assert "lone surrogate" in summary_on_top(answer.text, "definition")
    assert users_hub.classes.get("Product").version == version
    assert "Foo" not in {c.name for c in users_hub.classes.all()}


@pytest.mark.parametrize("version", ["²", "%C2%B2", "1²", "٣", "9" * 40])
def test_a_version_that_is_not_ascii_digits_is_a_4xx_never_a_500(
    users_hub: Hub, signed_in: Callable[[str], AdminClient], version: str
) -> None:
    client = signed_in("admin")
    before = users_hub.classes.get("Product")
    text = _with_care_field(_product_yaml(users_hub))
    if version.startswith("%"):  # the bytes a browser sends, undecoded
        body = f"csrf_token={client.csrf}&definition=name%3A+Product&version={version}"
        answer = client.post(
            "/admin/classes/Product",
            content=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            follow_redirects=False,
        )
    else:
        answer = client.post_form(
            "/admin/classes/Product", {"definition": text, "version": version}
        )
    assert 400 <= answer.status_code < 500, answer.text[:300]
    assert users_hub.classes.get("Product").version == before.version
