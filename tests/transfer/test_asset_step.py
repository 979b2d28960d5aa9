"""The `asset` mapping step: parsing, where a cell's file is, and imports that fetch files
into assets (an httpx MockTransport stands for the shop; a real loopback server for the
REST import), on both databases."""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from pimhub.bootstrap import Hub
from pimhub.catalog.errors import FieldError
from pimhub.transfer.asset_fetch import AssetFetcher, AssetFetchPolicy, file_name
from pimhub.transfer.asset_step import AssetOptions, AssetSource, asset_step, locate
from pimhub.transfer.asset_step import parse_asset_options as parse_options
from pimhub.transfer.importer import ImportOptions, ImportSummary, OnError, RowError, run_import
from pimhub.transfer.job_records import JobStatus
from pimhub.transfer.jobs import JobRequest
from pimhub.transfer.mapping import InvalidMapping, parse_mapping
from pimhub.transfer.sources import Format, from_text
from pimhub.transfer.steps import CellError

SHOP = "https://shop.example/media/catalog/product"


def png(color: str, size: int = 64) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (size, size), color).save(out, "PNG")
    return out.getvalue()


RED, BLUE, GREEN = png("red"), png("blue"), png("green")


# --- parsing and locating ---------------------------------------------------------------------


def problems(raw: Any) -> list[tuple[str, str]]:
    errors: list[FieldError] = []
    parse_options(raw, "fields.image.asset", errors)
    return [(e.field, e.message) for e in errors]


def test_options_take_a_base_and_a_folder() -> None:
    errors: list[FieldError] = []
    assert parse_options({"base": SHOP, "folder": "products/"}, "p", errors) == AssetOptions(
        SHOP, "/products"
    )
    assert parse_options(True, "p", errors) == AssetOptions(None, "/imports")
    assert parse_options(None, "p", errors) is None
    assert parse_options({"base": "/srv/media"}, "p", errors) == AssetOptions("/srv/media")
    assert errors == []


@pytest.mark.parametrize(
    ("raw", "where", "says"),
    [
        ({"folder": "/a/../etc"}, "fields.image.asset.folder", "no '..'"),
        ({"folder": "/a/./b"}, "fields.image.asset.folder", "no '..'"),
        ({"folder": 7}, "fields.image.asset.folder", "asset folder"),
        ({"base": "ftp://x/y"}, "fields.image.asset.base", "ftp: URLs are not fetched"),
        ({"base": ""}, "fields.image.asset.base", "a URL"),
        ({"bse": SHOP}, "fields.image.asset.bse", "unknown option"),
        ("yes", "fields.image.asset", "true, or"),
    ],
)
def test_bad_options_are_named_by_path(raw: Any, where: str, says: str) -> None:
    found = problems(raw)
    assert any(field == where and says in message for field, message in found), found


def test_a_mapping_names_asset_problems_and_refuses_asset_with_path() -> None:
    with pytest.raises(InvalidMapping) as raised:
        parse_mapping(
            {
                "class": "Product",
                "fields": {
                    "sku": "sku",
                    "image": {"column": "img", "asset": {"folder": ".."}},
                    "gallery": {"column": "g", "asset": True, "path": True},
                },
            }
        )
    found = {e.field: e.message for e in raised.value.errors}
    assert found.keys() == {"fields.image.asset.folder", "fields.gallery.asset"}
    assert found["fields.gallery.asset"] == "a field takes a category path or an asset"


def test_locate_urls_relative_paths_and_local_files() -> None:
    shop = AssetOptions(SHOP, "/p")
    assert locate("/m/h/mh01.jpg", shop) == AssetSource(f"{SHOP}/m/h/mh01.jpg", False, "/p")
    assert locate("https://cdn.example/a.png", shop).location == "https://cdn.example/a.png"
    folder = AssetOptions("/srv/media/", "/p")
    assert locate("/m/a.jpg", folder) == AssetSource("/srv/media/m/a.jpg", True, "/p")
    assert locate("/abs/a.jpg", AssetOptions()) == AssetSource("/abs/a.jpg", True, "/imports")
    for cell, says in [
        ("a.jpg", "relative path"),
        ("file:///etc/passwd", "file: URLs are not fetched"),
        ("javascript:alert(1)", "javascript: URLs"),
        ("a\x00b.jpg", "control characters"),
        ("x" * 2049, "2049 characters"),
    ]:
        with pytest.raises(CellError, match=says):
            locate(cell, AssetOptions())


