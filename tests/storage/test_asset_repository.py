"""SqlAssetRepository on both backends, and parallel asset writers: writers naming no
version never see a conflict or an error, and version numbers stay consecutive."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from pimhub.assets.model import Asset
from pimhub.bootstrap import Hub
from pimhub.catalog.errors import AssetInUse, InvalidQuery, ValidationFailed, WriteConflict
from pimhub.storage.tables import object_versions, outbox
from tests.assets.images import png
from tests.storage.test_parallel_writers import errors_of, in_parallel

WRITERS = 20
AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def asset(path: str, uuid: str, checksum: str = "ab" * 32, **changes: Any) -> Asset:
    values: dict[str, Any] = {
        "uuid": uuid, "path": path, "mimetype": "image/png", "filesize": 10,
        "checksum": checksum, "width": 2, "height": 1, "metadata": {"alt": {"en": "x"}},
        "version": 1, "created_at": AT, "modified_at": AT,
    }  # fmt: skip
    values.update(changes)
    return Asset(**values)


UUIDS = [f"00000000-0000-7000-8000-{n:012d}" for n in range(10)]


def test_rows_round_trip(bare_hub: Hub) -> None:
    with bare_hub.units_of_work(write=True) as uow:
        repo = uow.assets
        one = repo.insert(asset("/p/a.png", UUIDS[0], source="https://x/a", source_validator="e1"))
        assert one.id is not None
        repo.insert(asset("/p/b.png", UUIDS[1], checksum="cd" * 32))
        repo.insert(asset("/pq/c.png", UUIDS[2]))
        repo.insert(asset("/p0.png", UUIDS[3]))
        with pytest.raises(WriteConflict), uow.conn.begin_nested():
            repo.insert(asset("/p/a.png", UUIDS[4]))
        uow.commit()
    with bare_hub.units_of_work() as uow:
        repo = uow.assets
        assert repo.get_by_path("/p/a.png") == one
        assert repo.get_by_uuid(UUIDS[0]) == one
        assert repo.get_by_path("/p/zzz.png") is None
        assert set(repo.get_many([UUIDS[0], UUIDS[1], UUIDS[9]])) == {UUIDS[0], UUIDS[1]}
        assert repo.uuids_of_paths(["/p/a.png", "/nope"]) == {"/p/a.png": UUIDS[0]}
        assert repo.existing_uuids([UUIDS[2], UUIDS[8]]) == {UUIDS[2]}
        assert repo.count_with_checksum("ab" * 32) == 3
        assert repo.find_by_source("https://x/a") == one
        items, total, cursor = repo.list_page("/p", 1, None)
        assert ([a.path for a in items], total) == (["/p/a.png"], 2)
        items, _, cursor = repo.list_page("/p", 1, cursor)
        assert ([a.path for a in items], cursor) == (["/p/b.png"], None)
        assert len(repo.list_page("/", 10, None)[0]) == 4
        with pytest.raises(InvalidQuery):
            repo.list_page("/", 10, "%%%")


def test_update_is_a_compare_and_set(bare_hub: Hub) -> None:
    with bare_hub.units_of_work(write=True) as uow:
        stored = uow.assets.insert(asset("/a.png", UUIDS[0]))
        moved = asset("/b/a.png", UUIDS[0], version=2, metadata={})
        assert not uow.assets.update(moved, expected_version=5)
        assert uow.assets.update(moved, expected_version=1)
        assert uow.assets.get_by_uuid(UUIDS[0]) == moved
        uow.assets.delete(stored)
        assert uow.assets.get_by_uuid(UUIDS[0]) is None


def versions_of(hub: Hub, uuid: str) -> list[int]:
    with hub.engine.connect() as conn:
        query = select(object_versions.c.version).where(object_versions.c.object_uuid == uuid)
        return sorted(conn.execute(query).scalars())


def event_versions(hub: Hub, uuid: str) -> list[int]:
    with hub.engine.connect() as conn:
        query = select(outbox.c.version).where(outbox.c.object_uuid == uuid)
        return sorted(conn.execute(query).scalars())


def test_parallel_writers_of_one_path_and_of_many(bare_hub: Hub) -> None:
    # Half the writers replace one path's content (each with bytes of its own), the other
    # half each create their own path; everything is released at once.
    images = [png((8 + n, 8)) for n in range(WRITERS)]

    def work(n: int) -> Any:
        path = "/shared.png" if n % 2 == 0 else f"/own/{n}.png"
        return bare_hub.assets.add(io.BytesIO(images[n]), path, author=f"w{n}")

    outcomes = in_parallel(WRITERS, work)
    assert errors_of(outcomes) == []
    shared = bare_hub.assets.get("/shared.png")
    assert versions_of(bare_hub, shared.uuid) == list(range(1, WRITERS // 2 + 1))
    assert event_versions(bare_hub, shared.uuid) == list(range(1, WRITERS // 2 + 1))
    assert sum(o.created for o in outcomes if o.asset.path == "/shared.png") == 1
    assert bare_hub.assets.list_page(folder="/own").total == WRITERS // 2


def test_parallel_metadata_updates_and_moves(bare_hub: Hub) -> None:
    uuid = bare_hub.assets.add(io.BytesIO(png()), "/m.png", author="t").asset.uuid

    def work(n: int) -> Any:
        if n % 4 == 0:
            return bare_hub.assets.update(uuid, author="t", path=f"/moved/{n}.png")
        return bare_hub.assets.update(uuid, author="t", metadata={f"k{n}": n})

    outcomes = in_parallel(WRITERS, work)
    assert errors_of(outcomes) == []
    final = bare_hub.assets.get(uuid)
    assert {f"k{n}" for n in range(WRITERS) if n % 4} <= set(final.metadata)
    assert final.version == WRITERS + 1
    assert versions_of(bare_hub, uuid) == list(range(1, WRITERS + 2))


def test_a_delete_racing_new_references_never_leaves_a_dangling_one(hub: Hub) -> None:
    for attempt in range(3):
        path = f"/race/{attempt}.png"
        uuid = hub.assets.add(io.BytesIO(png()), path, author="t").asset.uuid

        def work(n: int, path: str = path, attempt: int = attempt) -> Any:
            if n == 0:
                return hub.assets.delete(path, author="t")
            values = {"sku": f"R{attempt}-{n}", "name": {"en": "R"}, "image": path}
            return hub.catalog.create("Product", values, author="t")

        outcomes = in_parallel(WRITERS // 2, work)
        unexpected = [
            o for o in errors_of(outcomes) if not isinstance(o, AssetInUse | ValidationFailed)
        ]
        assert unexpected == []
        deleted = not isinstance(outcomes[0], Exception)
        with hub.units_of_work() as uow:
            users = uow.objects.referrers(uuid, 100)
        if deleted:
            assert users == []
        else:
            assert users  # refused only because something used it


def test_parallel_batches_using_shared_assets(hub: Hub) -> None:
    # Each batch locks its products' keys, then holds the assets they use: batches that
    # share assets must neither deadlock nor wait on each other's key stripes.
    paths = [f"/batch/{n}.png" for n in range(20)]
    for n, path in enumerate(paths):
        hub.assets.add(io.BytesIO(png((8 + n, 8))), path, author="t")

    def work(n: int) -> Any:
        rows = [
            {"sku": f"B{n}-{i}", "name": {"en": "B"}, "image": paths[(i + n) % 20]}
            for i in range(100)
        ]
        with hub.catalog.batch_writer("Product", author="t") as writer:
            results = writer.save(rows)
            writer.commit()
        return results

    outcomes = in_parallel(4, work)
    assert errors_of(outcomes) == []
    assert all(r.outcome.value == "created" for results in outcomes for r in results)
    with hub.units_of_work() as uow:
        assert len(uow.objects.referrers(hub.assets.get(paths[0]).uuid, 1000)) == 20


def test_every_asset_reader_decodes_the_whole_row(bare_hub: Hub) -> None:
    from pimhub.storage.asset_point_reads import SqlAssetPointReads

    saved = bare_hub.assets.add(
        io.BytesIO(png()), "/p/src.png", author="t", source="https://x/a", source_validator='"e"'
    ).asset
    with bare_hub.graph_reads.session() as session:
        by_graph = session.assets([saved.uuid])[saved.uuid]
    by_point = SqlAssetPointReads(bare_hub.engine).get_by_path(saved.path)
    with bare_hub.units_of_work() as uow:
        by_repo = uow.assets.get_by_uuid(saved.uuid)
    for found in (by_graph, by_point, by_repo):
        assert found == saved and found is not None and found.id == saved.id
        assert (found.source, found.source_validator) == ("https://x/a", '"e"')
