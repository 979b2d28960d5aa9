"""Fixtures for the GraphQL datahub: a configuration over the commerce model, its key, and a
`gql(query, variables)` helper that posts through the real ASGI app."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pimhub.bootstrap import Hub
from tests.conftest import bearer

STOREFRONT: dict[str, Any] = {
    "name": "storefront",
    "classes": {
        "Product": {"fields": "*", "operations": ["read", "create", "update", "delete"]},
        "Category": {"fields": ["code", "name", "parent"]},
        "Brand": {"fields": ["code", "name"]},
    },
}

Gql = Callable[..., dict[str, Any]]


@pytest.fixture
def storefront(sample: Hub) -> Hub:
    sample.datahub.create(STOREFRONT, author="test")
    return sample


@pytest.fixture
def storefront_key(storefront: Hub) -> dict[str, str]:
    return bearer(storefront, "datahub:storefront", name="shop")


@pytest.fixture
def gql(client: TestClient, storefront_key: dict[str, str]) -> Gql:
    def run(
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        config: str = "storefront",
        headers: dict[str, str] | None = None,
        status: int = 200,
    ) -> dict[str, Any]:
        response = client.post(
            f"/graphql/{config}",
            json={"query": query, "variables": variables},
            headers=storefront_key if headers is None else headers,
        )
        assert response.status_code == status, response.text
        body: dict[str, Any] = response.json()
        return body

    return run