def test_option_messages_and_what_a_bad_option_returns() -> None:
    assert problems("yes") == [
        ("fields.image.asset", "true, or {base: <URL or folder>, folder: /products}")
    ]
    unknown = ("fields.image.asset.bse", "unknown option; use base, folder")
    assert problems({"bse": SHOP}) == [unknown]
    assert problems({"base": 3}) == [
        ("fields.image.asset.base", "a URL (https://...) or a folder of files")
    ]
    assert problems({"folder": ".."}) == [
        ("fields.image.asset.folder", "an asset folder such as /products (no '..', no '.')")
    ]
    errors: list[FieldError] = []
    assert parse_options({"base": "", "folder": "/ok"}, "p", errors) is None
    assert parse_options({"base": "http://shop.example/m", "folder": "a//b/"}, "p", []) == (
        AssetOptions("http://shop.example/m", "/a/b")
    )


def test_locate_joins_exactly_one_slash_and_keeps_what_the_cell_says() -> None:
    assert locate("/X1.jpg", AssetOptions(SHOP + "/", "/p")) == AssetSource(
        f"{SHOP}/X1.jpg", False, "/p"
    )
    assert locate("a.jpg", AssetOptions("https://x.example/X/")).location == (
        "https://x.example/X/a.jpg"
    )
    assert locate("X1.jpg", AssetOptions("/srv/m/", "/p")) == AssetSource(
        "/srv/m/X1.jpg", True, "/p"
    )
    assert locate("/X1.jpg", AssetOptions("/srv/m", "/p")).location == "/srv/m/X1.jpg"
    assert locate("http://a.example/b c.jpg", AssetOptions()) == AssetSource(
        "http://a.example/b c.jpg", False, "/imports"
    )
    assert locate("/" + "a" * 2047, AssetOptions()).location == "/" + "a" * 2047
    with pytest.raises(CellError, match=r"^ab: URLs are not fetched"):
        locate("ab:x", AssetOptions())
    with pytest.raises(CellError, match="relative path"):
        locate("C:\\x.jpg", AssetOptions())
    with pytest.raises(CellError, match="control characters"):
        locate("/a\x7f.jpg", AssetOptions())
    with pytest.raises(CellError) as raised:
        locate("x" * 90 + "\x01", AssetOptions())
    assert str(raised.value) == f"{'x' * 80!r} holds control characters, which no file location may"
    with pytest.raises(CellError) as raised:
        locate("r" * 300, AssetOptions())
    assert str(raised.value) == (
        f"'{'r' * 200}' is a relative path; give a URL, or set asset.base to the URL or "
        "folder it is relative to"
    )


def test_a_cell_may_not_go_up_out_of_its_base() -> None:
    for base in ("/srv/media", "/srv/media/", SHOP):
        for cell in ("../../etc/x", "/../etc/passwd", "m/../../x.jpg", ".."):
            with pytest.raises(CellError, match=r"goes up out of asset\.base with '\.\.'"):
                locate(cell, AssetOptions(base, "/p"))
    # A name that merely holds two dots is no '..' segment.
    assert locate("m/a..b.jpg", AssetOptions("/srv/media")).location == "/srv/media/m/a..b.jpg"
    assert locate("./m/a.jpg", AssetOptions("/srv/media")).location == "/srv/media/m/a.jpg"


