"""/api/v1/assets on both databases: multipart and raw uploads, reads, paging, changes,
deletes with referrers, scopes, and every refusal at the edge (size, NUL, metadata, type).

The fixtures and helpers here are shared with test_asset_files.py."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import Engine

from pimhub.api.app import create_app
from pimhub.assets.presets import BUILTIN_PRESETS
from pimhub.bootstrap import Hub, bootstrap
from pimhub.catalog.commerce import commerce_model
from pimhub.settings import Settings
from tests.conftest import bearer, empty_database

SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b"<script>alert(1)</script><rect width='10' height='10'/></svg>"
)


def image_bytes(width: int = 64, height: int = 64, fmt: str = "PNG", color: str = "red") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, fmt)
    return out.getvalue()


@pytest.fixture
def asset_hub(engine: Engine, tmp_path: Path) -> Iterator[Hub]:
    """A hub with the commerce model and its asset files under tmp_path."""
    empty_database(engine)
    settings = Settings(
        database_url=str(engine.url),
        secret_key="test-passphrase",
        data_dir=tmp_path / "data",
        assets_dir=tmp_path / "assets",
        public_url="http://hub.test",
    )
    hub = bootstrap(settings, engine=engine)
    hub.classes.apply(commerce_model(), author="test")
    yield hub


@pytest.fixture
def assets_client(asset_hub: Hub) -> TestClient:
    return TestClient(create_app(asset_hub))


@pytest.fixture
def writer(asset_hub: Hub) -> dict[str, str]:
    return bearer(asset_hub, "read", "write", "delete", name="writer")


LIST_PRINT = BUILTIN_PRESETS["product_list"].fingerprint[:8]


def upload(
    client: TestClient,
    headers: dict[str, str],
    content: bytes,
    *,
    filename: str = "a.png",
    status: int = 201,
    **form: str,
) -> Any:
    """POST /api/v1/assets with `content` as the file part and `form` fields (folder
    /products unless path or folder is given)."""
    if "path" not in form and "folder" not in form:
        form["folder"] = "/products"
    response = client.post(
        "/api/v1/assets",
        data=form,
        files={"file": (filename, content, "application/octet-stream")},
        headers=headers,
    )
    assert response.status_code == status, response.text
    return response.json()


PNG = image_bytes()


def test_a_multipart_upload_creates_an_asset_with_urls(
    assets_client: TestClient, writer: dict[str, str]
) -> None:
    created = assets_client.post(
        "/api/v1/assets",
        data={"folder": "/products", "metadata": '{"alt": {"en": "A red square"}}'},
        files={"file": ("red.png", PNG, "text/plain")},  # the type sent is ignored
        headers=writer,
    )
    assert created.status_code == 201, created.text
    asset = created.json()
    assert created.headers["Location"] == "/api/v1/assets/products/red.png"
    assert created.headers["ETag"] == '"1"'
    assert asset["path"] == "/products/red.png" and asset["folder"] == "/products"
    assert (asset["mimetype"], asset["width"], asset["height"]) == ("image/png", 64, 64)
    assert asset["filesize"] == len(PNG)
    assert asset["metadata"] == {"alt": {"en": "A red square"}}
    v = asset["checksum"][:16]
    assert asset["url"] == f"http://hub.test/assets/products/red.png?v={v}"
    assert asset["thumbnails"]["product_list"] == (
        f"http://hub.test/assets/products/red.png?thumbnail=product_list&v={v}-{LIST_PRINT}"
    )
    # The same bytes again: nothing new, 200.
    again = upload(assets_client, writer, PNG, filename="red.png", status=200)
    assert again["version"] == 1 and again["uuid"] == asset["uuid"]


def test_a_path_without_a_leading_slash_is_the_same_asset(
    assets_client: TestClient, writer: dict[str, str]
) -> None:
    first = upload(assets_client, writer, PNG, path="shop/x.png")
    assert first["path"] == "/shop/x.png"
    got = assets_client.get("/api/v1/assets/shop/x.png", headers=writer).json()
    assert got["uuid"] == first["uuid"]


def test_put_streams_the_raw_body_and_replaces(
    assets_client: TestClient, writer: dict[str, str]
) -> None:
    def chunks(data: bytes) -> Iterator[bytes]:
        for start in range(0, len(data), 1000):
            yield data[start : start + 1000]

    jpeg = image_bytes(80, 40, "JPEG")
    created = assets_client.put("/api/v1/assets/raw/a.jpg", content=chunks(jpeg), headers=writer)
    assert created.status_code == 201, created.text
    assert created.json()["mimetype"] == "image/jpeg" and created.json()["width"] == 80
    replaced = assets_client.put(
        "/api/v1/assets/raw/a.jpg", content=PNG, headers={**writer, "If-Match": '"1"'}
    )
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["version"] == 2 and replaced.json()["mimetype"] == "image/png"
    stale = assets_client.put(
        "/api/v1/assets/raw/a.jpg", content=jpeg, headers={**writer, "If-Match": '"1"'}
    )
    assert stale.status_code == 412, stale.text
    versions = assets_client.get("/api/v1/asset-versions/raw/a.jpg", headers=writer).json()
    assert [v["version"] for v in versions["items"]] == [2, 1]


def test_list_pages_by_folder_with_next_cursor(
    assets_client: TestClient, writer: dict[str, str]
) -> None:
    for n, color in enumerate(("red", "green", "blue")):
        upload(assets_client, writer, image_bytes(color=color), filename=f"{n}.png")
    upload(assets_client, writer, PNG, path="/other/z.png")
    first = assets_client.get("/api/v1/assets?folder=/products&first=2", headers=writer).json()
    assert first["total"] == 3
    assert [a["path"] for a in first["items"]] == ["/products/0.png", "/products/1.png"]
    rest = assets_client.get(
        "/api/v1/assets",
        params={"folder": "/products", "after": first["nextCursor"]},
        headers=writer,
    ).json()
    assert [a["path"] for a in rest["items"]] == ["/products/2.png"]
    assert rest["nextCursor"] is None
    everything = assets_client.get("/api/v1/assets", headers=writer).json()
    assert everything["total"] == 4


def test_read_by_path_and_by_uuid(assets_client: TestClient, writer: dict[str, str]) -> None:
    asset = upload(assets_client, writer, PNG)
    by_uuid = assets_client.get(f"/api/v1/asset-uuids/{asset['uuid']}", headers=writer)
    assert by_uuid.status_code == 200 and by_uuid.json()["path"] == "/products/a.png"
    bad = assets_client.get("/api/v1/asset-uuids/not-a-uuid", headers=writer)
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "uuid"
    upper = assets_client.get(f"/api/v1/asset-uuids/{asset['uuid'].upper()}", headers=writer)
    assert upper.status_code == 200 and upper.json()["uuid"] == asset["uuid"]
    # An asset whose path is a uuid is no answer to a uuid lookup.
    named = "0190a6f2-0000-7000-8000-000000000001"
    upload(assets_client, writer, PNG, filename="n.png", path=f"/{named}")
    by_name = assets_client.get(f"/api/v1/asset-uuids/{named}", headers=writer)
    assert by_name.status_code == 404 and by_name.json()["code"] == "asset-not-found"
    missing = assets_client.get("/api/v1/assets/products/none.png", headers=writer)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["code"] == "asset-not-found"


def test_patch_merges_metadata_and_moves(assets_client: TestClient, writer: dict[str, str]) -> None:
    upload(assets_client, writer, PNG, metadata='{"alt": {"en": "Red"}, "tag": "x"}')
    patched = assets_client.patch(
        "/api/v1/assets/products/a.png",
        json={"metadata": {"alt": {"de": "Rot"}, "tag": None}},
        headers={**writer, "If-Match": '"1"'},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["metadata"] == {"alt": {"en": "Red", "de": "Rot"}}
    moved = assets_client.patch(
        "/api/v1/assets/products/a.png", json={"path": "/archive/a.png"}, headers=writer
    )
    assert moved.status_code == 200 and moved.json()["path"] == "/archive/a.png"
    stale = assets_client.patch(
        "/api/v1/assets/archive/a.png",
        json={"metadata": {"x": 1}},
        headers={**writer, "If-Match": '"1"'},
    )
    assert stale.status_code == 412
    empty = assets_client.patch("/api/v1/assets/archive/a.png", json={}, headers=writer)
    assert empty.status_code == 400


def test_delete_refuses_an_asset_in_use_unless_forced(
    asset_hub: Hub, assets_client: TestClient, writer: dict[str, str]
) -> None:
    upload(assets_client, writer, PNG)
    product = {
        "fields": {
            "name": {"en": "Pictured"},
            "price": {"amount": 5, "currency": "EUR"},
            "image": "/products/a.png",
        }
    }
    saved = assets_client.put("/api/v1/objects/Product/PIC-1", json=product, headers=writer)
    assert saved.status_code == 201, saved.text
    refused = assets_client.delete("/api/v1/assets/products/a.png", headers=writer)
    assert refused.status_code == 409, refused.text
    problem = refused.json()
    assert problem["code"] == "asset-in-use"
    assert "PIC-1" in str(problem["errors"])
    forced = assets_client.delete("/api/v1/assets/products/a.png?force=true", headers=writer)
    assert forced.status_code == 204
    assert assets_client.get("/api/v1/assets/products/a.png", headers=writer).status_code == 404
    after = assets_client.get("/api/v1/objects/Product/PIC-1", headers=writer).json()
    assert "image" not in after["fields"] and after["version"] == 2


def test_a_forced_delete_needs_write_on_the_referrers_classes(
    asset_hub: Hub, assets_client: TestClient, writer: dict[str, str]
) -> None:
    asset = upload(assets_client, writer, PNG)
    product = {
        "fields": {
            "name": {"en": "Pictured"},
            "price": {"amount": 5, "currency": "EUR"},
            "image": "/products/a.png",
        }
    }
    saved = assets_client.put("/api/v1/objects/Product/PIC-1", json=product, headers=writer)
    assert saved.status_code == 201, saved.text
    deleter = bearer(asset_hub, "read", "delete:Asset", name="deleter")
    refused = assets_client.delete("/api/v1/assets/products/a.png?force=true", headers=deleter)
    assert refused.status_code == 403, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert "write:Product" in refused.json()["detail"]
    kept = assets_client.get("/api/v1/objects/Product/PIC-1", headers=writer).json()
    assert kept["version"] == 1 and kept["fields"]["image"] == asset["uuid"]
    assert assets_client.get("/api/v1/assets/products/a.png", headers=writer).status_code == 200
    allowed = bearer(asset_hub, "read", "delete:Asset", "write:Product", name="allowed")
    forced = assets_client.delete("/api/v1/assets/products/a.png?force=true", headers=allowed)
    assert forced.status_code == 204, forced.text


def test_scopes_asset_pseudo_class(asset_hub: Hub, assets_client: TestClient) -> None:
    reader = bearer(asset_hub, "read", name="reader")
    refused = upload(assets_client, reader, PNG, status=403)
    assert "write:Asset" in refused["detail"]
    products_only = bearer(asset_hub, "write:Product", "read:Product", name="products")
    upload(assets_client, products_only, PNG, status=403)
    assert assets_client.get("/api/v1/assets", headers=products_only).status_code == 403
    asset_writer = bearer(asset_hub, "write:Asset", "read:Asset", name="assets")
    upload(assets_client, asset_writer, PNG)
    assert assets_client.get("/api/v1/assets", headers=asset_writer).status_code == 200
    refused_delete = assets_client.delete("/api/v1/assets/products/a.png", headers=asset_writer)
    assert refused_delete.status_code == 403
    assert assets_client.get("/api/v1/assets").status_code == 401


# -- refusals --------------------------------------------------------------------------


def test_uploads_over_the_size_limit_are_413(
    asset_hub: Hub, assets_client: TestClient, writer: dict[str, str]
) -> None:
    asset_hub.settings.assets_max_bytes = 1000
    big = image_bytes(200, 200, "PNG", "white") + b"\0" * 2000
    announced = assets_client.put("/api/v1/assets/big.png", content=big, headers=writer)
    assert announced.status_code == 413 and announced.json()["code"] == "payload-too-large"

    def chunked() -> Iterator[bytes]:
        yield from (big[i : i + 500] for i in range(0, len(big), 500))

    counted = assets_client.put("/api/v1/assets/big.png", content=chunked(), headers=writer)
    assert counted.status_code == 413, counted.text
    form = upload(assets_client, writer, big, status=413)
    assert form["code"] == "payload-too-large"
    assert assets_client.get("/api/v1/assets", headers=writer).json()["total"] == 0


@pytest.mark.parametrize(
    ("form", "field", "code"),
    [
        ({"metadata": "{not json"}, "metadata", "malformed-json"),
        ({"metadata": '{"alt": "\\u0000"}'}, "metadata", None),
        ({"metadata": '["a list"]'}, "metadata", None),
        ({"metadata": '{"x": "' + "y" * 40_000 + '"}'}, "metadata", None),
        ({"metadata": "[" * 5000 + "]" * 5000}, "metadata", None),
        # Deep enough for the stored form's encoder to refuse it (a 500 before the limit).
        ({"metadata": '{"d": ' + "[" * 300 + "]" * 300 + "}"}, "metadata", "too-deep"),
        ({"path": "/a/../b.png"}, "path", "invalid-path"),
        ({"path": "/a/b\x00.png"}, None, "nul-character"),
        ({"path": "/a.png", "folder": "/b"}, "folder", None),
        ({"colour": "red"}, "colour", None),
    ],
)
def test_bad_form_fields_are_400(
    assets_client: TestClient,
    writer: dict[str, str],
    form: dict[str, str],
    field: str | None,
    code: str | None,
) -> None:
    refused = upload(assets_client, writer, PNG, status=400, **form)
    assert refused["status"] == 400
    if field is not None:
        assert refused["errors"][0]["field"].startswith(field), refused
    if code is not None:
        assert refused["errors"][0]["code"] == code, refused


def test_unknown_types_are_415_naming_the_type(
    assets_client: TestClient, writer: dict[str, str]
) -> None:
    refused = upload(assets_client, writer, b"just some text\n", filename="a.png", status=415)
    assert refused["code"] == "unsupported-media-type"
    zipped = assets_client.put(
        "/api/v1/assets/a.zip", content=b"PK\x03\x04" + b"\0" * 40, headers=writer
    )
    assert zipped.status_code == 415 and "zip" in zipped.json()["detail"]


def test_nul_in_the_url_path_and_a_missing_file_part(
    assets_client: TestClient, writer: dict[str, str]
) -> None:
    nul = assets_client.put("/api/v1/assets/a%00.png", content=PNG, headers=writer)
    assert nul.status_code == 400 and nul.json()["code"] == "nul-character"
    no_file = assets_client.post("/api/v1/assets", data={"folder": "/p"}, headers=writer)
    assert no_file.status_code == 400, no_file.text
    patch_nul = assets_client.patch(
        "/api/v1/assets/products/a.png", json={"metadata": {"a": "\u0000"}}, headers=writer
    )
    assert patch_nul.status_code == 400


def test_parallel_uploads_to_one_path_never_conflict(
    assets_client: TestClient, writer: dict[str, str]
) -> None:
    """Writers naming no version take turns (on PostgreSQL too): each answer is 201 or 200,
    never a 409 or a 500, and the versions count every change."""
    from concurrent.futures import ThreadPoolExecutor

    contents = [image_bytes(8 + n, 8) for n in range(12)]

    def put(content: bytes) -> int:
        return assets_client.put(
            "/api/v1/assets/race/one.png", content=content, headers=writer
        ).status_code

    with ThreadPoolExecutor(6) as pool:
        statuses = list(pool.map(put, contents))
    assert sorted(statuses) == [200] * 11 + [201], statuses
    asset = assets_client.get("/api/v1/assets/race/one.png", headers=writer).json()
    assert asset["version"] == 12
