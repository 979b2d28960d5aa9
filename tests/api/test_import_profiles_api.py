"""/api/v1/import-profiles on both databases: admin keys only, checked documents, HTTP(S)
sources only, and a run started over the API that imports in the background."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pimhub.bootstrap import Hub
from pimhub.transfer.fetching import FetchFailed
from tests.api.test_imports_api import finished
from tests.conftest import bearer

URL = "https://erp.example.com/export/products.csv"
MAPPING = "class: Product\nfields:\n  sku: sku\n  name.en: name\n"
PROFILE = {
    "source": URL,
    "mapping": MAPPING,
    "cron": "0 2 * * *",
    "options": {"onError": "abort", "headers": {"Authorization": "Bearer ${PIMHUB_IMPORT_T}"}},
}


@pytest.fixture
def profiles(hub: Hub, tmp_path: Path) -> list[tuple[str, dict[str, str]]]:
    """Requests the hub's fetcher was asked for; it answers with a two-row CSV."""
    hub.imports.folder = tmp_path / "imports"
    hub.import_profiles.environ = {"PIMHUB_IMPORT_T": "t0ken"}
    asked: list[tuple[str, dict[str, str]]] = []

    def fetch(source: str, target: Path, headers: Mapping[str, str]) -> None:
        asked.append((source, dict(headers)))
        target.write_text("sku,name\nA-1,From the ERP\nA-2,Also\n")

    hub.import_profiles.fetcher = fetch
    return asked


def put(client: TestClient, headers: dict[str, str], body: Any, name: str = "erp") -> Any:
    return client.put(f"/api/v1/import-profiles/{name}", json=body, headers=headers)


def test_profiles_are_created_read_listed_run_and_deleted(
    hub: Hub,
    client: TestClient,
    admin: dict[str, str],
    profiles: list[tuple[str, dict[str, str]]],
) -> None:
    created = put(client, admin, PROFILE)
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["name"], body["source"], body["cron"], body["enabled"]) == (
        "erp",
        URL,
        "0 2 * * *",
        True,
    )
    assert body["options"]["headers"] == {"Authorization": "(hidden) ${PIMHUB_IMPORT_T}"}
    assert put(client, admin, {**PROFILE, "enabled": False}).status_code == 200  # replaced
    listed = client.get("/api/v1/import-profiles", headers=admin).json()["items"]
    assert [(p["name"], p["enabled"]) for p in listed] == [("erp", False)]
    run = client.post("/api/v1/import-profiles/erp/run", headers=admin)
    assert run.status_code == 202, run.text
    assert run.headers["Location"] == f"/api/v1/imports/{run.json()['id']}"
    done = finished(client, run.json()["id"], admin)
    assert (done["status"], done["summary"]["created"]) == ("succeeded", 2)
    assert done["author"] == "profile:erp"
    assert profiles == [(URL, {"Authorization": "Bearer t0ken"})]
    got = client.get("/api/v1/import-profiles/erp", headers=admin).json()
    assert got["lastJob"] == done["id"]
    assert client.delete("/api/v1/import-profiles/erp", headers=admin).status_code == 204
    missing = client.get("/api/v1/import-profiles/erp", headers=admin)
    assert (missing.status_code, missing.json()["code"]) == (404, "not-found")