def test_a_row_going_up_out_of_a_local_base_is_refused_naming_the_column(
    hub: Hub, tmp_path: Path, run: Run
) -> None:
    media = tmp_path / "media"
    media.mkdir()
    (media / "red.png").write_bytes(RED)
    (tmp_path / "secret.png").write_bytes(BLUE)
    based = parse_mapping(
        {
            "class": "Product",
            "fields": {
                "sku": "sku",
                "name.en": "name",
                "image": {"column": "base_image", "asset": {"base": str(media)}},
            },
        }
    )
    allowed = AssetFetchPolicy(max_bytes=1 << 20, local_files=True)
    text = csv(("A", "red.png", ""), ("B", "../secret.png", ""))
    summary, errors = run(text, policy=allowed, mapping=based)
    assert summary.created == 1 and summary.failed == 1
    assert [(e.row, e.column) for e in errors] == [(2, "base_image")]
    assert "goes up out of asset.base" in errors[0].message
    assert [a.path for a in hub.assets.list_page().items] == ["/imports/red.png"]


def test_a_bar_separates_a_gallerys_files_and_a_split_list_stays_a_list() -> None:
    step = asset_step(AssetOptions(SHOP))
    assert [s.location for s in step("/a.jpg | /b.jpg|")] == [f"{SHOP}/a.jpg", f"{SHOP}/b.jpg"]
    assert step("/a.jpg").location == f"{SHOP}/a.jpg"
    assert [s.location for s in step(["/a.jpg"])] == [f"{SHOP}/a.jpg"]
    assert step(" | ") is None


def test_file_names_come_from_the_url_path_sanitized() -> None:
    def name(location: str, local: bool = False) -> str:
        return file_name(AssetSource(location, local, "/p"))

    assert name("https://x.example/a/red%20shirt.jpg?w=1") == "red shirt.jpg"
    assert name("https://x.example/a/b%2Fc%5Cd.jpg") == "b-c-d.jpg"
    assert name("https://x.example/") == "file"
    assert name("https://x.example/%2E%2E") == "file"
    assert name("https://x.example/" + "n" * 300 + ".jpeg") == "n" * 195 + ".jpeg"
    assert name("/srv/m/a.png", local=True) == "a.png"


# --- imports through a shop double -------------------------------------------------------------


@dataclass
class Shop:
    """An HTTP double: files by URL, each with an ETag; counts requests and bytes sent."""

    files: dict[str, tuple[int, bytes, dict[str, str]]] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)
    sent: int = 0

    def put(self, path: str, body: bytes, status: int = 200, **headers: str) -> str:
        url = f"{SHOP}{path}"
        self.files[url] = (status, body, headers)
        return url

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        status, body, headers = self.files.get(str(request.url), (404, b"not found", {}))
        etag = headers.get("etag")
        if etag is not None and request.headers.get("if-none-match") == etag:
            return httpx.Response(304, headers={"etag": etag})
        self.sent += len(body)
        return httpx.Response(status, content=body, headers=headers)


MAPPING = parse_mapping(
    {
        "class": "Product",
        "fields": {
            "sku": "sku",
            "name.en": "name",
            "image": {"column": "base_image", "asset": {"base": SHOP, "folder": "/products"}},
            "gallery": {"column": "more", "asset": {"base": SHOP, "folder": "/products"}},
        },
    }
)


def csv(*rows: tuple[str, str, str]) -> str:
    return "sku,name,base_image,more\n" + "".join(
        f"{sku},{sku},{image},{more}\n" for sku, image, more in rows
    )


@pytest.fixture
def shop() -> Shop:
    return Shop()


Run = Callable[..., tuple[ImportSummary, list[RowError]]]


@pytest.fixture
def run(hub: Hub, shop: Shop) -> Run:
    def run_it(
        text: str,
        *,
        policy: AssetFetchPolicy | None = None,
        mapping: Any = MAPPING,
        **options: Any,
    ) -> tuple[ImportSummary, list[RowError]]:
        errors: list[RowError] = []
        opts = ImportOptions(**options)
        fetcher = AssetFetcher(
            hub.assets,
            policy or AssetFetchPolicy(max_bytes=hub.settings.assets_max_bytes),
            author="import",
            dry_run=opts.dry_run,
            transport=httpx.MockTransport(shop.handle),
        )
        summary = run_import(
            lambda: hub.catalog.batch_writer("Product", author="import"),
            from_text(text, Format.CSV),
            mapping,
            opts,
            on_row_error=errors.append,
            assets=fetcher,
        )
        return summary, errors

    return run_it


