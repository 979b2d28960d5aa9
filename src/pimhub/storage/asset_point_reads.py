"""An asset by path in one statement on a pooled DBAPI connection, for GET /assets/{path}.

The file route is as hot as the product route: a unit of work and SQLAlchemy's statement
machinery cost about a millisecond per read on SQLite, several times the file's sending.
Like storage/point_reads.py, this runs hand-written SQL and decodes the row itself; on
SQLite the row is memoized per thread until anything commits (PRAGMA data_version), so a
changed asset is seen on the very next request.
"""

from __future__ import annotations

from sqlalchemy import Engine

from pimhub.assets.model import Asset
from pimhub.storage.assets import ASSET_COLUMNS_SQL, decode_asset
from pimhub.storage.point_reads import PointReader

_BY_PATH = f"SELECT {ASSET_COLUMNS_SQL} FROM assets WHERE path = %s"


class SqlAssetPointReads:
    def __init__(self, engine: Engine) -> None:
        self.reader = PointReader(engine)
        self._by_path = self.reader.sql(_BY_PATH)

    def get_by_path(self, path: str) -> Asset | None:
        """The asset at `path` (normalized), or None."""
        memo = self.reader.memo()
        if memo is not None and path in memo:
            found: Asset = memo[path]
            return found
        row = self.reader.first(self._by_path, (path,))
        if row is None:
            return None
        asset = decode_asset(row, self.reader.json, self.reader.utc)
        if memo is not None:
            memo[path] = asset
        return asset