def test_a_bad_profile_is_refused_with_every_problem(
    client: TestClient, admin: dict[str, str], profiles: list[Any], tmp_path: Path
) -> None:
    bad = {
        "source": str(tmp_path / "drop.csv"),  # a file of the server's
        "mapping": MAPPING,
        "cron": 5,
        "options": {"mode": "merge", "headers": {"X": "${HOME}"}, "speed": "fast"},
        "owner": "me",
    }
    response = put(client, admin, bad)
    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "invalid-import-profile"
    assert [e["field"] for e in problem["errors"]] == ["owner", "cron"]  # the shape first
    shaped = {k: v for k, v in bad.items() if k != "owner"} | {"cron": "@daily"}
    response = put(client, admin, shaped)
    assert [e["field"] for e in response.json()["errors"]] == [
        "source",  # a file of the server's: not over the API
        "options.mode",
        "options.speed",
        "options.headers",  # headers for a file
        "options.headers.X",  # a variable not meant for imports
    ]
    for change, field in [
        ({"source": "https://erp:s3cret@erp.example.com/p.csv"}, "source"),
        ({"source": "http://127.0.0.1:8080/p.csv"}, "source"),  # internal, not allowed here
        ({"cron": "0 0 31 2 *"}, "cron"),  # never comes
        ({"cron": "* * * * * *"}, "cron"),  # seconds: not a five-field expression
        ({"class": "Nope"}, "class"),
        ({"options": {"encoding": "klingon"}}, "options.encoding"),
        ({"options": {"delimiter": ";;"}}, "options.delimiter"),
        ({"options": {"delimiter": '"'}}, "options.delimiter"),  # would read as quoting
        ({"options": {"delimiter": "\n"}}, "options.delimiter"),  # ... as a line break
        ({"options": {"delimiter": "\r"}}, "options.delimiter"),
    ]:
        response = put(client, admin, {**PROFILE, **change})
        assert response.status_code == 422, (change, response.text)
        assert [e["field"] for e in response.json()["errors"]] == [field], change
        assert "s3cret" not in response.text
    response = put(client, admin, {**PROFILE, "mapping": "class: Product\nfields: {sku: {y: 1}}"})
    assert (response.status_code, response.json()["code"]) == (422, "invalid-mapping")
    assert put(client, admin, {**PROFILE, "name": "other"}).json()["errors"][0]["field"] == "name"
    assert client.get("/api/v1/import-profiles", headers=admin).json()["items"] == []


def test_profiles_need_an_admin_key(hub: Hub, client: TestClient, profiles: list[Any]) -> None:
    writer = bearer(hub, "write:Product", name="writer")
    assert put(client, writer, PROFILE).status_code == 403
    assert client.get("/api/v1/import-profiles", headers=writer).status_code == 403
    assert client.post("/api/v1/import-profiles/erp/run", headers=writer).status_code == 403


def test_a_run_whose_source_cannot_be_fetched_is_a_failed_job(
    hub: Hub, client: TestClient, admin: dict[str, str], profiles: list[Any]
) -> None:
    def unreachable(source: str, target: Path, headers: Mapping[str, str]) -> None:
        raise FetchFailed("https://erp.example.com/export/products.csv answered HTTP 503")

    hub.import_profiles.fetcher = unreachable
    assert put(client, admin, PROFILE).status_code == 201
    run = client.post("/api/v1/import-profiles/erp/run", headers=admin)
    assert run.status_code == 202  # answered before the download is tried
    done = finished(client, run.json()["id"], admin)
    assert done["status"] == "failed"
    assert "answered HTTP 503" in done["error"]
    assert client.get("/api/v1/import-profiles/erp", headers=admin).json()["lastJob"] == done["id"]


def test_parallel_first_puts_answer_201_once(
    hub: Hub, client: TestClient, profiles: list[Any]
) -> None:
    """Twenty writers PUT a profile no one has made yet: the insert that commits decides, so
    exactly one is told 201 and the others 200 (a read before the write told up to half 201)."""
    headers = bearer(hub, "admin", name="admin")
    start = threading.Barrier(20)

    def put(_: int) -> int:
        start.wait()
        return client.put("/api/v1/import-profiles/par1", json=PROFILE, headers=headers).status_code

    with ThreadPoolExecutor(20) as pool:
        codes = sorted(pool.map(put, range(20)))
    assert codes == [200] * 19 + [201], codes
    assert [p["name"] for p in client.get("/api/v1/import-profiles", headers=headers).json()[
        "items"]] == ["par1"]  # fmt: skip
