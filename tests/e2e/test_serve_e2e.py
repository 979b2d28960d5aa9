"""Starts the real `pimhub` command (init, then serve on a free loopback port) and drives
the API over HTTP with the key `init` printed."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.processes import init, serving

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    workdir = Path(tmp_path_factory.mktemp("e2e"))
    env = {**os.environ, "PIMHUB_DATA_DIR": str(workdir / "data"), "PIMHUB_LOG_JSON": "true"}
    env.pop("PIMHUB_DATABASE_URL", None)
    key = init(env, workdir)
    with serving(env, workdir) as base:
        yield base, key


def test_crud_over_http_with_a_key(server: tuple[str, str]) -> None:
    base, key = server
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}) as http:
        r = http.post("/api/v1/objects/Brand", json={"fields": {"code": "acme", "name": "Acme"}})
        assert r.status_code == 201, r.text
        r = http.put(
            "/api/v1/objects/Product/E2E-1",
            json={
                "fields": {
                    "name": {"en": "Trail tent"},
                    "price": {"amount": 249.5, "currency": "EUR"},
                    "stock": 3,
                    "brand": "acme",
                }
            },
        )
        assert r.status_code == 201, r.text
        etag = r.headers["etag"]

        product = http.get("/api/v1/products/E2E-1").json()
        assert (product["name"], product["price"], product["brand"]) == (
            "Trail tent",
            249.5,
            "Acme",
        )

        r = http.patch(
            "/api/v1/objects/Product/E2E-1",
            json={"fields": {"stock": 9}},
            headers={"If-Match": etag},
        )
        assert r.status_code == 200 and r.json()["version"] == 2
        stale = http.patch(
            "/api/v1/objects/Product/E2E-1",
            json={"fields": {"stock": 1}},
            headers={"If-Match": etag},
        )
        assert stale.status_code == 412
        assert stale.headers["content-type"] == "application/problem+json"

        listing = http.get("/api/v1/objects/Product", params={"filter": '{"stock": {"$gt": 5}}'})
        assert [i["key"] for i in listing.json()["items"]] == ["E2E-1"]

        versions = http.get("/api/v1/objects/Product/E2E-1/versions").json()["items"]
        assert [v["version"] for v in versions] == [2, 1]
        assert versions[0]["changedFields"] == ["stock"]

        assert http.delete("/api/v1/objects/Product/E2E-1").status_code == 204
        assert http.get("/api/v1/objects/Product/E2E-1").status_code == 404
        assert httpx.get(f"{base}/api/v1/objects/Product").status_code == 401
