"""Starts the real `pimhub` command (init, then serve on a free loopback port) and drives
the API over HTTP with the key `init` printed."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.e2e
PIMHUB = [sys.executable, "-m", "pimhub.cli.main"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    workdir = Path(tmp_path_factory.mktemp("e2e"))
    env = {**os.environ, "PIMHUB_DATA_DIR": str(workdir / "data"), "PIMHUB_LOG_JSON": "true"}
    env.pop("PIMHUB_DATABASE_URL", None)
    init = subprocess.run(
        [*PIMHUB, "init"],
        env=env,
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    key = re.search(r"phk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}", init.stdout)
    assert key, init.stdout
    port = free_port()
    log = (workdir / "server.log").open("w")
    proc = subprocess.Popen(
        [*PIMHUB, "serve", "--port", str(port)],
        env=env,
        cwd=workdir,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            pytest.fail(f"server did not start: {(workdir / 'server.log').read_text()}")
        yield base, key.group(0)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


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
