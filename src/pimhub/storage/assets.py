"""SQLAlchemy Core implementation of the asset repository (catalog.ports.AssetRepository)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Collection, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement

from pimhub.assets.model import Asset
from pimhub.catalog.errors import FieldError, InvalidQuery, WriteConflict
from pimhub.storage.locks import OBJECT_LOCK_STRIPES, lock_key, lock_keys
from pimhub.storage.tables import assets, object_references, objects

IN_LIST_CHUNK = 500
# Asset locks fold into stripes of their own (as object locks do, see storage.locks), apart
# from the object stripes: an import holding its products' key stripes and then sharing
# the stripes of the assets they use must never wait for another import doing the same
# the other way round.
_ASSET_STRIPE_BASE = 0x5049_4D01_0000


def asset_stripe(name: str) -> int:
    return _ASSET_STRIPE_BASE + lock_key(name) % OBJECT_LOCK_STRIPES


# The columns every asset read selects, in this order: the repository through SQLAlchemy,
# the point and graph reads as driver SQL (ASSET_COLUMNS_SQL), all decoded by decode_asset.
ASSET_COLUMNS = (
    "id", "uuid", "path", "mimetype", "filesize", "checksum", "width", "height", "metadata",
    "version", "created_at", "modified_at", "source", "source_validator",
)  # fmt: skip
ASSET_COLUMNS_SQL = ", ".join(ASSET_COLUMNS)
_SELECT = select(*(assets.c[name] for name in ASSET_COLUMNS))


def _same(value: Any) -> Any:
    return value


def decode_asset(
    row: Sequence[Any],
    json: Callable[[Any], Any] = _same,
    utc: Callable[[Any], datetime] = _same,
) -> Asset:
    """An asset from a row of ASSET_COLUMNS. Driver SQL passes its reader's `json` and
    `utc` (SQLite hands back text); SQLAlchemy rows are decoded already."""
    (id_, uuid, path, mimetype, filesize, checksum, width, height, metadata, version,
     created, modified, source, validator) = row  # fmt: skip
    return Asset(
        uuid=uuid,
        path=path,
        mimetype=mimetype,
        filesize=filesize,
        checksum=checksum,
        width=width,
        height=height,
        metadata=json(metadata) or {},
        version=version,
        created_at=utc(created),
        modified_at=utc(modified),
        source=source,
        source_validator=validator,
        id=id_,
    )


def row_to_asset(row: Row[Any]) -> Asset:
    return decode_asset(tuple(row))


def _values(asset: Asset) -> dict[str, Any]:
    return {
        "uuid": asset.uuid,
        "path": asset.path,
        "folder": asset.folder,
        "mimetype": asset.mimetype,
        "filesize": asset.filesize,
        "checksum": asset.checksum,
        "width": asset.width,
        "height": asset.height,
        "metadata": asset.metadata,
        "source": asset.source,
        "source_validator": asset.source_validator,
        "version": asset.version,
        "created_at": asset.created_at,
        "modified_at": asset.modified_at,
    }


def encode_cursor(path: str) -> str:
    return base64.urlsafe_b64encode(path.encode("utf-8")).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        path = raw.decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        path = ""
    if not path.startswith("/") or "\x00" in path:
        raise InvalidQuery(
            "the cursor is not one this listing gave out",
            [FieldError("after", "unknown cursor", "invalid-cursor")],
        )
    return path


def in_folder(folder: str) -> ColumnElement[bool]:
    """Assets in `folder` and below: a range on the path ('/' + 1 is '0'), which the unique
    index on path answers without LIKE and its escaping. The range holds in byte order only:
    the path column has collation C on PostgreSQL (tables.AssetPath)."""
    if folder == "/":
        return assets.c.path.is_not(None)
    return (assets.c.path > folder + "/") & (assets.c.path < folder + "0")


class SqlAssetRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def lock(self, paths: Sequence[str]) -> None:
        """Holds a write lock per path until the transaction ends (see storage.locks):
        writers of one path run one after the other on PostgreSQL."""
        if self.conn.dialect.name == "postgresql":
            lock_keys(self.conn, [asset_stripe(f"path\x1f{p}") for p in paths])

    def hold(self, uuids: Sequence[str], *, exclusive: bool = False) -> set[str]:
        """Locks the assets against deletion (shared: writers referring to them) or
        against new references (exclusive: a delete) until the transaction ends; the ones
        that still exist once the lock is held."""
        wanted = sorted(set(uuids))
        if not wanted or self.conn.dialect.name != "postgresql":
            # SQLite runs one writer at a time: what this transaction read still holds.
            return set(wanted)
        keys = [asset_stripe(f"uuid\x1f{u}") for u in wanted]
        lock_keys(self.conn, keys, shared=not exclusive)
        return self.existing_uuids(wanted)

    def get_by_path(self, path: str) -> Asset | None:
        row = self.conn.execute(_SELECT.where(assets.c.path == path)).first()
        return row_to_asset(row) if row else None

    def get_by_uuid(self, uuid: str) -> Asset | None:
        row = self.conn.execute(_SELECT.where(assets.c.uuid == uuid)).first()
        return row_to_asset(row) if row else None

    def get_many(self, uuids: Sequence[str]) -> dict[str, Asset]:
        found: dict[str, Asset] = {}
        wanted = list(dict.fromkeys(uuids))
        for start in range(0, len(wanted), IN_LIST_CHUNK):
            chunk = wanted[start : start + IN_LIST_CHUNK]
            rows = self.conn.execute(_SELECT.where(assets.c.uuid.in_(chunk)))
            found.update((r.uuid, row_to_asset(r)) for r in rows)
        return found

    def uuids_of_paths(self, paths: Sequence[str]) -> dict[str, str]:
        """path -> uuid of the assets at these paths."""
        found: dict[str, str] = {}
        wanted = list(dict.fromkeys(paths))
        for start in range(0, len(wanted), IN_LIST_CHUNK):
            chunk = wanted[start : start + IN_LIST_CHUNK]
            query = select(assets.c.path, assets.c.uuid).where(assets.c.path.in_(chunk))
            found.update((r.path, r.uuid) for r in self.conn.execute(query))
        return found

    def existing_uuids(self, uuids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        wanted = list(dict.fromkeys(uuids))
        for start in range(0, len(wanted), IN_LIST_CHUNK):
            chunk = wanted[start : start + IN_LIST_CHUNK]
            query = select(assets.c.uuid).where(assets.c.uuid.in_(chunk))
            found.update(r.uuid for r in self.conn.execute(query))
        return found

    def insert(self, asset: Asset) -> Asset:
        """Insert and return the asset with its id; WriteConflict when another writer took
        the path meanwhile (only writers that skip the path lock get there)."""
        try:
            result = self.conn.execute(insert(assets).values(**_values(asset)))
        except IntegrityError:
            raise WriteConflict(
                f"another writer created an asset at '{asset.path}' at the same time",
                [FieldError("path", "created concurrently", "write-conflict")],
            ) from None
        key = result.inserted_primary_key
        return replace(asset, id=key[0] if key else None)

    def update(self, asset: Asset, expected_version: int) -> bool:
        """Write the asset if its stored version is still `expected_version`."""
        values = _values(asset)
        del values["uuid"], values["created_at"]
        try:
            result = self.conn.execute(
                update(assets)
                .where(assets.c.uuid == asset.uuid, assets.c.version == expected_version)
                .values(**values)
            )
        except IntegrityError:
            # A move raced another writer to the same path.
            raise WriteConflict(
                f"another writer took the asset path '{asset.path}' at the same time",
                [FieldError("path", "taken concurrently", "write-conflict")],
            ) from None
        return result.rowcount == 1

    def delete(self, asset: Asset) -> None:
        self.conn.execute(delete(assets).where(assets.c.uuid == asset.uuid))

    def list_page(
        self, folder: str, first: int, after: str | None
    ) -> tuple[list[Asset], int, str | None]:
        """Assets in `folder` and below by path, `first` of them after the cursor `after`;
        with the total and the next page's cursor (None on the last page)."""
        condition = in_folder(folder)
        total = self.conn.execute(
            select(func.count()).select_from(assets).where(condition)
        ).scalar_one()
        query = _SELECT.where(condition)
        if after is not None:
            query = query.where(assets.c.path > decode_cursor(after))
        rows = self.conn.execute(query.order_by(assets.c.path).limit(first + 1)).all()
        items = [row_to_asset(r) for r in rows[:first]]
        cursor = encode_cursor(items[-1].path) if len(rows) > first and items else None
        return items, total, cursor

    def find_by_source(self, source: str) -> Asset | None:
        row = self.conn.execute(
            _SELECT.where(assets.c.source == source).order_by(assets.c.id).limit(1)
        ).first()
        return row_to_asset(row) if row else None

    def referrer_classes(self, uuid: str) -> set[str]:
        """The classes of the objects referring to the asset `uuid`."""
        query = (
            select(objects.c.class_name)
            .join(object_references, objects.c.id == object_references.c.source_id)
            .where(object_references.c.target_uuid == uuid)
            .distinct()
        )
        return set(self.conn.execute(query).scalars())

    def held_checksums(self, checksums: Collection[str]) -> set[str]:
        """Which of these contents some asset holds: one IN query per IN_LIST_CHUNK."""
        found: set[str] = set()
        wanted = sorted(set(checksums))
        for start in range(0, len(wanted), IN_LIST_CHUNK):
            chunk = wanted[start : start + IN_LIST_CHUNK]
            query = select(assets.c.checksum).where(assets.c.checksum.in_(chunk)).distinct()
            found.update(r.checksum for r in self.conn.execute(query))
        return found

    def count_with_checksum(self, checksum: str) -> int:
        """How many assets hold this content."""
        return self.conn.execute(
            select(func.count()).select_from(assets).where(assets.c.checksum == checksum)
        ).scalar_one()
