"""Saved grid views (ui_saved_views); each call is its own short transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from pimhub.catalog.errors import WriteConflict
from pimhub.storage.engine import begin_write
from pimhub.storage.point_reads import PointReader
from pimhub.storage.tables import ui_saved_views as views
from pimhub.users.views import SavedView


def _view(row: Any) -> SavedView:
    return SavedView(
        id=row.id,
        user_id=row.user_id,
        class_name=row.class_name,
        name=row.name,
        query=row.query,
        created_at=row.created_at,
    )


# Every grid page lists the user's views, so that is a point read (see point_reads.py).
_FOR_USER = (
    "SELECT id, user_id, class_name, name, query, created_at FROM ui_saved_views "
    "WHERE user_id = %s AND class_name = %s ORDER BY name, id"
)


class SqlSavedViewRepository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.reader = PointReader(engine)
        self._for_user = self.reader.sql(_FOR_USER)

    def for_user(self, user_id: int, class_name: str) -> list[SavedView]:
        # Remembered until anything is committed (SQLite; see PointReader.memo), so a view
        # saved or deleted, here or by another process, shows on the very next page.
        memo = self.reader.memo()
        if memo is not None and (hit := memo.get((user_id, class_name))) is not None:
            return list(hit)
        utc = self.reader.utc
        rows = self.reader.all(self._for_user, [user_id, class_name])
        found = tuple(
            SavedView(
                id=r[0], user_id=r[1], class_name=r[2], name=r[3], query=r[4], created_at=utc(r[5])
            )
            for r in rows
        )
        if memo is not None:
            memo[(user_id, class_name)] = found
        return list(found)

    def put(self, user_id: int, class_name: str, name: str, query: str, at: datetime) -> SavedView:
        mine = (views.c.user_id == user_id, views.c.class_name == class_name, views.c.name == name)
        for attempt in range(2):  # a parallel save of the same name: the second one updates
            try:
                with begin_write(self.engine) as conn:
                    found = conn.execute(select(views.c.id).where(*mine)).scalar()
                    if found is None:
                        conn.execute(
                            insert(views).values(
                                user_id=user_id,
                                class_name=class_name,
                                name=name,
                                query=query,
                                created_at=at,
                            )
                        )
                    else:
                        conn.execute(update(views).where(views.c.id == found).values(query=query))
                    row = conn.execute(select(views).where(*mine)).one()
                    return _view(row)
            except (IntegrityError, WriteConflict):
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def delete(self, user_id: int, view_id: int) -> bool:
        with begin_write(self.engine) as conn:
            gone = conn.execute(
                delete(views).where(views.c.id == view_id, views.c.user_id == user_id)
            )
            return bool(gone.rowcount)
