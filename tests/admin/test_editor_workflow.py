"""The editor with business keys that need encoding in addresses, with a publishing
workflow (transition buttons per role, publish refused with the transitions named), and
two saves of one version at the same time (exactly one wins, the other is shown the
conflict page), on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import pytest

from pimhub.bootstrap import Hub
from tests.admin.conftest import AdminClient
from tests.admin.test_editor import form_of
from tests.catalog.workflow_fixtures import ARTICLE

Open = Callable[[str], AdminClient]
DOC = {
    "name": "Doc",
    "businessKey": "path",
    "fields": [
        {"name": "path", "type": "text", "pattern": ".+"},
        {"name": "title", "type": "text"},
    ],
}


@pytest.fixture
def more(users_hub: Hub) -> Hub:
    users_hub.classes.apply([DOC, ARTICLE], author="test")
    return users_hub


@pytest.mark.parametrize("key", ["a b", "guides/intro page", "100% ?#&", "Grüße/ü"])
def test_keys_with_spaces_slashes_and_percent_signs_work_in_every_address(
    more: Hub, signed_in: Open, key: str
) -> None:
    more.catalog.create("Doc", {"path": key, "title": "One"}, author="t")
    client = signed_in("manager")
    editor = f"/admin/objects/Doc/{quote(key, safe='')}"
    page = client.get(editor)
    assert page.status_code == 200, page.text[:300]
    assert f'action="{editor}"' in page.text and f'href="{editor}/versions"' in page.text
    data = form_of(page.text)
    data["f.title"] = "Two"
    answer = client.post_form(editor, data)
    assert answer.status_code == 303 and answer.headers["location"] == editor
    assert more.catalog.get_object("Doc", key, include_drafts=True).values["title"] == "Two"
    history = client.get(editor + "/versions")
    assert f'href="{editor}/versions/2"' in history.text
    restored = client.post_form(editor + "/versions/1/restore", {"version": "2"})
    assert restored.status_code == 303
    assert more.catalog.get_object("Doc", key, include_drafts=True).values["title"] == "One"
    assert client.post_form(editor + "/unpublish", {"version": "3"}).status_code == 303


def test_the_default_key_rules_refuse_a_slash(signed_in: Open, more: Hub) -> None:
    answer = signed_in("manager").post_form("/admin/new/Product", {"f.sku": "A/B", "f.name": "x"})
    assert answer.status_code == 422 and "is not in the expected format (pattern" in answer.text


def test_workflow_transitions_are_buttons_for_those_who_may_run_them(
    more: Hub, signed_in: Open
) -> None:
    more.catalog.create("Article", {"code": "a1", "title": "Hello"}, author="t")
    editor = "/admin/objects/Article/a1"
    manager, integrator = signed_in("manager"), signed_in("integrator")
    page = manager.get(editor).text
    assert "Workflow state:" in page and ">draft<" in page
    assert f'action="{editor}/transitions/submit"' in page
    assert "/publish" not in page.replace("/transitions/", "")  # no direct publish button
    assert "publish, unpublish" in page  # which transitions publish
    refused = manager.post_form(editor + "/publish", {"version": "1"})
    assert refused.status_code == 409 and "publish, unpublish" in refused.text
    assert manager.post_form(editor + "/transitions/submit", {"version": "1"}).status_code == 303
    after = integrator.get(editor).text  # review: reject/approve need the review scope
    assert "/transitions/" not in after and "No transition you may run" in after
    forbidden = integrator.post_form(editor + "/transitions/approve", {"version": "2"})
    assert forbidden.status_code == 403
    no_comment = manager.post_form(editor + "/transitions/reject", {"version": "2"})
    assert no_comment.status_code in (400, 422) and "requires a comment" in no_comment.text
    for name, version in (("approve", 2), ("publish", 3)):
        done = manager.post_form(editor + f"/transitions/{name}", {"version": str(version)})
        assert done.status_code == 303
    obj = more.catalog.get_object("Article", "a1", include_drafts=True)
    assert (obj.workflow_state, obj.published, obj.version) == ("published", True, 4)
    assert "now in state &#39;published&#39; (version 4)" in manager.get(editor).text
    stale = manager.post_form(editor + "/transitions/unpublish", {"version": "3"})
    assert stale.status_code == 409


def test_two_saves_of_the_same_version_at_once_one_wins_one_sees_the_conflict(
    users_hub: Hub, signed_in: Open
) -> None:
    editor = "/admin/objects/Product/TS-1"
    first, second = signed_in("manager"), signed_in("admin")
    forms = [form_of(c.get(editor).text) for c in (first, second)]
    forms[0]["f.stock"], forms[1]["f.stock"] = "101", "202"
    for _ in range(3):  # a few rounds, each from the version both read
        with ThreadPoolExecutor(2) as pool:
            answers = list(
                pool.map(
                    lambda cf: cf[0].post_form(editor, cf[1]),
                    zip((first, second), forms, strict=True),
                )
            )
        codes = sorted(a.status_code for a in answers)
        assert codes == [303, 409], [a.text[:300] for a in answers]
        loser = next(a for a in answers if a.status_code == 409)
        assert "while you were editing" in loser.text
        obj = users_hub.catalog.get_object("Product", "TS-1", include_drafts=True)
        winner = 0 if answers[0].status_code == 303 else 1
        assert obj.values["stock"] == int(forms[winner]["f.stock"])
        version = str(obj.version)
        for form in forms:
            form["version"] = version
        forms[0]["f.stock"] = str(int(forms[0]["f.stock"]) + 1)
        forms[1]["f.stock"] = str(int(forms[1]["f.stock"]) + 1)
    assert re.search(r"\d", version)
