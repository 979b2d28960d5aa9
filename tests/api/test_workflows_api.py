"""Workflows over REST and GraphQL through the app: transitions per scope, the object's state
and the transitions open to the caller, refusals as problems (403, 404, 409, 400, 412), and
published kept to the workflow."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from pimhub.api.app import create_app
from pimhub.bootstrap import Hub
from tests.catalog.workflow_fixtures import install
from tests.conftest import bearer

BASE = "/api/v1/objects/Article"


@pytest.fixture
def wf(bare_hub: Hub) -> Hub:
    hub = install(bare_hub)
    hub.catalog.create("Article", {"code": "a1", "title": "Hello"}, author="w")
    return hub


@pytest.fixture
def api(wf: Hub) -> TestClient:
    return TestClient(create_app(wf))


@pytest.fixture
def keys(wf: Hub) -> dict[str, dict[str, str]]:
    return {
        "writer": bearer(wf, "read-drafts:Article", "write:Article", name="writer"),
        "reviewer": bearer(wf, "read-drafts:Article", "review:Article", name="reviewer"),
        "publisher": bearer(wf, "read-drafts:*", "publish:Article", name="publisher"),
        "admin": bearer(wf, "admin", name="root"),
        "blind": bearer(wf, "review:Article", name="blind"),
    }


def run(api: TestClient, headers: dict[str, str], name: str, **kwargs: Any) -> Any:
    return api.post(f"{BASE}/a1/transitions/{name}", headers=headers, **kwargs)


def test_the_object_shows_its_state_and_the_transitions_open_to_the_key(
    api: TestClient, keys: dict[str, dict[str, str]]
) -> None:
    shown = api.get(f"{BASE}/a1", headers=keys["writer"]).json()
    assert shown["published"] is False
    assert shown["workflow"] == {"state": "draft", "transitions": ["submit"]}
    assert api.get(f"{BASE}/a1", headers=keys["reviewer"]).json()["workflow"]["transitions"] == []
    run(api, keys["writer"], "submit")
    for who, expected in (
        ("reviewer", ["reject", "approve"]),
        ("writer", []),
        ("admin", ["reject", "approve"]),
    ):
        assert (
            api.get(f"{BASE}/a1", headers=keys[who]).json()["workflow"]["transitions"] == expected
        )
    listed = api.get(BASE, headers=keys["reviewer"]).json()["items"]
    assert listed[0]["workflow"] == {"state": "review", "transitions": ["reject", "approve"]}


def test_the_whole_path_over_rest(api: TestClient, keys: dict[str, dict[str, str]]) -> None:
    response = run(api, keys["writer"], "submit")
    assert response.status_code == 200, response.text
    assert response.json()["workflow"] == {"state": "review", "transitions": []}
    assert response.headers["etag"] == '"2"'
    forbidden = run(api, keys["writer"], "approve")
    assert forbidden.status_code == 403
    problem = forbidden.json()
    assert problem["code"] == "transition-forbidden"
    assert "review:Article" in problem["detail"]
    assert run(api, keys["reviewer"], "approve").json()["workflow"]["state"] == "approved"
    published = run(api, keys["publisher"], "publish", json={"comment": "go live"})
    assert published.status_code == 200
    assert published.json()["published"] is True
    # Published now: visible without drafts access.
    reader = bearer(api.app.state.hub, "read:Article", name="reader")  # type: ignore[attr-defined]
    shown = api.get(f"{BASE}/a1", headers=reader).json()
    assert shown["workflow"] == {"state": "published", "transitions": []}


def test_refusals_name_state_and_allowed(api: TestClient, keys: dict[str, dict[str, str]]) -> None:
    wrong = run(api, keys["admin"], "approve")
    assert wrong.status_code == 409
    assert wrong.json()["code"] == "invalid-transition"
    assert "state 'draft'" in wrong.json()["detail"] and "submit" in wrong.json()["detail"]
    unknown = run(api, keys["admin"], "launch")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "unknown-transition")
    run(api, keys["writer"], "submit")
    no_comment = run(api, keys["reviewer"], "reject")
    assert no_comment.status_code == 400
    assert no_comment.json()["errors"][0]["field"] == "comment"
    rejected = run(api, keys["reviewer"], "reject", json={"comment": "fix the title"})
    assert rejected.status_code == 200
    # A key that may run it but not read drafts gets no body (as with writes).
    run(api, keys["writer"], "submit")
    blind = run(api, keys["blind"], "approve")
    assert (blind.status_code, blind.content) == (204, b"")


def test_a_draft_looks_missing_to_a_key_that_cannot_read_it(
    api: TestClient, keys: dict[str, dict[str, str]]
) -> None:
    missing = api.post(f"{BASE}/zz/transitions/approve", headers=keys["blind"])
    hidden = run(api, keys["blind"], "approve")  # a1 is a draft in state draft
    assert (hidden.status_code, hidden.json()["code"]) == (404, "object-not-found")
    assert hidden.json()["detail"] == missing.json()["detail"].replace("'zz'", "'a1'")
    assert "draft" not in hidden.text
    stale = run(api, {**keys["blind"], "If-Match": '"9"'}, "approve")
    assert stale.status_code == 404
    # A key with read-drafts is told the state.
    assert run(api, keys["reviewer"], "approve").status_code == 409


def test_transition_names_are_listed_only_to_keys_with_a_scope_on_the_class(
    wf: Hub, api: TestClient
) -> None:
    outsider = bearer(wf, "write:Note", name="outsider")
    reader = bearer(wf, "read:Article", name="reader")
    hidden = run(api, outsider, "launch")
    assert (hidden.status_code, hidden.json()["code"]) == (404, "unknown-transition")
    assert "submit" not in hidden.json()["detail"]
    listed = run(api, reader, "launch")
    assert "submit, reject, approve, publish, unpublish" in listed.json()["detail"]


def test_if_match_and_version(api: TestClient, keys: dict[str, dict[str, str]]) -> None:
    stale = run(api, {**keys["writer"], "If-Match": '"9"'}, "submit")
    assert stale.status_code == 412
    stale_body = run(api, keys["writer"], "submit", json={"version": 9})
    assert (stale_body.status_code, stale_body.json()["code"]) == (409, "stale-version")
    assert run(api, {**keys["writer"], "If-Match": '"1"'}, "submit").status_code == 200


@pytest.mark.parametrize(
    ("content", "status", "code"),
    [
        (b"{not json", 400, "malformed-json"),
        (b'{"comment": "a\\u0000b"}', 400, "nul-character"),
        (b'{"comment": "' + b"x" * 2001 + b'"}', 400, "invalid-body"),
        (b'{"colour": 1}', 400, "invalid-body"),
        (b'{"version": 99999999999999999999}', 400, "invalid-body"),
        (b'{"comment": "' + b"x" * 70000 + b'"}', 413, "payload-too-large"),
    ],
)
def test_hostile_bodies_are_refused(
    api: TestClient, keys: dict[str, dict[str, str]], content: bytes, status: int, code: str
) -> None:
    response = run(api, keys["admin"], "submit", content=content)
    assert (response.status_code, response.json()["code"]) == (status, code), response.text
    assert api.get(f"{BASE}/a1", headers=keys["admin"]).json()["version"] == 1


def test_published_is_refused_on_a_workflow_class_and_kept_elsewhere(
    api: TestClient, keys: dict[str, dict[str, str]]
) -> None:
    admin = keys["admin"]
    put = api.put(f"{BASE}/a1", headers=admin, json={"fields": {"title": "x"}, "published": True})
    assert put.status_code == 409
    assert put.json()["code"] == "published-by-workflow"
    assert "publish, unpublish" in put.json()["detail"]
    patch = api.patch(f"{BASE}/a1", headers=admin, json={"published": True})
    assert patch.status_code == 409
    post = api.post(BASE, headers=admin, json={"fields": {"code": "a2"}, "published": True})
    assert post.status_code == 409
    created = api.post(BASE, headers=admin, json={"fields": {"code": "a2"}})
    assert created.status_code == 201
    assert created.json()["workflow"]["state"] == "draft"
    note = api.post(
        "/api/v1/objects/Note", headers=admin, json={"fields": {"code": "n"}, "published": False}
    )
    assert note.status_code == 201 and note.json()["published"] is False
    assert "workflow" not in note.json()
    live = api.patch("/api/v1/objects/Note/n", headers=admin, json={"published": True})
    assert live.json()["published"] is True


DATAHUB = {
    "name": "editorial",
    "classes": {"Article": {"fields": "*", "operations": ["read", "create", "update"]}},
    "drafts": True,
}
MUTATION = """mutation($code: String, $t: String!, $c: String) {
  transitionArticle(code: $code, transition: $t, comment: $c) {
    success code message output { code workflowState published }
  }
}"""


def test_graphql_transition_mutation(wf: Hub, api: TestClient) -> None:
    wf.datahub.create(DATAHUB, author="t")
    hub_key = bearer(wf, "datahub:editorial", name="hub-only")
    reviewer = bearer(wf, "datahub:editorial", "review:Article", name="reviewer")

    def gql(headers: dict[str, str], t: str, c: str | None = None) -> dict[str, Any]:
        variables = {"code": "a1", "t": t, "c": c}
        response = api.post(
            "/graphql/editorial", json={"query": MUTATION, "variables": variables}, headers=headers
        )
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()["data"]["transitionArticle"]
        return result

    submitted = gql(hub_key, "submit")  # `write`: the configuration allows updates
    assert submitted["success"], submitted
    assert submitted["output"] == {"code": "a1", "workflowState": "review", "published": False}
    refused = gql(hub_key, "approve")
    assert (refused["success"], refused["code"]) == (False, "transition-forbidden")
    no_comment = gql(reviewer, "reject")
    assert (no_comment["success"], no_comment["code"]) == (False, "invalid-input")
    wrong = gql(hub_key, "submit")  # again: it is in review now
    assert (wrong["code"], "state 'review'" in wrong["message"]) == ("invalid-transition", True)
    approved = gql(reviewer, "approve")
    assert approved["output"]["workflowState"] == "approved"
    create = 'mutation { createArticle(input: {code: "a2"}) { success output { workflowState } } }'
    created = api.post("/graphql/editorial", json={"query": create}, headers=hub_key).json()
    assert created["data"]["createArticle"] == {
        "success": True,
        "output": {"workflowState": "draft"},
    }
    live = 'mutation { updateArticle(code: "a2", input: {}, published: true) { success code } }'
    refused_live = api.post("/graphql/editorial", json={"query": live}, headers=hub_key).json()
    assert refused_live["data"]["updateArticle"] == {
        "success": False,
        "code": "published-by-workflow",
    }
    query = '{ getArticle(code: "a1") { code workflowState } }'
    read = api.post("/graphql/editorial", json={"query": query}, headers=hub_key).json()
    assert read["data"]["getArticle"] == {"code": "a1", "workflowState": "approved"}


IMPORT_MAPPING = """class: Article
fields:
  code: code
  title: title
  "@published": live
"""


def test_an_import_refuses_published_per_row(wf: Hub, api: TestClient, tmp_path: Any) -> None:
    wf.imports.folder = tmp_path / "imports"
    admin = bearer(wf, "admin", name="importer")
    csv = "code,title,live\nb1,Fine,\nb2,Wants out,yes\nb3,Draft said,no\n"
    files = {"file": ("articles.csv", csv.encode(), "text/csv")}
    response = api.post(
        "/api/v1/imports", data={"mapping": IMPORT_MAPPING}, files=files, headers=admin
    )
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    import time

    deadline = time.monotonic() + 20
    while (job := api.get(f"/api/v1/imports/{job_id}", headers=admin).json())["status"] in (
        "queued",
        "running",
    ):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    summary = job["summary"]
    assert (summary["created"], summary["failed"]) == (2, 1), summary
    [error] = summary["errors"]
    assert (error["row"], error["code"]) == (2, "workflow")
    assert "publish, unpublish" in error["message"]
    b3 = wf.catalog.get_object("Article", "b3", include_drafts=True)
    assert (b3.workflow_state, b3.published) == ("draft", False)