def product(hub: Hub, sku: str) -> dict[str, Any]:
    return hub.catalog.get_object("Product", sku, include_drafts=True).values


def blobs(hub: Hub) -> list[str]:
    return [k for k in hub.assets.store.keys("blobs/")]


def test_a_url_becomes_an_asset_and_a_reimport_downloads_nothing(
    hub: Hub, shop: Shop, run: Run
) -> None:
    url = shop.put("/m/red.png", RED, etag='"r1"')
    summary, errors = run(csv(("A", "/m/red.png", ""), ("B", "/m/red.png", "")))
    assert errors == [] and summary.created == 2
    assert len(shop.requests) == 1  # two rows, one download
    asset = hub.assets.get("/products/red.png")
    assert (asset.source, asset.source_validator, asset.mimetype) == (url, '"r1"', "image/png")
    assert (asset.width, asset.height) == (64, 64)
    assert product(hub, "A")["image"] == product(hub, "B")["image"] == asset.uuid
    assert summary.assets is not None and summary.assets["created"] == 1

    shop.requests.clear()
    shop.sent = 0
    again, errors = run(csv(("A", "/m/red.png", ""), ("B", "/m/red.png", "")))
    assert errors == [] and again.unchanged == 2
    assert [r.headers.get("if-none-match") for r in shop.requests] == ['"r1"']
    assert shop.sent == 0
    assert again.assets is not None and again.assets["notModified"] == 1
    assert hub.assets.get("/products/red.png").version == 1


def test_same_bytes_without_a_validator_store_no_new_version(
    hub: Hub, shop: Shop, run: Run
) -> None:
    shop.put("/m/red.png", RED)  # no ETag, no Last-Modified: downloaded each time
    run(csv(("A", "/m/red.png", "")))
    again, errors = run(csv(("A", "/m/red.png", "")))
    assert errors == [] and again.unchanged == 1
    assert again.assets is not None
    assert (again.assets["fetched"], again.assets["unchanged"]) == (1, 1)
    assert hub.assets.get("/products/red.png").version == 1
    # Changed bytes at the same URL: the same asset, a new version.
    shop.put("/m/red.png", BLUE)
    changed, errors = run(csv(("A", "/m/red.png", "")))
    assert errors == [] and changed.assets is not None and changed.assets["updated"] == 1
    asset = hub.assets.get("/products/red.png")
    assert asset.version == 2 and product(hub, "A")["image"] == asset.uuid


def test_the_same_bytes_behind_two_urls_share_one_blob(hub: Hub, shop: Shop, run: Run) -> None:
    shop.put("/m/red.png", RED)
    shop.put("/n/scarlet.png", RED)
    summary, errors = run(csv(("A", "/m/red.png", ""), ("B", "/n/scarlet.png", "")))
    assert errors == [] and summary.created == 2
    one, two = hub.assets.get("/products/red.png"), hub.assets.get("/products/scarlet.png")
    assert one.uuid != two.uuid and one.checksum == two.checksum
    assert len(blobs(hub)) == 1


def test_one_name_from_two_sites_gets_two_paths(hub: Hub, shop: Shop, run: Run) -> None:
    shop.put("/m/a.png", RED)
    shop.put("/n/a.png", BLUE)
    _, errors = run(csv(("A", "/m/a.png", ""), ("B", "/n/a.png", "")))
    assert errors == []
    first, second = product(hub, "A")["image"], product(hub, "B")["image"]
    assert first != second
    assert hub.assets.get(first).path == "/products/a.png"
    assert hub.assets.get(second).path.startswith("/products/a-")


def test_a_gallery_cell_gives_several_assets(hub: Hub, shop: Shop, run: Run) -> None:
    shop.put("/g/1.png", RED)
    shop.put("/g/2.png", BLUE)
    summary, errors = run(csv(("A", "", "/g/1.png|/g/2.png")))
    assert errors == [] and summary.created == 1
    gallery = product(hub, "A")["gallery"]
    assert [hub.assets.get(u).path for u in gallery] == ["/products/1.png", "/products/2.png"]


