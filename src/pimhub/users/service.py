"""Creating users, signing them in and keeping their sessions."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from pimhub.access.audit import Auditor
from pimhub.catalog.clock import utc_now
from pimhub.catalog.errors import Conflict, FieldError, InvalidInput, NotFound, Unauthorized
from pimhub.users.model import (
    MAX_PASSWORD,
    MIN_PASSWORD,
    USERNAME,
    LastAdmin,
    Role,
    Session,
    User,
)

__all__ = ["LastAdmin", "SessionLookup", "UserService"]
from pimhub.users.passwords import Passwords

# Seeing a session on every page would make each page view a write; once a minute is
# precise enough for the idle timeout.
TOUCH_RESOLUTION = timedelta(seconds=60)
MAX_DISPLAY_NAME = 128


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
    def rehash(self, user_id: int, old_hash: str, new_hash: str) -> bool:
        """Replaces the hash only while it is still `old_hash` (a password changed in the
        meantime wins); whether it did."""
        ...

    def set_disabled(self, user_id: int, at: datetime | None, *, keep_an_admin: bool) -> None:
        """Raises LastAdmin when `keep_an_admin` and the user is the last active admin being
        disabled; the check and the write are one transaction."""
        ...

    def set_role(self, user_id: int, role: Role, *, keep_an_admin: bool) -> None:
        """As set_disabled, for taking the admin role from the last active admin."""
        ...


class SessionRepository(Protocol):
    def add(self, session: Session) -> None: ...
    def find(self, token_hash: str) -> tuple[Session, User] | None: ...
    def touch(self, token_hash: str, at: datetime, expires_at: datetime) -> None: ...
    def delete(self, token_hash: str) -> None: ...
    def delete_for_user(self, user_id: int, keep: str | None = None) -> int: ...
    def delete_expired(self, now: datetime) -> int: ...


@dataclass(frozen=True, slots=True)
class SessionLookup:
    """What `UserService.look_up` found: the live session and its user (None when there is
    none, or it has ended), and the write due: `end` the session `token_hash`, or `touch` it
    (seen at, new expiry). `due` says whether there is one."""

    found: tuple[Session, User] | None
    token_hash: str | None = None
    end: bool = False
    touch: tuple[datetime, datetime] | None = None

    @property
    def due(self) -> bool:
        return self.end or self.touch is not None


NOT_FOUND = SessionLookup(None)


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
        audit: Auditor | None = None,
    ) -> None:
        self.audit = audit  # records each change after it committed (never a password)
        self.users = users
        self.sessions = sessions
        self.passwords = passwords
        self.idle = idle
        self.absolute = absolute
        self.clock = clock
        # Verified against when the username is unknown, so timing does not tell which exist;
        # made on first use (a hash costs tens of milliseconds, and most processes never ask).
        self._dummy_hash: str | None = None
        # Sessions whose touch or end is being written right now (see settle).
        self._settling: set[str] = set()

    # -- users ---------------------------------------------------------------------------

    def create(
        self, username: str, password: str, role: Role | str, display_name: str = ""
    ) -> User:
        name = _username(username)
        _check_password(password)
        user = self.users.add(
            name,
            _display_name(display_name) or name,
            _role(role),
            self.passwords.hash(password),
            self.clock(),
        )
        self._record("created", None, user)
        return user

    def _record(self, verb: str, before: User | None, after: User) -> None:
        if self.audit is not None:
            self.audit.record(
                f"user.{verb}",
                "user",
                after.username,
                before=_audited(before) if before else None,
                after=_audited(after),
            )

    def all(self) -> list[User]:
        return self.users.all()

    def get(self, username: str) -> User:
        found = self._find(username)
        if found is None:
            shown = username[:80].encode("unicode_escape").decode()
            raise NotFound(f"no user '{shown}'")
        return found[0]

    def _find(self, username: str) -> tuple[User, str] | None:
        """A name that could never have been created is looked up nowhere (a NUL or a huge
        value must not reach the database)."""
        name = username.strip().lower()
        return self.users.find(name) if USERNAME.fullmatch(name) else None

    def disable(self, username: str, *, by: str | None = None) -> User:
        """Disables the user and ends every session they have, at once. Refused for the last
        active admin, and for `by` (the user asking) themselves."""
        user = self.get(username)
        if by is not None and by == user.username:
            raise Conflict(
                "you cannot disable your own account; another administrator can",
                [FieldError("username", "is you")],
            )
        if user.disabled_at is None:
            self.users.set_disabled(user.id, self.clock(), keep_an_admin=True)
        self.sessions.delete_for_user(user.id)
        after = self.get(username)
        self._record("disabled", user, after)
        return after

    def enable(self, username: str) -> User:
        user = self.get(username)
        self.users.set_disabled(user.id, None, keep_an_admin=False)
        after = self.get(username)
        self._record("enabled", user, after)
        return after

    def set_role(self, username: str, role: Role | str) -> User:
        """A role takes effect on the user's next request (sessions read it every time).
        Taking admin from the last active admin is refused."""
        new = _role(role)
        user = self.get(username)
        self.users.set_role(user.id, new, keep_an_admin=new != Role.ADMIN)
        after = self.get(username)
        self._record("role_changed", user, after)
        return after

    def set_password(
        self, username: str, password: str, *, keep_session: str | None = None
    ) -> User:
        """New password; every other session of the user ends (`keep_session`: a token)."""
        _check_password(password)
        user = self.get(username)
        self.users.set_password(user.id, self.passwords.hash(password), self.clock())
        self.sessions.delete_for_user(user.id, token_hash(keep_session) if keep_session else None)
        after = self.get(username)
        self._record("password_changed", user, after)
        return after

    # -- signing in --------------------------------------------------------------------------

    def authenticate(self, username: str, password: str) -> User:
        """The active user with this password, or Unauthorized (one message for every cause
        but a disabled account, so a guess does not learn which usernames exist)."""
        usable = len(password) <= MAX_PASSWORD and _encodable(password)
        found = self._find(username) if usable else None
        if self._dummy_hash is None:
            self._dummy_hash = self.passwords.hash(secrets.token_urlsafe(16))
        # An unknown name costs the same hash as a known one, so timing does not tell them apart.
        stored_or_dummy = found[1] if found else self._dummy_hash
        ok = self.passwords.verify(stored_or_dummy, password[:MAX_PASSWORD] if usable else "")
        if found is None or not ok:
            raise Unauthorized("the username or the password is not right")
        user, stored = found
        if user.disabled_at is not None:
            raise Unauthorized("this account is disabled; ask an administrator")
        if self.passwords.needs_rehash(stored):
            # Stronger settings since the hash was made: the password is at hand only now.
            self.users.rehash(user.id, stored, self.passwords.hash(password))
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
        self.sessions.delete_expired(now)  # sign-ins are rare: a fair moment to tidy up
        return session, token

    def session(self, token: str | None) -> tuple[Session, User] | None:
        """The live session behind a cookie token and its (active) user, or None; ends an
        expired session and touches a live one when due (`look_up`, then `settle`)."""
        lookup = self.look_up(token)
        self.settle(lookup)
        return lookup.found

    def look_up(self, token: str | None) -> SessionLookup:
        """Reads only: the live session behind a cookie token, and the write it calls for
        (ending it, or a touch), which `settle` does. Split so that a server can read on its
        event loop and write elsewhere: a write may wait on another writer's lock."""
        if not token or len(token) > 128:
            return NOT_FOUND
        found = self.sessions.find(token_hash(token))
        if found is None:
            return NOT_FOUND
        session, user = found
        now = self.clock()
        # The limits as configured now, not only as stored: lowered settings (after an
        # incident, say) apply to sessions that already exist.
        expired = (
            session.expires_at <= now
            or session.last_seen_at + self.idle <= now
            or session.created_at + self.absolute <= now
        )
        if expired or user.disabled_at is not None:
            return SessionLookup(None, session.token_hash, end=True)
        if now - session.last_seen_at >= TOUCH_RESOLUTION:
            expires = min(now + self.idle, session.created_at + self.absolute)
            return SessionLookup(found, session.token_hash, touch=(now, expires))
        return SessionLookup(found)

    def settle(self, lookup: SessionLookup) -> None:
        """Does the write `lookup` calls for, if any. Requests arriving together may all find
        the same touch due; one of them writes it."""
        token = lookup.token_hash
        if token is None or token in self._settling:
            return
        self._settling.add(token)
        try:
            if lookup.end:
                self.sessions.delete(token)
            elif lookup.touch is not None:
                self.sessions.touch(token, *lookup.touch)
        finally:
            self._settling.discard(token)

    def end_session(self, token: str | None) -> None:
        if token and len(token) <= 128:
            self.sessions.delete(token_hash(token))

    @staticmethod
    def csrf_matches(session: Session, given: str | None) -> bool:
        # Compared as bytes: compare_digest refuses non-ASCII str with a TypeError.
        if not given:
            return False
        return hmac.compare_digest(
            session.csrf_token.encode(), given.encode("utf-8", "surrogatepass")
        )


