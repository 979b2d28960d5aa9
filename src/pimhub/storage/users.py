"""User and session rows; each call is its own short transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from pimhub.catalog.errors import DuplicateKey, WriteConflict
from pimhub.storage.engine import begin_write
from pimhub.storage.point_reads import PointReader
from pimhub.storage.tables import ui_sessions, users
from pimhub.users.model import LastAdmin, Role, Session, User

_USER_COLUMNS = (
    users.c.id,
    users.c.username,
    users.c.display_name,
    users.c.role,
    users.c.created_at,
    users.c.password_changed_at,
    users.c.disabled_at,
)


def _user(row: Any) -> User:
    return User(
        id=row.id,
        username=row.username,
        display_name=row.display_name,
        role=Role(row.role),
        created_at=row.created_at,
        password_changed_at=row.password_changed_at,
        disabled_at=row.disabled_at,
    )


class SqlUserRepository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(
        self, username: str, display_name: str, role: Role, password_hash: str, at: datetime
    ) -> User:
        taken = DuplicateKey(f"a user named '{username}' exists already")
        try:
            with begin_write(self.engine) as conn:
                if conn.execute(select(users.c.id).where(users.c.username == username)).first():
                    raise taken
                new_id = conn.execute(
                    insert(users)
                    .values(
                        username=username,
                        display_name=display_name,
                        role=role.value,
                        password_hash=password_hash,
                        created_at=at,
                        password_changed_at=at,
                    )
                    .returning(users.c.id)
                ).scalar_one()
        except (IntegrityError, WriteConflict) as exc:
            # A parallel add of the same name got in first; any other lost race stays what
            # it is (retryable), never a duplicate that is not there.
            if self.find(username) is not None:
                raise taken from exc
            if isinstance(exc, WriteConflict):
                raise
            raise WriteConflict("another write got in the way; nothing was saved") from exc
        user = self.get(new_id)
        assert user is not None
        return user

    def find(self, username: str) -> tuple[User, str] | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(*_USER_COLUMNS, users.c.password_hash).where(users.c.username == username)
            ).first()
        return (_user(row), row.password_hash) if row else None

    def get(self, user_id: int) -> User | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(*_USER_COLUMNS).where(users.c.id == user_id)).first()
        return _user(row) if row else None

    def all(self) -> list[User]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(*_USER_COLUMNS).order_by(users.c.username))
            return [_user(r) for r in rows]

    def set_password(self, user_id: int, password_hash: str, at: datetime) -> None:
        self._set(user_id, password_hash=password_hash, password_changed_at=at)

    def rehash(self, user_id: int, old_hash: str, new_hash: str) -> bool:
        with begin_write(self.engine) as conn:
            changed = conn.execute(
                update(users)
                .where(users.c.id == user_id, users.c.password_hash == old_hash)
                .values(password_hash=new_hash)
            ).rowcount
        return bool(changed)

    def set_disabled(self, user_id: int, at: datetime | None, *, keep_an_admin: bool) -> None:
        self._set(user_id, keep_an_admin=keep_an_admin, disabled_at=at)

    def set_role(self, user_id: int, role: Role, *, keep_an_admin: bool) -> None:
        self._set(user_id, keep_an_admin=keep_an_admin, role=role.value)

    def _set(self, user_id: int, *, keep_an_admin: bool = False, **values: Any) -> None:
        with begin_write(self.engine) as conn:
            if keep_an_admin:
                _refuse_last_admin(conn, user_id)
            conn.execute(update(users).where(users.c.id == user_id).values(**values))


def _refuse_last_admin(conn: Connection, user_id: int) -> None:
    """LastAdmin when `user_id` is the only active admin. The active admins' rows are locked
    (PostgreSQL; SQLite's write lock covers the database), so two admins demoting each other
    at once cannot both succeed: the second sees the first's change once it commits."""
    admins = (
        conn.execute(
            select(users.c.id)
            .where(users.c.role == Role.ADMIN.value, users.c.disabled_at.is_(None))
            .order_by(users.c.id)
            .with_for_update()
        )
        .scalars()
        .all()
    )
    if admins == [user_id]:
        raise LastAdmin(
            "this is the last active administrator: make another user an administrator "
            "first, or the hub would have nobody who may manage users"
        )


# Every admin page looks its session up, so that is a point read (see point_reads.py).
_FIND_SESSION = (
    "SELECT s.token_hash, s.user_id, s.csrf_token, s.created_at, s.last_seen_at, s.expires_at, "
    "u.id, u.username, u.display_name, u.role, u.created_at, u.password_changed_at, "
    "u.disabled_at FROM ui_sessions AS s JOIN users AS u ON u.id = s.user_id "
    "WHERE s.token_hash = %s"
)


class SqlSessionRepository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.reader = PointReader(engine)
        self._find = self.reader.sql(_FIND_SESSION)

    def add(self, session: Session) -> None:
        with begin_write(self.engine) as conn:
            conn.execute(
                insert(ui_sessions).values(
                    token_hash=session.token_hash,
                    user_id=session.user_id,
                    csrf_token=session.csrf_token,
                    created_at=session.created_at,
                    last_seen_at=session.last_seen_at,
                    expires_at=session.expires_at,
                )
            )

    def find(self, token_hash: str) -> tuple[Session, User] | None:
        # The memo is emptied by any commit (a touch, a sign-out, a disabled user), so a
        # remembered row is never stale; the service checks the times on every call.
        memo = self.reader.memo()
        if memo is not None and (hit := memo.get(token_hash)) is not None:
            remembered: tuple[Session, User] = hit
            return remembered
        row = self.reader.first(self._find, [token_hash])
        if row is None:
            return None
        utc, utc_or_none = self.reader.utc, self.reader.utc_or_none
        session = Session(
            token_hash=row[0],
            user_id=row[1],
            csrf_token=row[2],
            created_at=utc(row[3]),
            last_seen_at=utc(row[4]),
            expires_at=utc(row[5]),
        )
        user = User(
            id=row[6],
            username=row[7],
            display_name=row[8],
            role=Role(row[9]),
            created_at=utc(row[10]),
            password_changed_at=utc(row[11]),
            disabled_at=utc_or_none(row[12]),
        )
        if memo is not None:
            memo[token_hash] = (session, user)
        return session, user

    def touch(self, token_hash: str, at: datetime, expires_at: datetime) -> None:
        with begin_write(self.engine) as conn:
            conn.execute(
                update(ui_sessions)
                .where(ui_sessions.c.token_hash == token_hash)
                .values(last_seen_at=at, expires_at=expires_at)
            )

    def delete(self, token_hash: str) -> None:
        with begin_write(self.engine) as conn:
            conn.execute(delete(ui_sessions).where(ui_sessions.c.token_hash == token_hash))

    def delete_for_user(self, user_id: int, keep: str | None = None) -> int:
        condition = ui_sessions.c.user_id == user_id
        if keep is not None:
            condition &= ui_sessions.c.token_hash != keep
        with begin_write(self.engine) as conn:
            return conn.execute(delete(ui_sessions).where(condition)).rowcount

    def delete_expired(self, now: datetime) -> int:
        with begin_write(self.engine) as conn:
            return conn.execute(delete(ui_sessions).where(ui_sessions.c.expires_at <= now)).rowcount
