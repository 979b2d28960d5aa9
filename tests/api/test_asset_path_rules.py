"""Asset paths at the REST edge, on both databases: the length limit counts UTF-8 bytes
(1,000 CJK characters are 3,000 bytes, more than PostgreSQL's unique index holds), and a
folder given apart is checked with its file's name before any database work."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi.testclient import TestClient

from tests.api.test_assets_rest import PNG, asset_hub, assets_client, upload, writer

__all__ = ["asset_hub", "assets_client", "writer"]  # fixtures used by name

CJK_1000 = "".join(chr(0x4E00 + i) for i in range(1000))


def _refused(response: Any, *needles: str) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == "invalid-input"
    for needle in needles:
        assert needle in str(body["detail"]), body["detail"]
    return body


def test_a_path_of_1000_cjk_characters_is_refused_naming_bytes(
    assets_client: TestClient, writer: dict[str, str]
) -> None:
    put = assets_client.put(
        "/api/v1/assets/lp/" + quote(CJK_1000) + ".png", content=PNG, headers=writer
    )
    _refused(put, "longer than 1024 bytes")
    form = assets_client.post(
        "/api/v1/assets",
        data={"path": "/lp/" + CJK_1000},
        files={"file": ("x.png", PNG, "image/png")},
        headers=writer,
    )
    _refused(form, "longer than 1024 bytes")
    upload(assets_client, writer, PNG, path="/lp/ok.png")
    move = assets_client.patch(
        "/api/v1/assets/lp/ok.png", json={"path": "/lp/" + CJK_1000}, headers=writer
    )
    _refused(move, "longer than 1024 bytes")
    assert assets_client.get("/api/v1/assets/lp/ok.png", headers=writer).status_code == 200


def test_a_folder_and_a_file_name_are_checked_together(
    assets_client: TestClient, writer: dict[str, str]
) -> None:
    folder = "/" + CJK_1000[:300]  # 901 bytes: a valid folder
    name = CJK_1000[300:350] + ".png"  # 154 bytes: a valid name
    body = _refused(
        assets_client.post(
            "/api/v1/assets",
            data={"folder": folder},
            files={"file": (name, PNG, "image/png")},
            headers=writer,
        ),
        "longer than 1024 bytes",
    )
    assert body["errors"] == [
        {
            "field": "file",
            "code": "invalid-path",
            "message": "is longer than 1024 bytes in UTF-8 (1,056 bytes)",
        }
    ]
    long_folder = assets_client.post(
        "/api/v1/assets",
        data={"folder": "/" + CJK_1000},
        files={"file": ("x.png", PNG, "image/png")},
        headers=writer,
    )
    _refused(long_folder, "longer than 1024 bytes")
    listing = assets_client.get("/api/v1/assets", params={"folder": "/" + CJK_1000}, headers=writer)
    _refused(listing, "longer than 1024 bytes")


def test_nfc_and_nfd_name_one_asset(assets_client: TestClient, writer: dict[str, str]) -> None:
    nfc, nfd = "p/caf\u00e9.png", "p/cafe\u0301.png"
    first = assets_client.put("/api/v1/assets/" + quote(nfc), content=PNG, headers=writer)
    assert first.status_code == 201, first.text
    again = assets_client.put("/api/v1/assets/" + quote(nfd), content=PNG, headers=writer)
    assert again.status_code == 200 and again.json()["uuid"] == first.json()["uuid"]
    assert assets_client.get("/assets/" + quote(nfd)).status_code == 200
    listed = assets_client.get("/api/v1/assets", params={"folder": "/p"}, headers=writer)
    assert [a["path"] for a in listed.json()["items"]] == ["/p/caf\u00e9.png"]


def test_bidi_overrides_and_invalid_utf8_in_the_url_are_refused(
    assets_client: TestClient, writer: dict[str, str]
) -> None:
    rlo = assets_client.put("/api/v1/assets/p/a%E2%80%AEgnp.exe", content=PNG, headers=writer)
    _refused(rlo, "U+202E RIGHT-TO-LEFT OVERRIDE", "at character 5")
    # Starlette decodes %FF (no UTF-8) to U+FFFD: refused, never stored as '/p/a\ufffdb.png'.
    for url in ("/api/v1/assets/p/a%FFb.png", "/api/v1/assets/p/a%ED%A0%80b.png"):
        bad = assets_client.put(url, content=PNG, headers=writer)
        _refused(bad, "U+FFFD", "not valid UTF-8")
    assert assets_client.get("/assets/p/a%FFb.png").status_code == 400
    listed = assets_client.get("/api/v1/assets", params={"folder": "/p"}, headers=writer)
    assert listed.json()["items"] == []


def test_a_folder_of_slashes_is_named(assets_client: TestClient, writer: dict[str, str]) -> None:
    body = _refused(
        assets_client.post(
            "/api/v1/assets",
            data={"folder": "//"},
            files={"file": ("x.png", PNG, "image/png")},
            headers=writer,
        )
    )
    assert body["detail"] == "asset folder '//' has an empty segment ('//'); the top folder is '/'"
    assert body["errors"][0]["field"] == "folder"
