"""Creating users, signing them in and keeping their sessions."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

from pimhub.catalog.clock import utc_now
from pimhub.catalog.errors import FieldError, InvalidInput, NotFound, Unauthorized
from pimhub.users.model import MAX_PASSWORD, MIN_PASSWORD, USERNAME, Role, Session, User
from pimhub.users.passwords import Passwords

# Seeing a session on every page would make each page view a write; once a minute is
# precise enough for the idle timeout.
TOUCH_RESOLUTION = timedelta(seconds=60)


class UserRepository(Protocol):
    def add(
        self, username: str, display_name: str, role: Role, password_hash: str, at: datetime
    ) -> User:
        """Raises DuplicateKey when the username is taken."""
        ...

    def find(self, username: str) -> tuple[User, str] | None: ...
    def get(self, user_id: int) -> User | None: ...
    def all(self) -> list[User]: ...
    def set_password(self, user_id: int, password_hash: str, at: datetime) -> None: ...
    def set_disabled(self, user_id: int, at: datetime | None) -> None: ...
    def set_role(self, user_id: int, role: Role) -> None: ...


class SessionRepository(Protocol):
    def add(self, session: Session) -> None: ...
    def find(self, token_hash: str) -> tuple[Session, User] | None: ...
    def touch(self, token_hash: str, at: datetime, expires_at: datetime) -> None: ...
    def delete(self, token_hash: str) -> None: ...
    def delete_for_user(self, user_id: int, keep: str | None = None) -> int: ...
    def delete_expired(self, now: datetime) -> int: ...


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class UserService:
    def __init__(
        self,
        users: UserRepository,
        sessions: SessionRepository,
        passwords: Passwords,
        *,
        idle: timedelta = timedelta(hours=8),
        absolute: timedelta = timedelta(days=7),
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.users = users
        self.sessions = sessions
        self.passwords = passwords
        self.idle = idle
        self.absolute = absolute
        self.clock = clock
        # Verified against when the username is unknown, so timing does not tell which exist;
        # made on first use (a hash costs tens of milliseconds, and most processes never ask).
        self._dummy_hash: str | None = None

    # -- users ---------------------------------------------------------------------------

    def create(
        self, username: str, password: str, role: Role | str, display_name: str = ""
    ) -> User:
        name = _username(username)
        _check_password(password)
        return self.users.add(
            name,
            display_name.strip()[:128] or name,
            _role(role),
            self.passwords.hash(password),
            self.clock(),
        )

    def all(self) -> list[User]:
        return self.users.all()

    def get(self, username: str) -> User:
        found = self.users.find(username.strip().lower())
        if found is None:
            raise NotFound(f"no user '{username}'")
        return found[0]

    def disable(self, username: str) -> User:
        """Disables the user and ends every session they have, at once."""
        user = self.get(username)
        if user.disabled_at is None:
            self.users.set_disabled(user.id, self.clock())
        self.sessions.delete_for_user(user.id)
        return self.get(username)

    def enable(self, username: str) -> User:
        user = self.get(username)
        self.users.set_disabled(user.id, None)
        return self.get(username)

    def set_role(self, username: str, role: Role | str) -> User:
        user = self.get(username)
        self.users.set_role(user.id, _role(role))
        return self.get(username)

    def set_password(
        self, username: str, password: str, *, keep_session: str | None = None
    ) -> User:
        """New password; every other session of the user ends (`keep_session`: a token)."""
        _check_password(password)
        user = self.get(username)
        self.users.set_password(user.id, self.passwords.hash(password), self.clock())
        self.sessions.delete_for_user(user.id, token_hash(keep_session) if keep_session else None)
        return self.get(username)

    # -- signing in --------------------------------------------------------------------------

    def authenticate(self, username: str, password: str) -> User:
        """The active user with this password, or Unauthorized (one message for every cause
        but a disabled account, so a guess does not learn which usernames exist)."""
        found = self.users.find(username.strip().lower()) if len(password) <= MAX_PASSWORD else None
        if self._dummy_hash is None:
            self._dummy_hash = self.passwords.hash(secrets.token_urlsafe(16))
        stored_or_dummy = found[1] if found else self._dummy_hash
        ok = self.passwords.verify(stored_or_dummy, password[:MAX_PASSWORD])
        if found is None or not ok:
            raise Unauthorized("the username or the password is not right")
        user, stored = found
        if user.disabled_at is not None:
            raise Unauthorized("this account is disabled; ask an administrator")
        if self.passwords.needs_rehash(stored):
            self.users.set_password(
                user.id, self.passwords.hash(password), user.password_changed_at
            )
        return user

    def start_session(self, user: User) -> tuple[Session, str]:
        """A new session for `user`; returns it and the cookie token (shown only here)."""
        now = self.clock()
        token = secrets.token_urlsafe(32)
        session = Session(
            token_hash=token_hash(token),
            user_id=user.id,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            last_seen_at=now,
            expires_at=min(now + self.idle, now + self.absolute),
        )
        self.sessions.add(session)
        return session, token

    def session(self, token: str | None) -> tuple[Session, User] | None:
        """The live session behind a cookie token and its (active) user, or None."""
        if not token or len(token) > 128:
            return None
        found = self.sessions.find(token_hash(token))
        if found is None:
            return None
        session, user = found
        now = self.clock()
        if session.expires_at <= now or user.disabled_at is not None:
            self.sessions.delete(session.token_hash)
            return None
        if now - session.last_seen_at >= TOUCH_RESOLUTION:
            expires = min(now + self.idle, session.created_at + self.absolute)
            self.sessions.touch(session.token_hash, now, expires)
        return session, user

    def end_session(self, token: str | None) -> None:
        if token and len(token) <= 128:
            self.sessions.delete(token_hash(token))

    @staticmethod
    def csrf_matches(session: Session, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(session.csrf_token, given or "")


def _username(raw: str) -> str:
    name = raw.strip().lower()
    if not USERNAME.match(name):
        raise InvalidInput(
            "a username is 1 to 64 characters: lower-case letters, digits, '.', '_', '@' or '-', "
            "starting with a letter or digit",
            [FieldError("username", f"got {raw!r}")],
        )
    return name


def _check_password(password: str) -> None:
    problem = None
    if len(password) < MIN_PASSWORD:
        problem = f"at least {MIN_PASSWORD} characters"
    elif len(password) > MAX_PASSWORD:
        problem = f"at most {MAX_PASSWORD} characters"
    elif "\x00" in password:
        problem = "no NUL characters"
    if problem:
        raise InvalidInput(f"a password needs {problem}", [FieldError("password", problem)])


def _role(role: Role | str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise InvalidInput(
            f"'{role}' is not a role; use one of: {', '.join(r.value for r in Role)}",
            [FieldError("role", f"got {role!r}")],
        ) from None
