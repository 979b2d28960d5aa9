"""`PUT /api/v1/datahub/{name}` takes the configuration's name from the URL when the body has
none; a body name that differs from the URL is a 422 naming both."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_a_body_without_name_takes_the_urls(client: TestClient, admin: dict[str, str]) -> None:
    body = {"classes": {"Product": {"fields": ["sku", "name"]}}}
    made = client.put("/api/v1/datahub/shop", json=body, headers=admin)
    assert made.status_code == 201, made.text
    assert made.json()["name"] == "shop"
    again = client.put("/api/v1/datahub/shop", json=body, headers=admin)
    assert again.status_code == 200, again.text
    assert client.get("/api/v1/datahub/shop", headers=admin).json()["version"] == 1


def test_a_body_name_that_differs_is_a_422_naming_both(
    client: TestClient, admin: dict[str, str]
) -> None:
    for other in ("elsewhere", "Not-A-Name"):
        body = {"name": other, "classes": {"Product": {"fields": ["sku"]}}}
        answer = client.put("/api/v1/datahub/shop", json=body, headers=admin)
        assert answer.status_code == 422, answer.text
        problem = answer.json()
        assert f"'{other}'" in problem["detail"] and "'shop'" in problem["detail"], problem
        assert [e["field"] for e in problem["errors"]] == ["name"]
    assert client.get("/api/v1/datahub/shop", headers=admin).status_code == 404


def test_a_name_from_the_url_is_checked_like_any_name(
    client: TestClient, admin: dict[str, str]
) -> None:
    body = {"classes": {"Product": {"fields": ["sku"]}}}
    answer = client.put("/api/v1/datahub/Shop", json=body, headers=admin)
    assert answer.status_code == 422, answer.text
    assert [e["field"] for e in answer.json()["errors"]] == ["name"]
