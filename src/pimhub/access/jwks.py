"""The OIDC issuer's signing keys (its JWK Set), fetched, cached and kept through outages.

PyJWT's PyJWKClient is not used: it fetches with urllib on the calling thread, which on
SQLite is the event loop (api/auth.point_read), forgets its cache when a fetch fails, and
knows no discovery. Here:

- the set is fetched under a short timeout by the `fetch` given (api/jwks_fetch.py), from
  `jwks_url` or from the `jwks_uri` of the issuer's discovery document;
- a set older than `ttl` keeps serving while a background thread fetches the next one;
- a key id the set lacks triggers one refetch, at most once per `refetch_interval`;
- when a fetch fails, the last good set stays in use;
- on a thread running an event loop nothing waits for the network: the fetch goes to a
  background thread and the caller gets `KeysUnavailable` (503, retry in a second).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import jwt
import structlog

from pimhub.catalog.errors import Unavailable

log = structlog.get_logger("pimhub.oidc")

# Key types that verify signatures with a public key. "oct" (a shared secret) is never
# taken from a key set: it would turn the published set into signing material.
_PUBLIC_KEY_TYPES = frozenset({"RSA", "EC", "OKP"})
_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})

Fetch = Callable[[str, float], Any]


class KeysUnavailable(Unavailable):
    """The issuer's key set cannot be had now (never fetched, or being fetched)."""

    code = "oidc-keys-unavailable"
    title = "Sign-in keys unavailable"
    retry_after = 1


class UnknownKeyId(Exception):
    """The key set, fetched at `fetched_at` (epoch seconds), has no usable key `kid`."""

    def __init__(self, kid: str | None, fetched_at: float) -> None:
        super().__init__(kid)
        self.kid = kid
        self.fetched_at = fetched_at


class FetchFailed(Exception):
    """A discovery document or key set could not be fetched or read."""


@dataclass(frozen=True, slots=True)
class KeySet:
    """Usable signing keys by key id, as fetched at `fetched_at` (epoch seconds)."""

    keys: dict[str, dict[str, Any]]
    fetched_at: float
    url: str
    # Members left out and why (shown by `pimhub oidc status`).
    skipped: tuple[str, ...] = ()

    def only_key(self) -> dict[str, Any] | None:
        """The single key of a one-key set, for tokens that name no `kid`."""
        return next(iter(self.keys.values())) if len(self.keys) == 1 else None


@dataclass
class _State:
    current: KeySet | None = None
    # Monotonic time of the last fetch attempt (success or not), and its error.
    attempted_at: float | None = None
    error: str | None = None
    jwks_url: str | None = None
    # Monotonic time of the last refetch for a key id the set lacked.
    unknown_refetch_at: float | None = None
    refreshing: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


def require_https(url: str, what: str) -> None:
    """ValueError unless `url` is https (plain http only to a loopback host, for tests)."""
    parts = urlsplit(url)
    if parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in _LOOPBACK_HOSTS):
        return
    raise ValueError(f"{what} must be an https URL, got {url!r}")


def parse_key_set(document: Any, url: str, fetched_at: float) -> KeySet:
    """The usable signature keys of a JWK Set document; FetchFailed when it holds none."""
    members = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(members, list):
        raise FetchFailed(f"{url} is not a JWK Set (no 'keys' list)")
    keys: dict[str, dict[str, Any]] = {}
    skipped: list[str] = []
    for index, member in enumerate(members):
        if not isinstance(member, dict):
            continue
        label = str(member.get("kid") or f"#{index}")[:80]
        reason = _unusable(member)
        if reason:
            skipped.append(f"{label}: {reason}")
            continue
        keys[str(member.get("kid") or f"#{index}")] = member
    if not keys:
        raise FetchFailed(f"{url} holds no usable signing key ({'; '.join(skipped) or 'empty'})")
    return KeySet(keys, fetched_at, url, tuple(skipped))


def _unusable(member: dict[str, Any]) -> str | None:
    if member.get("kty") not in _PUBLIC_KEY_TYPES:
        return f"key type {member.get('kty')!r} is not a public signing key"
    if member.get("use", "sig") != "sig":
        return f"use {member.get('use')!r} is not sig"
    if "d" in member:
        return "a private key was published; it is ignored"
    try:
        jwt.PyJWK(member)  # parses the key material now, so a broken key is named here
    except jwt.PyJWTError as exc:
        return str(exc).split(":")[0]
    except (TypeError, ValueError, KeyError, AttributeError) as exc:  # numbers of odd types
        return f"unreadable key ({type(exc).__name__})"
    return None


