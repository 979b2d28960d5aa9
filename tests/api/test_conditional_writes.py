"""Conditional writes (If-Match: *, If-None-Match: *) and what a write answers to a key that
may not read what it wrote, on both backends."""

from __future__ import annotations

from fastapi.testclient import TestClient

from pimhub.bootstrap import Hub
from tests.api.test_rest_contract import OBJECTS, TEE, problem, versions
from tests.conftest import bearer

TEE_PATH = f"{OBJECTS}/Product/T-1"


def test_if_match_star_on_a_missing_object_is_412_and_creates_nothing(
    client: TestClient, admin: dict[str, str], sample: Hub
) -> None:
    star = {**admin, "If-Match": "*"}
    problem(client.put(TEE_PATH, json={"fields": TEE}, headers=star), 412, "precondition-failed")
    problem(client.patch(TEE_PATH, json={"fields": {}}, headers=star), 412, "precondition-failed")
    problem(client.delete(TEE_PATH, headers=star), 412, "precondition-failed")
    assert client.get(TEE_PATH, headers=admin).status_code == 404


def test_if_match_star_on_an_existing_object_writes(
    client: TestClient, admin: dict[str, str], sample: Hub
) -> None:
    assert client.put(TEE_PATH, json={"fields": TEE}, headers=admin).status_code == 201
    star = {**admin, "If-Match": "*"}
    replaced = client.put(TEE_PATH, json={"fields": {**TEE, "stock": 2}}, headers=star)
    assert replaced.status_code == 200 and replaced.headers["etag"] == '"2"'
    assert client.delete(TEE_PATH, headers=star).status_code == 204


def test_if_none_match_star_creates_only_what_is_missing(
    client: TestClient, admin: dict[str, str], sample: Hub
) -> None:
    none = {**admin, "If-None-Match": "*"}
    created = client.put(TEE_PATH, json={"fields": TEE}, headers=none)
    assert created.status_code == 201
    again = client.put(TEE_PATH, json={"fields": {**TEE, "stock": 9}}, headers=none)
    problem(again, 412, "precondition-failed")
    assert versions(client, admin, TEE_PATH) == [1]
    assert "stock" not in client.get(TEE_PATH, headers=admin).json()["fields"]


def test_other_if_none_match_values_are_refused(
    client: TestClient, admin: dict[str, str], sample: Hub
) -> None:
    bad = client.put(TEE_PATH, json={"fields": TEE}, headers={**admin, "If-None-Match": '"1"'})
    body = problem(bad, 400, "invalid-input")
    assert body["errors"][0]["field"] == "If-None-Match"
    both = {**admin, "If-None-Match": "*", "If-Match": "*"}
    problem(client.put(TEE_PATH, json={"fields": TEE}, headers=both), 400, "invalid-input")


def test_a_write_only_key_gets_no_body(
    client: TestClient, admin: dict[str, str], sample: Hub
) -> None:
    writer = bearer(sample, "write:Product", name="writer")
    created = client.post(f"{OBJECTS}/Product", json={"fields": TEE}, headers=writer)
    assert created.status_code == 201 and created.content == b""
    assert created.headers["etag"] == '"1"' and created.headers["location"] == TEE_PATH
    # The draft TS-2 exists; an empty patch must not read it back to the writer.
    peek = client.patch(f"{OBJECTS}/Product/TS-2", json={"fields": {}}, headers=writer)
    assert peek.status_code == 204 and peek.content == b""
    put = client.put(TEE_PATH, json={"fields": {**TEE, "stock": 1}}, headers=writer)
    assert put.status_code == 204 and put.content == b"" and put.headers["etag"] == '"2"'


def test_drafts_are_answered_only_to_keys_with_drafts_access(
    client: TestClient, admin: dict[str, str], sample: Hub
) -> None:
    reader_writer = bearer(sample, "read:Product", "write:Product", name="rw")
    draft = client.patch(f"{OBJECTS}/Product/TS-2", json={"fields": {}}, headers=reader_writer)
    assert draft.status_code == 204 and draft.content == b""
    live = client.patch(
        f"{OBJECTS}/Product/TS-1", json={"fields": {"stock": 3}}, headers=reader_writer
    )
    assert live.status_code == 200 and live.json()["fields"]["stock"] == 3
    drafts = bearer(sample, "read:Product", "read-drafts:Product", "write:Product", name="d")
    seen = client.patch(f"{OBJECTS}/Product/TS-2", json={"fields": {}}, headers=drafts)
    assert seen.status_code == 200 and seen.json()["published"] is False


def test_if_none_match_star_on_patch_and_delete_of_an_existing_object_is_412(
    client: TestClient, admin: dict[str, str], sample: Hub
) -> None:
    assert client.put(TEE_PATH, json={"fields": TEE}, headers=admin).status_code == 201
    none = {**admin, "If-None-Match": "*"}
    patched = client.patch(TEE_PATH, json={"fields": {"stock": 7}}, headers=none)
    problem(patched, 412, "precondition-failed")
    problem(client.delete(TEE_PATH, headers=none), 412, "precondition-failed")
    assert versions(client, admin, TEE_PATH) == [1]
    other = {**admin, "If-None-Match": '"1"'}
    problem(client.patch(TEE_PATH, json={"fields": {}}, headers=other), 400, "invalid-input")
    problem(client.delete(TEE_PATH, headers=other), 400, "invalid-input")
