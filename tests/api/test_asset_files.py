"""GET/HEAD /assets/{path}: the original bytes and thumbnails, public, with ETags, 304s,
cache headers by `v`, SVG and PDF as sandboxed attachments, and refusals as problems; the
streamed branch (an S3-like store without local files) too."""

from __future__ import annotations

import io
from dataclasses import replace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from pimhub.api import app as app_module
from pimhub.api import asset_files
from pimhub.api.app import create_app
from pimhub.api.asset_files import IMMUTABLE, REVALIDATE
from pimhub.assets.presets import BUILTIN_PRESETS
from pimhub.assets.thumbnails import Thumbnailer
from pimhub.bootstrap import Hub
from tests.api import test_assets_rest as rest
from tests.api.test_assets_rest import SVG, image_bytes, upload

# The fixtures of the REST tests, shared.
asset_hub, assets_client, writer = rest.asset_hub, rest.assets_client, rest.writer

WIDE = image_bytes(400, 200, "PNG", "navy")


@pytest.fixture
def wide(assets_client: TestClient, writer: dict[str, str]) -> dict[str, Any]:
    return upload(assets_client, writer, WIDE, filename="wide.png")


def test_the_original_is_served_without_a_key(
    assets_client: TestClient, wide: dict[str, Any]
) -> None:
    got = assets_client.get("/assets/products/wide.png")
    assert got.status_code == 200
    assert got.content == WIDE
    assert got.headers["content-type"] == "image/png"
    assert got.headers["content-length"] == str(len(WIDE))
    assert got.headers["etag"] == f'"{wide["checksum"]}"'
    assert got.headers["x-content-type-options"] == "nosniff"
    assert got.headers["cache-control"] == REVALIDATE
    assert "content-disposition" not in got.headers
    current = assets_client.get(wide["url"].removeprefix("http://hub.test"))
    assert current.headers["cache-control"] == IMMUTABLE
    stale = assets_client.get("/assets/products/wide.png?v=0123456789abcdef")
    assert stale.headers["cache-control"] == REVALIDATE
    again = assets_client.get(
        "/assets/products/wide.png", headers={"If-None-Match": got.headers["etag"]}
    )
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == got.headers["etag"]
    head = assets_client.head("/assets/products/wide.png")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(WIDE))


@pytest.mark.parametrize(
    ("preset", "size", "mimetype"),
    [("product_list", (300, 150), "image/webp"), ("thumbnail", (150, 150), "image/jpeg")],
)
def test_thumbnails_are_made_once_and_have_the_preset_size(
    assets_client: TestClient,
    wide: dict[str, Any],
    preset: str,
    size: tuple[int, int],
    mimetype: str,
) -> None:
    url = wide["thumbnails"][preset].removeprefix("http://hub.test")
    got = assets_client.get(url)
    assert got.status_code == 200, got.text
    assert got.headers["content-type"] == mimetype
    assert got.headers["cache-control"] == IMMUTABLE
    assert Image.open(io.BytesIO(got.content)).size == size
    tag = got.headers["etag"]
    cached = assets_client.get(url)
    assert cached.content == got.content and cached.headers["etag"] == tag
    assert assets_client.get(url, headers={"If-None-Match": tag}).status_code == 304


def test_a_changed_asset_gets_new_tags_and_thumbnails(
    assets_client: TestClient, writer: dict[str, str], wide: dict[str, Any]
) -> None:
    old = assets_client.get(wide["thumbnails"]["thumbnail"].removeprefix("http://hub.test"))
    changed = assets_client.put(
        "/api/v1/assets/products/wide.png", content=image_bytes(40, 40), headers=writer
    ).json()
    assert changed["checksum"] != wide["checksum"]
    new = assets_client.get("/assets/products/wide.png?thumbnail=thumbnail")
    assert new.headers["etag"] != old.headers["etag"]
    assert Image.open(io.BytesIO(new.content)).size == (40, 40)  # never enlarged
    # The old URL's `v` is no longer current: short caching only.
    again = assets_client.get(wide["url"].removeprefix("http://hub.test"))
    assert again.headers["cache-control"] == REVALIDATE
    assert again.headers["etag"] == f'"{changed["checksum"]}"'


def test_svg_is_a_sandboxed_attachment_without_thumbnails(
    assets_client: TestClient, writer: dict[str, str]
) -> None:
    svg = upload(assets_client, writer, SVG, filename="logo.svg")
    assert svg["mimetype"] == "image/svg+xml" and svg["thumbnails"] == {}
    got = assets_client.get("/assets/products/logo.svg")
    assert got.status_code == 200 and got.content == SVG
    assert got.headers["content-disposition"] == 'attachment; filename="logo.svg"'
    assert got.headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert got.headers["x-content-type-options"] == "nosniff"
    refused = assets_client.get("/assets/products/logo.svg?thumbnail=product_list")
    assert refused.status_code == 415
    assert refused.headers["content-type"] == "application/problem+json"
    assert "image/svg+xml has no thumbnails" in str(refused.json()["errors"])