def on_event_loop() -> bool:
    """Whether this thread runs an asyncio event loop (which must not wait for a fetch)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class JwksCache:
    """Where OidcVerifier finds a key by id. Thread-safe; see the module docstring.
    `fetch(url, timeout)` returns the JSON document or raises FetchFailed."""

    def __init__(
        self,
        *,
        issuer: str,
        jwks_url: str | None = None,
        ttl: float = 300.0,
        timeout: float = 5.0,
        refetch_interval: float = 60.0,
        fetch: Fetch,
        monotonic: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        require_https(issuer, "the OIDC issuer")
        if jwks_url:
            require_https(jwks_url, "the OIDC key set URL")
        self.issuer = issuer
        self.ttl = ttl
        self.timeout = timeout
        self.refetch_interval = refetch_interval
        self._fetch = fetch
        self._monotonic = monotonic
        self._wall_clock = wall_clock
        self._state = _State(jwks_url=jwks_url)
        self._fetched_mono = 0.0

    @property
    def current(self) -> KeySet | None:
        return self._state.current

    @property
    def last_error(self) -> str | None:
        return self._state.error

    @property
    def jwks_url(self) -> str | None:
        return self._state.jwks_url

    def key(self, kid: str | None) -> dict[str, Any]:
        """The JWK named `kid` (None: the only key of a one-key set). UnknownKeyId when the
        set lacks it even after a refetch; KeysUnavailable when no set can be had now."""
        current = self._state.current
        if current is not None and self._stale():
            self.refresh_in_background()
        found = _lookup(current, kid)
        if found is not None:
            return found
        if not self._may_fetch(unknown_kid=current is not None):
            # While the last fetch failed the hub cannot tell a key the issuer has just
            # rotated in from a forged one: 503, not an invalid token.
            if current is None or self._state.error is not None:
                raise KeysUnavailable(self._unavailable_detail())
            raise UnknownKeyId(kid, current.fetched_at)
        if current is not None:
            self._state.unknown_refetch_at = self._monotonic()
        if on_event_loop():
            self.refresh_in_background()
            raise KeysUnavailable(
                "the hub is fetching the sign-in issuer's signing keys"
                + (f" (the token's key id {kid!r} is not among those it has)" if current else "")
                + "; retry in a second"
            )
        self.refresh()
        current = self._state.current
        found = _lookup(current, kid)
        if found is not None:
            return found
        if current is None or self._state.error is not None:
            raise KeysUnavailable(self._unavailable_detail())
        raise UnknownKeyId(kid, current.fetched_at)

    def refresh(self) -> KeySet | None:
        """Fetch the set now (waits for a fetch already under way instead of starting a
        second). Returns the set in use afterwards; a failure keeps the previous one."""
        started = self._monotonic()
        with self._state.lock:
            if self._state.attempted_at is not None and self._state.attempted_at >= started:
                return self._state.current  # another thread fetched while this one waited
            self._fetch_locked()
        return self._state.current

    def refresh_in_background(self) -> None:
        """Start one fetch on a daemon thread unless one is running; never waits."""
        if not self._state.lock.acquire(blocking=False):
            return
        if self._state.refreshing:
            self._state.lock.release()
            return
        self._state.refreshing = True
        self._state.lock.release()
        threading.Thread(target=self._background, name="oidc-jwks-fetch", daemon=True).start()

    def _background(self) -> None:
        try:
            with self._state.lock:
                self._fetch_locked()
        finally:
            self._state.refreshing = False

    def _fetch_locked(self) -> None:
        self._state.attempted_at = self._monotonic()
        try:
            url = self._state.jwks_url or self._discover()
            self._state.jwks_url = url
            document = self._fetch(url, self.timeout)
            self._state.current = parse_key_set(document, url, self._wall_clock())
            self._fetched_mono = self._monotonic()
            self._state.error = None
        except FetchFailed as exc:
            # The previous set stays: tokens signed with known keys keep working while the
            # issuer is down. The error (an internal URL, an exception's text) goes to the
            # log and `pimhub oidc status`, never to an anonymous caller.
            self._state.error = str(exc)
            log.warning("oidc_keys_fetch_failed", issuer=self.issuer, error=str(exc))

    def _discover(self) -> str:
        url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
        document = self._fetch(url, self.timeout)
        if not isinstance(document, dict) or not isinstance(document.get("jwks_uri"), str):
            raise FetchFailed(f"{url} names no jwks_uri")
        # OpenID Connect Discovery 1.0, section 4.3: the document must name this issuer.
        named = str(document.get("issuer"))[:200]
        if named != self.issuer:
            raise FetchFailed(f"{url} names the issuer {named!r}, not {self.issuer!r}")
        jwks_uri: str = document["jwks_uri"]
        try:
            require_https(jwks_uri, "the discovered jwks_uri")
        except ValueError as exc:
            raise FetchFailed(str(exc)) from None
        return jwks_uri

    def _stale(self) -> bool:
        now = self._monotonic()
        attempted = self._state.attempted_at
        # After a failed refresh the stale set is used a while longer before trying again.
        return now - self._fetched_mono >= self.ttl and (
            attempted is None or now - attempted >= min(self.refetch_interval, self.ttl)
        )

    def _may_fetch(self, *, unknown_kid: bool) -> bool:
        """Whether a fetch may start now. A key id the set lacks refetches at most once per
        refetch_interval (random key ids must not make the hub hammer the issuer); with no
        set at all every token fails, so that retries after a few seconds."""
        now = self._monotonic()
        if unknown_kid:
            last = self._state.unknown_refetch_at
            return last is None or now - last >= self.refetch_interval
        attempted = self._state.attempted_at
        return attempted is None or now - attempted >= min(5.0, self.refetch_interval)

    def _unavailable_detail(self) -> str:
        # Generic on purpose: the caller may be anonymous; the reason is logged at the fetch.
        return "the sign-in issuer's keys cannot be fetched now; retry shortly"


def _lookup(current: KeySet | None, kid: str | None) -> dict[str, Any] | None:
    if current is None:
        return None
    if kid is None:
        return current.only_key()
    found = current.keys.get(kid)
    # Members without a kid are filed under "#<index>", which a token's kid must not reach.
    return found if found is not None and found.get("kid") == kid else None