def test_files_that_cannot_be_fetched_are_row_errors_and_the_rest_goes_on(
    hub: Hub, shop: Shop, run: Run
) -> None:
    shop.put("/ok.png", RED)
    shop.put("/page.png", b"<!doctype html><html><body>hi</body></html>")
    shop.put("/big.png", png("white", 600))
    policy = AssetFetchPolicy(max_bytes=len(png("white", 600)) - 1)
    rows = [
        ("OK", "/ok.png", ""),
        ("MISSING", "/gone.png", ""),
        ("HTML", "/page.png", ""),
        ("BIG", "/big.png", ""),
        ("PRIVATE", "http://127.0.0.1:9/x.png", ""),
        ("GALLERY", "", "/ok.png|/gone.png"),
    ]
    summary, errors = run(csv(*rows), policy=policy)
    assert (summary.created, summary.failed) == (1, 5)
    by_row = {e.row: e for e in errors}
    assert all(e.column in ("base_image", "more") and e.code == "asset" for e in errors)
    assert f"{SHOP}/gone.png answered HTTP 404" in by_row[2].message
    assert "text/html" in by_row[3].message and f"{SHOP}/page.png" in by_row[3].message
    assert "larger than" in by_row[4].message and f"{SHOP}/big.png" in by_row[4].message
    assert "not a public address" in by_row[5].message and "127.0.0.1" in by_row[5].message
    assert by_row[6].column == "more" and "gone.png" in by_row[6].message
    assert not any(str(r.url).startswith("http://127.0.0.1") for r in shop.requests)
    assert [r.url.path for r in shop.requests].count("/media/catalog/product/gone.png") == 1


def test_a_redirect_to_an_internal_address_is_refused(hub: Hub, shop: Shop, run: Run) -> None:
    shop.put("/m/moved.png", b"", status=302, location="http://10.0.0.5/red.png")
    summary, errors = run(csv(("A", "/m/moved.png", "")))
    assert summary.failed == 1 and "10.0.0.5" in errors[0].message
    assert "not a public address" in errors[0].message
    assert [r.url.host for r in shop.requests] == ["shop.example"]


def test_last_modified_is_sent_back_as_if_modified_since(hub: Hub, shop: Shop, run: Run) -> None:
    stamp = "Wed, 21 Oct 2015 07:28:00 GMT"
    shop.put("/m/red.png", RED, **{"last-modified": stamp})
    run(csv(("A", "/m/red.png", "")))
    assert hub.assets.get("/products/red.png").source_validator == stamp
    shop.requests.clear()
    run(csv(("A", "/m/red.png", "")))
    assert [r.headers.get("if-modified-since") for r in shop.requests] == [stamp]


def test_files_left_when_the_runs_time_is_up_are_row_errors(hub: Hub, shop: Shop) -> None:
    shop.put("/m/red.png", RED)
    ticks = iter([0.0, 10.0])  # the run starts at 0; its one fetch asks at 10
    fetcher = AssetFetcher(
        hub.assets,
        AssetFetchPolicy(max_bytes=1 << 20, run_deadline=5.0),
        author="import",
        transport=httpx.MockTransport(shop.handle),
        clock=lambda: next(ticks),
    )
    errors: list[RowError] = []
    summary = run_import(
        lambda: hub.catalog.batch_writer("Product", author="import"),
        from_text(csv(("A", "/m/red.png", "")), Format.CSV),
        MAPPING,
        ImportOptions(),
        on_row_error=errors.append,
        assets=fetcher,
    )
    assert summary.failed == 1 and "ran out of time" in errors[0].message
    assert shop.requests == []


