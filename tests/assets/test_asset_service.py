"""AssetService on SQLite and PostgreSQL: uploads, de-duplication, versions and events,
metadata, limits and refusals, moves, deletes with referrers."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from pimhub.assets.model import ASSET_CLASS, blob_key, thumbnail_prefix
from pimhub.assets.service import AssetLimits, AssetService
from pimhub.bootstrap import Hub
from pimhub.catalog.errors import (
    AssetNotFound,
    DuplicateKey,
    InvalidInput,
    InvalidQuery,
    PayloadTooLarge,
    StaleVersion,
    UnsupportedMediaType,
)
from pimhub.storage.tables import assets, object_versions, outbox
from tests.assets.images import HTML, PDF, SVG, png, raster
from tests.conftest import statements_run


def add(hub: Hub, data: bytes, path: str, **kwargs: Any) -> Any:
    return hub.assets.add(io.BytesIO(data), path, author="tester", **kwargs)


def events(hub: Hub, uuid: str | None = None) -> list[tuple[str, list[str]]]:
    query = select(outbox.c.event_type, outbox.c.payload).order_by(outbox.c.id)
    query = query.where(outbox.c.class_name == ASSET_CLASS)
    if uuid is not None:
        query = query.where(outbox.c.object_uuid == uuid)
    with hub.engine.connect() as conn:
        return [(r.event_type, r.payload["data"]["changedFields"]) for r in conn.execute(query)]


def blob_keys(hub: Hub) -> list[str]:
    return sorted(hub.assets.store.keys("blobs/"))


def test_add_stores_row_blob_version_and_event(bare_hub: Hub) -> None:
    save = add(bare_hub, png(), "products/red.png", metadata={"alt": {"en": "Red", "de": "Rot"}})
    asset = save.asset
    assert (save.created, save.changed) == (True, True)
    assert (asset.path, asset.folder, asset.mimetype) == (
        "/products/red.png",
        "/products",
        "image/png",
    )
    assert (asset.width, asset.height, asset.filesize, asset.version) == (64, 48, len(png()), 1)
    assert b"".join(bare_hub.assets.read(asset)) == png()
    assert blob_keys(bare_hub) == [blob_key(asset.checksum)]
    assert bare_hub.assets.get("/products/red.png") == asset
    assert bare_hub.assets.get(asset.uuid) == asset
    assert bare_hub.assets.get_many([asset.uuid, "nope"]) == {asset.uuid: asset}
    [version] = bare_hub.assets.versions(asset.uuid)
    assert (version.class_name, version.key, version.version) == (ASSET_CLASS, asset.path, 1)
    assert version.values["metadata"] == {"alt": {"en": "Red", "de": "Rot"}}
    with bare_hub.engine.connect() as conn:
        payload = conn.execute(select(outbox.c.payload)).scalar_one()
    assert payload["type"] == "asset.created"
    assert payload["data"]["objectType"] == "Asset"
    assert payload["data"]["asset"]["checksum"] == asset.checksum
    assert events(bare_hub) == [("asset.created", ["content", "metadata", "path"])]


def test_same_bytes_twice_at_one_path_writes_nothing(bare_hub: Hub) -> None:
    first = add(bare_hub, png(), "/a.png", metadata={"alt": {"en": "A"}})
    again = add(bare_hub, png(), "/a.png")  # no metadata: the stored metadata stays
    assert (again.created, again.changed) == (False, False)
    assert again.asset == first.asset
    same_meta = add(bare_hub, png(), "/a.png", metadata={"alt": {"en": "A"}})
    assert not same_meta.changed
    assert len(bare_hub.assets.versions("/a.png")) == 1
    assert len(events(bare_hub)) == 1


def test_same_bytes_at_two_paths_share_one_blob(bare_hub: Hub) -> None:
    one = add(bare_hub, png(), "/one.png").asset
    two = add(bare_hub, png(), "/folder/two.png").asset
    assert one.uuid != two.uuid and one.checksum == two.checksum
    assert blob_keys(bare_hub) == [blob_key(one.checksum)]


def test_new_content_is_a_new_version_and_drops_unshared_thumbnails(bare_hub: Hub) -> None:
    store = bare_hub.assets.store
    old = add(bare_hub, png(color="red"), "/a.png").asset
    add(bare_hub, png(color="red"), "/keeps-red.png")
    thumb = thumbnail_prefix(old.checksum) + "small.webp"
    store.put(thumb, io.BytesIO(b"thumb"), 5, "image/webp")
    blue = add(bare_hub, png(color="blue"), "/a.png")
    assert (blue.created, blue.changed, blue.asset.version) == (False, True, 2)
    assert blue.asset.uuid == old.uuid and blue.asset.created_at == old.created_at
    assert store.exists(thumb)  # /keeps-red.png still holds the red content
    add(bare_hub, png(color="blue"), "/keeps-red.png")
    assert not store.exists(thumb)
    assert store.exists(blob_key(old.checksum))  # blobs go only through gc
    assert events(bare_hub, old.uuid) == [
        ("asset.created", ["content", "metadata", "path"]),
        ("asset.updated", ["content"]),
    ]
    assert [v.version for v in bare_hub.assets.versions("/a.png")] == [2, 1]


def test_every_accepted_type_whatever_its_name(bare_hub: Hub) -> None:
    cases = {
        "/x/jpeg.png": (raster("JPEG"), "image/jpeg"),
        "/x/gif.pdf": (raster("GIF"), "image/gif"),
        "/x/webp.jpg": (raster("WEBP"), "image/webp"),
        "/x/tiff.svg": (raster("TIFF"), "image/tiff"),
        "/x/svg.png": (SVG, "image/svg+xml"),
        "/x/pdf.jpg": (PDF, "application/pdf"),
    }
    for path, (data, mimetype) in cases.items():
        assert add(bare_hub, data, path).asset.mimetype == mimetype


def test_refused_content_leaves_nothing(bare_hub: Hub) -> None:
    with pytest.raises(UnsupportedMediaType) as caught:
        add(bare_hub, HTML, "/evil.jpg")
    assert "text/html" in caught.value.detail
    with pytest.raises(InvalidInput):
        add(bare_hub, png(), "/a/../b.png")
    assert blob_keys(bare_hub) == []
    assert bare_hub.assets.list_page().total == 0
    assert events(bare_hub) == []


def test_size_limit(bare_hub: Hub) -> None:
    small = AssetService(
        bare_hub.units_of_work, bare_hub.assets.store, limits=AssetLimits(max_bytes=len(png()) - 1)
    )
    with pytest.raises(PayloadTooLarge) as caught:
        small.add(io.BytesIO(png()), "/big.png", author="t")
    assert caught.value.errors[0].code == "too-large"
    exact = AssetService(
        bare_hub.units_of_work, bare_hub.assets.store, limits=AssetLimits(max_bytes=len(png()))
    )
    assert exact.add(io.BytesIO(png()), "/fits.png", author="t").created
    assert blob_keys(bare_hub) == [blob_key(exact.get("/fits.png").checksum)]


@pytest.mark.parametrize(
    ("metadata", "field"),
    [
        ("alt text", "metadata"),
        ({"alt": "Red"}, "metadata.alt"),
        ({"alt": {"xx": "Red"}}, "metadata.alt.xx"),
        ({"alt": {"en": 5}}, "metadata.alt.en"),
        ({"note": "a\x00b"}, "metadata.note"),
        ({"note": "x" * 20_000}, "metadata"),
        ({"n": float("nan")}, "metadata"),
    ],
)
def test_bad_metadata_is_refused(bare_hub: Hub, metadata: Any, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        add(bare_hub, png(), "/a.png", metadata=metadata)
    assert caught.value.errors[0].field == field
    assert bare_hub.assets.list_page().total == 0


def test_update_merges_metadata_and_moves(bare_hub: Hub) -> None:
    asset = add(bare_hub, png(), "/a.png", metadata={"alt": {"en": "A"}, "credit": "me"}).asset
    save = bare_hub.assets.update(
        "/a.png", author="t", metadata={"alt": {"de": "B"}, "credit": None}
    )
    assert save.asset.metadata == {"alt": {"en": "A", "de": "B"}}
    assert save.asset.version == 2
    moved = bare_hub.assets.update(asset.uuid, author="t", path="/new/place.png").asset
    assert (moved.uuid, moved.path, moved.version) == (asset.uuid, "/new/place.png", 3)
    with pytest.raises(AssetNotFound):
        bare_hub.assets.get("/a.png")
    assert not bare_hub.assets.update(moved.uuid, author="t", metadata={}).changed
    add(bare_hub, png(color="blue"), "/other.png")
    with pytest.raises(DuplicateKey):
        bare_hub.assets.update("/other.png", author="t", path="new/place.png")
    with pytest.raises(StaleVersion):
        bare_hub.assets.update("/other.png", author="t", metadata={"x": 1}, expected_version=7)
    assert [e for e, _ in events(bare_hub, asset.uuid)] == ["asset.created"] + 2 * ["asset.updated"]
    assert events(bare_hub, asset.uuid)[2] == ("asset.updated", ["path"])


def test_expected_version(bare_hub: Hub) -> None:
    with pytest.raises(AssetNotFound):
        add(bare_hub, png(), "/a.png", expected_version=1)
    add(bare_hub, png(), "/a.png")
    with pytest.raises(StaleVersion) as caught:
        add(bare_hub, png(color="blue"), "/a.png", expected_version=2)
    assert caught.value.current_version == 1
    assert add(bare_hub, png(color="blue"), "/a.png", expected_version=1).asset.version == 2


def test_list_pages_by_folder(bare_hub: Hub) -> None:
    for path in ("/p/b.png", "/p/a.png", "/p/sub/c.png", "/pq/d.png", "/e.png"):
        add(bare_hub, png(), path)
    page = bare_hub.assets.list_page(folder="/p", first=2)
    assert ([a.path for a in page.items], page.total) == (["/p/a.png", "/p/b.png"], 3)
    rest = bare_hub.assets.list_page(folder="p/", first=2, after=page.next_cursor)
    assert ([a.path for a in rest.items], rest.next_cursor) == (["/p/sub/c.png"], None)
    assert bare_hub.assets.list_page().total == 5
    with pytest.raises(InvalidQuery):
        bare_hub.assets.list_page(after="bm90LWEtcGF0aA")
    with pytest.raises(InvalidInput):
        bare_hub.assets.list_page(first=0)


def test_find_by_source_and_its_validator(bare_hub: Hub) -> None:
    url = "https://images.example/shirt.png"
    add(bare_hub, png(), "/s.png", source=url, source_validator='"v1"')
    assert bare_hub.assets.find_by_source(url).source_validator == '"v1"'  # type: ignore[union-attr]
    # Same bytes, new validator: kept for the next conditional download, no new version.
    again = add(bare_hub, png(), "/s.png", source=url, source_validator='"v2"')
    assert (again.changed, again.asset.version, again.asset.source_validator) == (False, 1, '"v2"')
    assert bare_hub.assets.find_by_source(url).source_validator == '"v2"'  # type: ignore[union-attr]
    assert bare_hub.assets.find_by_source("https://elsewhere/") is None
    assert bare_hub.assets.find_by_source("a\x00b") is None


def test_delete_writes_a_version_and_event(bare_hub: Hub) -> None:
    asset = add(bare_hub, png(), "/a.png").asset
    gone = bare_hub.assets.delete("/a.png", author="t")
    assert gone.version == 2
    with pytest.raises(AssetNotFound):
        bare_hub.assets.get(asset.uuid)
    assert events(bare_hub)[-1] == ("asset.deleted", [])
    with bare_hub.engine.connect() as conn:
        actions = conn.execute(
            select(object_versions.c.action).where(object_versions.c.object_uuid == asset.uuid)
        ).scalars()
        assert sorted(actions) == ["created", "deleted"]
        assert conn.execute(select(func.count()).select_from(assets)).scalar_one() == 0
    with pytest.raises(AssetNotFound):
        bare_hub.assets.delete("/a.png", author="t")


def test_unknown_refs(bare_hub: Hub) -> None:
    for ref in ("/nope.png", "01a24240-98ce-7057-8dbb-bc0774ab0df5", "/a\x00b", "/a/../b"):
        with pytest.raises(AssetNotFound):
            bare_hub.assets.get(ref)


def test_a_long_path_fits_the_version_and_event_rows(bare_hub: Hub) -> None:
    path = "/" + "/".join(["folder" * 10] * 12) + "/a.png"  # about 740 characters
    asset = add(bare_hub, png(), path).asset
    assert bare_hub.assets.get(path).uuid == asset.uuid
    [version] = bare_hub.assets.versions(path)
    assert len(version.key) == 255 and path.startswith(version.key[:-1])
    assert version.values["path"] == path
    with bare_hub.engine.connect() as conn:
        payload = conn.execute(select(outbox.c.payload)).scalar_one()
    assert payload["data"]["path"] == path


@pytest.mark.parametrize(
    ("source", "validator"), [("x" * 2049, None), ("a\x00b", None), ("https://x/", "v" * 256)]
)
def test_bad_sources_are_refused(bare_hub: Hub, source: str, validator: str | None) -> None:
    with pytest.raises(InvalidInput):
        add(bare_hub, png(), "/a.png", source=source, source_validator=validator)
    assert bare_hub.assets.list_page().total == 0


def test_reused_blob_is_made_young_so_garbage_collection_spares_it(bare_hub: Hub) -> None:
    import os
    import time
    from datetime import timedelta

    from pimhub.assets.gc import collect_garbage

    store = bare_hub.assets.store
    first = add(bare_hub, png(), "/old.png").asset
    bare_hub.assets.delete(first.uuid, author="tester")  # the blob stays, held by nobody
    key = blob_key(first.checksum)
    file = store.local_path(key)
    assert file is not None
    two_hours_ago = time.time() - 7200
    os.utime(file, (two_hours_ago, two_hours_ago))
    # The next upload of the same bytes must touch the old blob: a collection running
    # before its row commits then sees a young blob and keeps it.
    add(bare_hub, png(), "/new.png")
    report = collect_garbage(store, [], grace=timedelta(hours=1))
    assert report.blobs_deleted == 0 and store.exists(key)


def test_blob_collected_between_check_and_commit_is_put_again(bare_hub: Hub) -> None:
    store = bare_hub.assets.store
    first = add(bare_hub, png(), "/old.png").asset
    key = blob_key(first.checksum)
    originals = {"touch": store.touch, "exists": store.exists}

    def then_lose(name: str) -> Any:
        def check(k: str) -> bool:
            # A collection that listed the blob before this upload saw it deletes it now.
            found = bool(originals[name](k))
            for method in originals:
                store.__dict__.pop(method, None)
            store.delete(k)
            return found

        return check

    for name in originals:
        setattr(store, name, then_lose(name))
    try:
        save = add(bare_hub, png(), "/new.png")
    finally:
        for name in originals:
            store.__dict__.pop(name, None)
    assert save.changed and store.exists(key)
    assert b"".join(bare_hub.assets.read(save.asset)) == png()


def test_collect_garbage_asks_which_contents_are_held_in_one_query(bare_hub: Hub) -> None:
    kept = [add(bare_hub, png((8, 8), f"#{n:02x}0000"), f"/gc/{n}.png").asset for n in range(6)]
    for n in range(4):  # contents no asset holds any more
        add(bare_hub, png((8, 8), f"#0000{n + 1:02x}"), "/gc/replaced.png")
    with statements_run(bare_hub.engine) as seen:
        report = bare_hub.assets.collect_garbage(grace=timedelta(0))
    asked = [s for s in seen if "FROM assets" in s]
    assert len(asked) == 1, asked
    assert (report.checksums, report.held, report.blobs_deleted) == (10, 7, 3)
    assert {a.blob_key for a in kept} < set(blob_keys(bare_hub))
    with bare_hub.units_of_work() as uow:
        held = uow.assets.held_checksums([kept[0].checksum, "00" * 32, kept[1].checksum])
    assert held == {kept[0].checksum, kept[1].checksum}
