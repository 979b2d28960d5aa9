"""Saved grid views (ui_saved_views); each call is its own short transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from pimhub.catalog.errors import WriteConflict
from pimhub.storage.engine import begin_write
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


class SqlSavedViewRepository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def for_user(self, user_id: int, class_name: str) -> list[SavedView]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(views)
                .where(views.c.user_id == user_id, views.c.class_name == class_name)
                .order_by(views.c.name, views.c.id)
            )
            return [_view(r) for r in rows]

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
