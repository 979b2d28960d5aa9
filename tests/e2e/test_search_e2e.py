"""Simple REST search end to end: `pimhub init`, `pimhub serve`, a configuration and writes
over REST, a key from `pimhub graphql key`, then searches over HTTP that see every write the
moment its response arrives, and `pimhub search status` against the same database."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.e2e.processes import PIMHUB, init, serving

pytestmark = pytest.mark.e2e


def run(env: dict[str, str], workdir: Path, *args: str) -> str:
    done = subprocess.run(
        [*PIMHUB, *args], env=env, cwd=workdir, capture_output=True, text=True, check=True
    )
    return done.stdout


def test_search_through_the_real_server(tmp_path: Path) -> None:
    env = {**os.environ, "PIMHUB_DATA_DIR": str(tmp_path / "data")}
    env.pop("PIMHUB_DATABASE_URL", None)
    admin = init(env, tmp_path)
    with serving(env, tmp_path) as base:
        http = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {admin}"})
        config = {
            "name": "feed",
            "classes": {"Product": {"fields": ["sku", "name", "brand", "color"]}, "Brand": {}},
        }
        assert http.post("/api/v1/datahub", json=config).status_code == 201
        token = re.search(r"phk_\S+", run(env, tmp_path, "graphql", "key", "feed", "--name", "f"))
        assert token
        feed = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token.group(0)}"})

        def search(query: str) -> dict:  # type: ignore[type-arg]
            response = feed.get(f"/simple-rest/feed/search?{query}")
            assert response.status_code == 200, response.text
            return response.json()  # type: ignore[no-any-return]

        put = http.put("/api/v1/objects/Brand/nordic", json={"fields": {"name": "Nordic"}})
        assert put.status_code == 201, put.text
        for i, color in enumerate(["green", "green", "blue"]):
            fields = {"name": {"en": f"Trail tent {i}"}, "brand": "nordic", "color": color}
            assert http.put(f"/api/v1/objects/Product/TENT-{i}", json={"fields": fields}).is_success
            # No indexing delay: the write is searchable in the very next request.
            assert search(f"q=tent {i}")["items"][0]["key"] == f"TENT-{i}"

        body = search("q=trail&class=Product&facets=color,brand&size=2")
        assert body["total"] == 3 and len(body["items"]) == 2
        assert body["facets"]["color"][0] == {"value": "green", "count": 2}
        assert body["facets"]["brand"] == [{"value": "nordic", "count": 3}]
        rest = search(f"q=trail&class=Product&facets=color,brand&size=2&after={body['nextCursor']}")
        assert len(rest["items"]) == 1 and rest["nextCursor"] is None

        assert search("q=TENT-2")["items"][0]["key"] == "TENT-2"
        one = feed.get("/simple-rest/feed/objects/TENT-1").json()
        assert one["fields"]["brand"]["key"] == "nordic"
        problem = feed.get("/simple-rest/feed/search?size=1000")
        assert problem.status_code == 400 and problem.json()["errors"][0]["field"] == "size"

        assert http.delete("/api/v1/objects/Product/TENT-0").status_code in (200, 204)
        assert search("q=tent 0")["total"] == 0
    assert "3 document(s) for 3 object(s)" in run(env, tmp_path, "search", "status")