def test_unknown_presets_and_missing_assets_are_problems(
    assets_client: TestClient, wide: dict[str, Any]
) -> None:
    unknown = assets_client.get("/assets/products/wide.png?thumbnail=huge")
    assert unknown.status_code == 400
    assert "product_list" in unknown.json()["detail"]
    missing = assets_client.get("/assets/products/nothing.png")
    assert missing.status_code == 404 and missing.json()["code"] == "asset-not-found"
    # Encoded, so the client keeps the dots and the server sees them.
    bad = assets_client.get("/assets/products/%2e%2e/etc/passwd")
    assert bad.status_code == 400, bad.text
    assert bad.headers["content-type"] == "application/problem+json"
    assert bad.json()["detail"] == "asset path '/products/../etc/passwd' has a '..' segment"


def test_a_store_without_local_files_streams(
    asset_hub: Hub, assets_client: TestClient, wide: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(asset_hub.assets.store, "local_path", lambda key: None)
    got = assets_client.get("/assets/products/wide.png")
    assert got.status_code == 200 and got.content == WIDE
    assert got.headers["content-length"] == str(len(WIDE))
    thumb = assets_client.get("/assets/products/wide.png?thumbnail=product_list")
    assert Image.open(io.BytesIO(thumb.content)).size == (300, 150)
    head = assets_client.head("/assets/products/wide.png")
    assert head.content == b"" and head.headers["content-length"] == str(len(WIDE))


@pytest.mark.parametrize("local_files", [True, False])
def test_a_blob_missing_from_the_store_is_a_404_for_get_and_head(
    asset_hub: Hub,
    assets_client: TestClient,
    wide: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    local_files: bool,
) -> None:
    store = asset_hub.assets.store
    store.delete(f"blobs/{wide['checksum'][:2]}/{wide['checksum']}")
    if not local_files:
        monkeypatch.setattr(store, "local_path", lambda key: None)
    got = assets_client.get("/assets/products/wide.png")
    assert got.status_code == 404, got.text
    assert got.headers["content-type"] == "application/problem+json"
    assert got.json()["code"] == "asset-not-found"
    assert "missing from the store" in got.json()["detail"]
    head = assets_client.head("/assets/products/wide.png")
    assert head.status_code == 404 and head.content == b""
    thumb = assets_client.get("/assets/products/wide.png?thumbnail=product_list")
    assert thumb.status_code == 404 and thumb.json()["code"] == "asset-not-found"


def test_a_changed_preset_gets_new_thumbnail_urls(
    asset_hub: Hub,
    assets_client: TestClient,
    writer: dict[str, str],
    wide: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    old_url = wide["thumbnails"]["product_list"].removeprefix("http://hub.test")
    fingerprint = BUILTIN_PRESETS["product_list"].fingerprint[:8]
    assert old_url.endswith(f"v={wide['checksum'][:16]}-{fingerprint}")
    # The same hub, its product_list preset redefined (settings.assets_thumbnails).
    changed = replace(BUILTIN_PRESETS["product_list"], width=100, height=100)
    thumbnailer = Thumbnailer(asset_hub.assets.store, {"product_list": changed})
    monkeypatch.setattr(app_module, "thumbnailer", lambda hub: thumbnailer)
    client = TestClient(create_app(asset_hub))
    stale = client.get(old_url)
    assert stale.status_code == 200 and stale.headers["cache-control"] == REVALIDATE
    assert Image.open(io.BytesIO(stale.content)).size == (100, 50)
    new_url = client.get("/api/v1/assets/products/wide.png", headers=writer).json()["thumbnails"][
        "product_list"
    ]
    assert new_url != wide["thumbnails"]["product_list"]
    current = client.get(new_url.removeprefix("http://hub.test"))
    assert current.headers["cache-control"] == IMMUTABLE
    # A thumbnail URL with the checksum alone names no preset version: not cached for good.
    bare = assets_client.get(
        f"/assets/products/wide.png?thumbnail=product_list&v={wide['checksum'][:16]}"
    )
    assert bare.headers["cache-control"] == REVALIDATE


def test_new_thumbnails_queue_on_the_loop_and_overflow_is_503(
    asset_hub: Hub, writer: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Requests for thumbnails not drawn yet wait for a turn as coroutines: other routes keep
    the server's threads meanwhile, and past the queue's length the answer is 503."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from pimhub.api import asset_files

    monkeypatch.setattr(asset_files, "DRAW_QUEUE_LENGTH", 3)
    asset_hub.settings.assets_thumbnail_concurrency = 1  # two turns
    app = create_app(asset_hub)
    release = threading.Event()
    drawing = threading.Semaphore(0)
    real_ensure = Thumbnailer.ensure

    def slow_ensure(self: Thumbnailer, asset: Any, preset: str) -> Any:
        drawing.release()
        assert release.wait(20)
        return real_ensure(self, asset, preset)

    monkeypatch.setattr(Thumbnailer, "ensure", slow_ensure)
    # More threads than Starlette's default pool of 40 would make every request below
    # wait for a thread if draws held them.
    monkeypatch.setattr(asset_files, "DRAW_QUEUE_WAIT", 20.0)
    with TestClient(app) as client, ThreadPoolExecutor(8) as pool:
        upload(client, writer, WIDE, filename="wide.png")
        urls = [f"/assets/products/wide.png?thumbnail={p}" for p in sorted(BUILTIN_PRESETS)]
        running = [pool.submit(client.get, url) for url in urls[:2]]
        for _ in range(2):
            assert drawing.acquire(timeout=10)  # both turns are drawing
        waiting = [pool.submit(client.get, urls[2]) for _ in range(3)]
        deadline = 100
        while app.fast_app.state.thumbnail_draws.turns.statistics().tasks_waiting < 3 and deadline:
            threading.Event().wait(0.05)
            deadline -= 1
        refused = client.get(urls[3])
        assert refused.status_code == 503, refused.text
        assert refused.headers["retry-after"] == "5"
        assert refused.json()["code"] == "service-unavailable"
        # A blocking API route still answers while the draws hold their threads.
        listed = client.get("/api/v1/assets", headers=writer)
        assert listed.status_code == 200
        release.set()
        assert [f.result(timeout=30).status_code for f in running + waiting] == [200] * 5


def test_a_drawing_that_outlasts_the_queue_wait_still_answers_the_thumbnail(
    asset_hub: Hub, writer: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The wait bounds the queue only: a drawing that began is answered with its result."""
    import time

    from pimhub.api import asset_files

    monkeypatch.setattr(asset_files, "DRAW_QUEUE_WAIT", 0.2)
    real_ensure = Thumbnailer.ensure

    def slow_ensure(self: Thumbnailer, asset: Any, preset: str) -> Any:
        time.sleep(0.5)
        return real_ensure(self, asset, preset)

    monkeypatch.setattr(Thumbnailer, "ensure", slow_ensure)
    with TestClient(create_app(asset_hub)) as client:
        upload(client, writer, WIDE, filename="wide.png")
        got = client.get("/assets/products/wide.png?thumbnail=thumbnail")
        assert got.status_code == 200, got.text
        assert Image.open(io.BytesIO(got.content)).size == (150, 150)


@pytest.mark.parametrize("thumbnail", [False, True])
def test_a_file_deleted_while_its_answer_starts_is_sent_whole(
    asset_hub: Hub, assets_client: TestClient, wide: dict[str, Any], thumbnail: bool
) -> None:
    """The file is deleted (a replaced content's thumbnails, gc) after its 200 and headers
    went out: the body is still the whole file (FileResponse opened it only then, and the
    answer broke off with a FileNotFoundError)."""
    url = "/assets/products/wide.png" + ("?thumbnail=product_list" if thumbnail else "")
    expected = assets_client.get(url).content  # drawn once, so the thumbnail is a local file
    store = asset_hub.assets.store
    checksum = wide["checksum"]
    prefix = f"thumbnails/{checksum[:2]}/{checksum}/" if thumbnail else f"blobs/{checksum[:2]}/"
    app = assets_client.app

    async def deleting_at_the_start(scope: Any, receive: Any, send: Any) -> None:
        async def send_then_delete(message: Any) -> None:
            if message["type"] == "http.response.start" and scope["path"].startswith("/assets"):
                assert store.delete_prefix(prefix) == 1
            await send(message)

        await app(scope, receive, send_then_delete)

    got = TestClient(deleting_at_the_start).get(url)
    assert got.status_code == 200 and got.content == expected
    assert list(store.keys(prefix)) == []


def test_a_thumbnail_deleted_after_it_was_found_is_drawn_in_the_queue(
    assets_client: TestClient, wide: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cached thumbnail was found, then deleted (its content replaced) before it was
    read: it is drawn again through the draw queue's threads (it was drawn on the event
    loop, stalling every other request for the drawing's seconds)."""
    url = wide["thumbnails"]["product_list"].removeprefix("http://hub.test")
    expected = assets_client.get(url).content  # drawn and cached
    plan = Thumbnailer.plan
    looks: list[str] = []

    def deleted_after_the_first_look(self: Thumbnailer, asset: Any, preset: str) -> Any:
        planned = plan(self, asset, preset)
        looks.append(planned[1])
        if len(looks) == 2:  # the route found it cached; now it goes, before it is read
            self.store.delete(planned[1])
        return planned

    queued: list[str] = []
    run = asset_files._DrawQueue.run

    async def recorded(self: Any, thumbnailer: Any, asset: Any, preset: str) -> Any:
        queued.append(preset)
        return await run(self, thumbnailer, asset, preset)

    monkeypatch.setattr(Thumbnailer, "plan", deleted_after_the_first_look)
    monkeypatch.setattr(asset_files._DrawQueue, "run", recorded)
    got = assets_client.get(url)
    assert got.status_code == 200 and got.content == expected
    assert len(looks) >= 2 and queued == ["product_list"]


@pytest.mark.parametrize("thumbnail", [False, True])
def test_a_file_gone_because_its_content_was_just_replaced_serves_the_new_content(
    asset_hub: Hub,
    assets_client: TestClient,
    wide: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    thumbnail: bool,
) -> None:
    """The row was read, then the content replaced (the old content's thumbnails dropped at
    once, its blob collected) before the file was opened: the row is read again and the new
    content served (it was a 404 'missing from the store' and an error log of a damaged
    store, for an asset that was there all along)."""
    url = "/assets/products/wide.png" + ("?thumbnail=product_list" if thumbnail else "")
    assets_client.get(url)  # the thumbnail drawn: a local file to lose
    narrow = image_bytes(100, 300, "PNG", "teal")
    opened = asset_files.open_local
    replaced: list[str] = []

    def replaced_before_the_open(path: Any) -> Any:
        if not replaced:
            saved = asset_hub.assets.add(io.BytesIO(narrow), "/products/wide.png", author="t")
            replaced.append(saved.asset.checksum)
            asset_hub.assets.store.delete_prefix(f"blobs/{wide['checksum'][:2]}/")
        return opened(path)

    logged: list[str] = []
    monkeypatch.setattr(asset_files, "open_local", replaced_before_the_open)
    monkeypatch.setattr(asset_files.log, "error", lambda event, **_: logged.append(event))
    got = assets_client.get(url)
    assert replaced and got.status_code == 200, got.text
    assert got.headers["etag"] != f'"{wide["checksum"]}"'
    width, height = Image.open(io.BytesIO(got.content)).size
    assert height > width  # the new, narrow content's (the old one was wide)
    if not thumbnail:
        assert got.content == narrow
    assert logged == []


def test_a_file_the_store_lost_is_still_a_404_that_says_so(
    asset_hub: Hub, assets_client: TestClient, wide: dict[str, Any]
) -> None:
    """Same row, no file: not a race but a damaged store, logged for the operator."""
    asset_hub.assets.store.delete_prefix(f"blobs/{wide['checksum'][:2]}/")
    got = assets_client.get("/assets/products/wide.png")
    assert got.status_code == 404
    assert "missing from the store" in got.json()["detail"]


def test_ranges_are_served_and_refusals_keep_the_problem_shape(
    assets_client: TestClient, wide: dict[str, Any]
) -> None:
    """A range within the file is a 206; a malformed Range header is ignored (the whole
    file, as RFC 9110 allows); a range past the end is a 416 problem with Content-Range
    (both were plain-text answers)."""
    url = "/assets/products/wide.png"
    part = assets_client.get(url, headers={"Range": "bytes=0-9"})
    assert part.status_code == 206 and part.content == WIDE[:10]
    assert part.headers["content-range"] == f"bytes 0-9/{len(WIDE)}"
    for malformed in ("bytes=9-0", "bytes=abc", "items=0-1", "bytes", "bytes=-"):
        whole = assets_client.get(url, headers={"Range": malformed})
        assert whole.status_code == 200, (malformed, whole.text)
        assert whole.content == WIDE
    for beyond in (f"bytes={len(WIDE)}-", "bytes=100000000-200000000"):
        refused = assets_client.get(url, headers={"Range": beyond})
        assert refused.status_code == 416, (beyond, refused.text)
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["code"] == "range-not-satisfiable"
        assert refused.json()["errors"][0]["field"] == "Range"
        assert refused.headers["content-range"] == f"bytes */{len(WIDE)}"