def _audited(user: User) -> dict[str, Any]:
    """What the audit log keeps of a user: never the password or its hash."""
    return {
        "username": user.username,
        "displayName": user.display_name,
        "role": user.role.value,
        "createdAt": user.created_at.isoformat(),
        "passwordChangedAt": user.password_changed_at.isoformat(),
        "disabledAt": user.disabled_at.isoformat() if user.disabled_at else None,
    }


def _username(raw: str) -> str:
    name = raw.strip()
    # Checked before lower(): some non-ASCII letters lower to ASCII ones (KELVIN SIGN to k).
    name = name.lower() if name.isascii() else name
    if not USERNAME.fullmatch(name):
        raise InvalidInput(
            "a username is 1 to 64 characters: lower-case letters, digits, '.', '_', '@' or '-', "
            "starting with a letter or digit",
            [FieldError("username", f"got {raw[:80]!r}")],
        )
    return name


def _display_name(raw: str) -> str:
    name = " ".join(raw.split())  # tabs and newlines too: a name is one line
    problem = None
    if len(name) > MAX_DISPLAY_NAME:
        problem = f"at most {MAX_DISPLAY_NAME} characters"
    elif any(ord(c) < 32 or ord(c) == 127 for c in name) or not _encodable(name):
        problem = "no control characters"
    if problem:
        raise InvalidInput(f"a display name needs {problem}", [FieldError("display_name", problem)])
    return name


def _encodable(text: str) -> bool:
    """Whether `text` is valid Unicode (lone surrogates, as from undecodable bytes, are not)."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _check_password(password: str) -> None:
    problem = None
    if len(password) < MIN_PASSWORD:
        problem = f"at least {MIN_PASSWORD} characters"
    elif len(password) > MAX_PASSWORD:
        problem = f"at most {MAX_PASSWORD} characters"
    elif "\x00" in password:
        problem = "no NUL characters"
    elif not _encodable(password):
        problem = "valid Unicode text"
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