def test_a_dry_run_fetches_and_stores_nothing(hub: Hub, shop: Shop, run: Run) -> None:
    shop.put("/m/red.png", RED, etag='"r1"')
    summary, errors = run(csv(("A", "/m/red.png", "/m/red.png|/m/blue.png")), dry_run=True)
    assert errors == [] and summary.created == 1
    assert shop.requests == []
    assert hub.assets.find_by_source(f"{SHOP}/m/red.png") is None
    assert summary.assets is not None and summary.assets["wouldFetch"] == 2
    assert summary.assets["wouldFetchFirst"] == [f"{SHOP}/m/red.png", f"{SHOP}/m/blue.png"]
    # Once imported, a dry run reuses the asset it finds by source, still without a request.
    run(csv(("A", "/m/red.png", "")))
    shop.requests.clear()
    dry, errors = run(csv(("B", "/m/red.png", "")), dry_run=True)
    assert errors == [] and shop.requests == [] and dry.assets is not None
    assert "wouldFetch" not in dry.assets


def test_a_dry_run_names_an_internal_address_without_a_request(shop: Shop, run: Run) -> None:
    summary, errors = run(csv(("A", "http://127.0.0.1:9/x.png", "")), dry_run=True)
    assert summary.failed == 1 and "not a public address" in errors[0].message
    assert shop.requests == []


def test_each_batch_fetches_while_the_last_one_commits(hub: Hub, shop: Shop, run: Run) -> None:
    for n in range(6):
        shop.put(f"/m/{n}.png", png("red" if n % 2 else "blue"))
    rows = [(f"A{n}", f"/m/{n}.png", "") for n in range(6)]
    summary, errors = run(csv(*rows), batch_size=1)
    assert errors == [] and summary.created == 6 and summary.committed_rows == 6
    assert summary.assets is not None and summary.assets["created"] == 6
    assert len(blobs(hub)) == 2


def test_abort_fetches_before_its_one_transaction(hub: Hub, shop: Shop, run: Run) -> None:
    shop.put("/m/red.png", RED)
    rows = [(f"A{n}", "/m/red.png", "") for n in range(5)]
    summary, errors = run(csv(*rows), on_error=OnError.ABORT, batch_size=2)
    assert errors == [] and summary.created == 5 and summary.committed_rows == 5
    assert {product(hub, f"A{n}")["image"] for n in range(5)} == {
        hub.assets.get("/products/red.png").uuid
    }


def test_local_files_only_when_the_policy_allows_them(hub: Hub, tmp_path: Path, run: Run) -> None:
    (tmp_path / "red.png").write_bytes(RED)
    local = parse_mapping(
        {
            "class": "Product",
            "fields": {
                "sku": "sku",
                "name.en": "name",
                "image": {"column": "base_image", "asset": True},
            },
        }
    )
    text = csv(("A", str(tmp_path / "red.png"), ""))
    summary, errors = run(text, mapping=local)
    assert summary.failed == 1 and "reads no files of the server" in errors[0].message
    allowed = AssetFetchPolicy(max_bytes=1 << 20, local_files=True)
    summary, errors = run(text, policy=allowed, mapping=local)
    assert errors == [] and summary.created == 1
    asset = hub.assets.get("/imports/red.png")
    assert asset.source == (tmp_path / "red.png").as_uri()
    again, _ = run(text, policy=allowed, mapping=local)
    assert again.assets is not None and again.assets["notModified"] == 1


def test_a_mapping_with_asset_steps_needs_a_fetcher(hub: Hub) -> None:
    with pytest.raises(InvalidMapping, match="cannot fetch files"):
        run_import(
            lambda: hub.catalog.batch_writer("Product", author="import"),
            from_text(csv(("A", "/m/red.png", "")), Format.CSV),
            MAPPING,
            ImportOptions(),
        )


def test_without_asset_a_cell_must_name_an_existing_asset(hub: Hub) -> None:
    mapping = parse_mapping(
        {"class": "Product", "fields": {"sku": "sku", "name.en": "sku", "image": "img"}}
    )
    hub.assets.add(io.BytesIO(RED), "/products/red.png", author="test")
    errors: list[RowError] = []
    summary = run_import(
        lambda: hub.catalog.batch_writer("Product", author="import"),
        from_text("sku,img\nA,/products/red.png\nB,/products/none.png\n", Format.CSV),
        mapping,
        ImportOptions(),
        on_row_error=errors.append,
    )
    assert (summary.created, summary.failed) == (1, 1)
    assert errors[0].column == "img" and "/products/none.png" in errors[0].message


