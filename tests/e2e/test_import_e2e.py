"""Import end to end: `pimhub import` on the command line and `POST /api/v1/imports` through
`pimhub serve`, then the imported products read back, searched and exported."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from tests.e2e.processes import PIMHUB, init, serving

pytestmark = pytest.mark.e2e

MAPPING = (
    "class: Product\nfields:\n  sku: sku\n  name.en: name\n  stock: {column: qty, number: true}\n"
)


def test_import_over_the_cli_and_the_api(tmp_path: Path) -> None:
    env = {**os.environ, "PIMHUB_DATA_DIR": str(tmp_path / "data")}
    env.pop("PIMHUB_DATABASE_URL", None)
    admin = init(env, tmp_path)
    (tmp_path / "m.yaml").write_text(MAPPING)
    (tmp_path / "a.csv").write_text("sku,name,qty\nCLI-1,Lantern,3\nCLI-2,Stove,x\n")
    done = subprocess.run(
        [*PIMHUB, "import", "a.csv", "-m", "m.yaml"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 3, done.stdout + done.stderr  # one row refused
    assert "1 created" in done.stdout and "row 2 (line 3), qty" in done.stdout
    with serving(env, tmp_path) as base:
        http = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {admin}"})
        started = http.post(
            "/api/v1/imports",
            data={"mapping": MAPPING},
            files={"file": ("b.csv", b"sku,name,qty\nAPI-1,Lantern mantle,7\n", "text/csv")},
        )
        assert started.status_code == 202, started.text
        location = started.headers["location"]
        deadline = time.monotonic() + 30
        while (job := http.get(location).json())["status"] in ("queued", "running"):
            assert time.monotonic() < deadline, job
            time.sleep(0.1)
        assert job["status"] == "succeeded" and job["summary"]["created"] == 1
        product = http.get("/api/v1/objects/Product/API-1").json()
        assert product["fields"]["stock"] == 7
    exported = subprocess.run(
        [*PIMHUB, "export", "--class", "Product", "--fields", "sku,stock"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert exported.stdout.splitlines() == ["sku,stock", "CLI-1,3", "API-1,7"]


class _Feed(BaseHTTPRequestHandler):
    """An ERP export that wants its token."""

    def do_GET(self) -> None:
        if self.headers.get("Authorization") != "Bearer erp-t0ken":
            self.send_response(401)
            self.end_headers()
            return
        body = b"sku,name,qty\nERP-1,Tarp,4\nERP-2,Rope,9\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_a_scheduled_import_from_an_http_source_run_over_the_api(tmp_path: Path) -> None:
    feed = ThreadingHTTPServer(("127.0.0.1", 0), _Feed)
    threading.Thread(target=feed.serve_forever, daemon=True).start()
    env = {**os.environ, "PIMHUB_DATA_DIR": str(tmp_path / "data")}
    env.pop("PIMHUB_DATABASE_URL", None)
    env["PIMHUB_IMPORT_ERP_TOKEN"] = "erp-t0ken"  # the server's own environment
    env["PIMHUB_IMPORT_SOURCES_ALLOW_PRIVATE"] = "true"  # the feed is on this machine
    admin = init(env, tmp_path)
    profile = {
        "source": f"http://127.0.0.1:{feed.server_port}/export.csv",
        "mapping": MAPPING,
        "cron": "0 2 * * *",
        "options": {"headers": {"Authorization": "Bearer ${PIMHUB_IMPORT_ERP_TOKEN}"}},
    }
    try:
        with serving(env, tmp_path) as base:
            http = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {admin}"})
            # Internal addresses are refused unless allowed, as the server was told here.
            saved = http.put("/api/v1/import-profiles/erp", json=profile)
            assert saved.status_code == 201, saved.text
            started = http.post("/api/v1/import-profiles/erp/run")
            assert started.status_code == 202, started.text
            deadline = time.monotonic() + 30
            while (job := http.get(started.headers["location"]).json())["status"] in (
                "queued",
                "running",
            ):
                assert time.monotonic() < deadline, job
                time.sleep(0.1)
            assert job["status"] == "succeeded", job
            assert job["summary"]["created"] == 2
            assert http.get("/api/v1/objects/Product/ERP-2").json()["fields"]["stock"] == 9
    finally:
        feed.shutdown()
        feed.server_close()