def test_parallel_imports_of_the_same_files_make_one_asset(hub: Hub, shop: Shop, run: Run) -> None:
    shop.put("/m/red.png", RED, etag='"r1"')
    results: list[Any] = []

    def one(n: int) -> None:
        results.append(run(csv(*[(f"P{n}-{i}", "/m/red.png", "") for i in range(3)])))

    threads = [threading.Thread(target=one, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [errors for _, errors in results] == [[], [], []]
    uuids = {product(hub, f"P{n}-{i}")["image"] for n in range(3) for i in range(3)}
    assert uuids == {hub.assets.get("/products/red.png").uuid}


# --- a REST import job: never a local file; URLs through the same guard ----------------------


class _Files(BaseHTTPRequestHandler):
    body = RED

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("ETag", '"v1"')
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def loopback() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def job(hub: Hub, mapping: str, text: str) -> dict[str, Any]:
    request = JobRequest(class_name=None, mapping=mapping)
    done = hub.imports.run_now(
        request, "p.csv", lambda path: path.write_text(text, encoding="utf-8"), "rest"
    )
    assert done.summary is not None, done.error
    return {"status": done.status, **done.summary}


def test_a_rest_import_refuses_local_paths_and_fetches_urls(
    hub: Hub, tmp_path: Path, loopback: str
) -> None:
    (tmp_path / "red.png").write_bytes(RED)
    head = "class: Product\nfields:\n  sku: sku\n  name.en: sku\n"
    mapping = head + "  image: {column: img, asset: true}\n"
    local = job(hub, mapping, f"sku,img\nA,{tmp_path / 'red.png'}\n")
    assert local["status"] == JobStatus.COMPLETED_WITH_ERRORS
    assert "reads no files of the server" in local["errors"][0]["message"]
    private = job(hub, mapping, f"sku,img\nB,{loopback}/red.png\n")
    assert "not a public address" in private["errors"][0]["message"]
    hub.imports.asset_policy = replace(hub.imports.asset_policy, allow_private=True)
    fetched = job(hub, mapping, f"sku,img\nC,{loopback}/red.png\n")
    assert fetched["status"] == JobStatus.SUCCEEDED and fetched["assets"]["created"] == 1
    assert hub.assets.get("/imports/red.png").source_validator == '"v1"'
    local_base = head + f"  image: {{column: img, asset: {{base: {tmp_path}}}}}\n"
    based = job(hub, local_base, "sku,img\nD,red.png\n")
    assert "reads no files of the server" in based["errors"][0]["message"]


# --- pimhub import: local files and folders, dry run first ------------------------------------


def test_the_cli_imports_local_files_and_a_dry_run_names_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from pimhub.bootstrap import bootstrap
    from pimhub.settings import Settings
    from tests.cli.test_cli import init, invoke

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("PIMHUB_DATABASE_URL", url)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner(env={"COLUMNS": "200"})
    init(runner)
    media = tmp_path / "media" / "m"
    media.mkdir(parents=True)
    (media / "red.png").write_bytes(RED)
    (media / "blue.png").write_bytes(BLUE)
    (tmp_path / "map.yaml").write_text(
        "class: Product\nfields:\n  sku: sku\n  name.en: sku\n"
        f"  gallery: {{column: images, asset: {{base: {tmp_path / 'media'}, folder: /p}}}}\n",
        encoding="utf-8",
    )
    (tmp_path / "p.csv").write_text("sku,images\nA,/m/red.png|m/blue.png\n", encoding="utf-8")
    code, out, _ = invoke(runner, "import", "p.csv", "-m", "map.yaml", "--dry-run")
    assert code == 0, out
    assert "would fetch 2" in out and str(media / "red.png") in out
    hub = bootstrap(Settings(database_url=url))
    assert hub.assets.list_page().items == []
    code, out, _ = invoke(runner, "import", "p.csv", "-m", "map.yaml")
    assert code == 0, out
    assert "assets: 2 fetched (2 new" in out
    gallery = hub.catalog.get_object("Product", "A", include_drafts=True).values["gallery"]
    assert [hub.assets.get(u).path for u in gallery] == ["/p/red.png", "/p/blue.png"]
    code, out, _ = invoke(runner, "import", "p.csv", "-m", "map.yaml")
    assert code == 0 and "2 not modified" in out, out


# --- the Luma sample with the image line the shipped mapping documents -------------------------


def test_the_documented_image_line_imports_lumas_images(hub: Hub) -> None:
    from itertools import islice

    from pimhub import safe_yaml
    from pimhub.transfer.mapping import shipped_mapping
    from pimhub.transfer.sources import SourceOptions, read
    from tests.transfer.test_magento_luma import luma_csv

    text = shipped_mapping("magento-products")
    assert text is not None
    commented = [line for line in text.splitlines() if line.startswith("  #   ")]
    line = "\n".join("  " + c.removeprefix("  #   ") for c in commented)
    line = line.replace("https://<your-shop>", "https://shop.example")
    raw = safe_yaml.load(text + line + "\n")
    mapping = parse_mapping(raw)
    records = list(islice(read(luma_csv(), SourceOptions()), 40))
    wanted = {r.values["base_image"] for r in records if r.values.get("base_image")}
    assert len(wanted) > 3
    served: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        served.append(request.url.path)
        return httpx.Response(200, content=RED if len(served) % 2 else BLUE)

    errors: list[RowError] = []
    summary = run_import(
        lambda: hub.catalog.batch_writer("Product", author="import"),
        records,
        mapping,
        ImportOptions(),
        on_row_error=errors.append,
        assets=AssetFetcher(
            hub.assets,
            AssetFetchPolicy(max_bytes=1 << 20),
            author="import",
            transport=httpx.MockTransport(handle),
        ),
    )
    assert errors == [] and summary.created == len(records)
    assert sorted(served) == sorted(f"/media/catalog/product{p}" for p in wanted)
    for record in records:
        image = hub.catalog.get_object(
            "Product", record.values["sku"], include_drafts=True
        ).values.get("image")
        cell = record.values.get("base_image")
        assert (hub.assets.get(image).path if image else None) == (
            f"/products/{cell.rsplit('/', 1)[1]}" if cell else None
        )
    assert len(blobs(hub)) == 2


def test_an_asset_folder_over_the_path_limit_is_a_mapping_error() -> None:
    found = problems({"base": SHOP, "folder": "/" + "€" * 400})
    assert any(
        field == "fields.image.asset.folder" and "longer than 1024 bytes" in message
        for field, message in found
    ), found


def test_a_path_over_the_limit_is_a_row_error_and_the_rest_goes_on(
    hub: Hub, shop: Shop, run: Run
) -> None:
    folder = "/" + "".join(chr(0x4E00 + i) for i in range(300))  # 901 bytes: a valid folder
    mapping = parse_mapping(
        {
            "class": "Product",
            "fields": {
                "sku": "sku",
                "name.en": "name",
                "image": {"column": "base_image", "asset": {"base": SHOP, "folder": folder}},
            },
        }
    )
    shop.put("/ok.png", RED)
    long_name = "".join(chr(0x4E00 + i) for i in range(150)) + ".png"  # + 454 bytes
    shop.files[str(httpx.URL(f"{SHOP}/{long_name}"))] = (200, BLUE, {})  # as requested
    summary, errors = run(
        "sku,name,base_image\nOK,ok,/ok.png\nLONG,long,/" + long_name + "\n", mapping=mapping
    )
    assert (summary.created, summary.failed) == (1, 1)
    assert errors[0].row == 2 and "longer than 1024 bytes" in errors[0].message
    assert hub.assets.get(folder + "/ok.png").path == folder + "/ok.png"
