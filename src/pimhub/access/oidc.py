"""OIDC bearer tokens: a JWT from the configured issuer stands for a principal.

The token is checked with PyJWT against the issuer's published keys (access/jwks.py):
signature with an algorithm from the configuration only (never `none`, never HS*, whatever
the token's header says), issuer, audience, and exp/nbf/iat with some leeway. Its claims map
to hub scopes through `scope_claims`; the principal is an ApiKey with key id `oidc:<sub>`,
so every scope check of the hub applies unchanged.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import jwt
import structlog

from pimhub.access.jwks import UnknownKeyId
from pimhub.access.keys import ApiKey, parse_scopes
from pimhub.catalog.errors import InvalidInput, Unauthorized

OIDC_KEY_PREFIX = "oidc:"
# Asymmetric algorithms only: with HS* the issuer's public key, which anyone can fetch,
# would be accepted as the shared secret and anyone could sign tokens.
SIGNATURE_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
# A JWT of a real issuer is a few kilobytes; a bigger one is refused before it is parsed.
MAX_TOKEN_BYTES = 16 * 1024
# The audit log's actor column holds 200 characters: `oidc:` and the subject must fit.
MAX_SUBJECT_LENGTH = 128
_SHOWN = 120  # characters of a claim value quoted in a refusal
REMEMBER_SECONDS = 60.0
REMEMBERED_TOKENS = 4096

log = structlog.get_logger("pimhub.oidc")


class TokenRefused(Unauthorized):
    code = "invalid-token"
    title = "Invalid token"


class KeyLookup(Protocol):
    """The issuer's keys (access/jwks.JwksCache): the JWK with key id `kid`."""

    def key(self, kid: str | None) -> dict[str, Any]: ...

    @property
    def current(self) -> object:
        """The set in use; a new object whenever it is fetched again."""


@dataclass(frozen=True, slots=True)
class OidcConfig:
    issuer: str
    audience: str | None
    algorithms: tuple[str, ...]
    leeway_seconds: float = 60.0
    # {claim: {value: [scopes]}}; a dotted claim reaches into objects (realm_access.roles).
    scope_claims: Mapping[str, Mapping[str, Sequence[str]]] = field(default_factory=dict)
    name_claim: str = "preferred_username"

    def __post_init__(self) -> None:
        bad = [a for a in self.algorithms if a not in SIGNATURE_ALGORITHMS]
        if bad or not self.algorithms:
            raise ValueError(
                f"oidc_algorithms may not hold {', '.join(map(repr, bad)) or 'nothing'}; "
                f"use asymmetric ones: {', '.join(sorted(SIGNATURE_ALGORITHMS))} "
                "(none and HS* would let anyone sign tokens)"
            )
        for claim, values in self.scope_claims.items():
            for value, scopes in values.items():
                try:
                    parse_scopes(list(scopes))
                except InvalidInput as exc:
                    detail = "; ".join(e.message for e in exc.errors) or exc.detail
                    raise ValueError(f"oidc_scope_claims {claim}={value!r}: {detail}") from None


def require_audience(audience: str | None, profile: str) -> None:
    """Without an audience the `aud` claim is not checked, so a token the issuer signed for
    any of its applications would be accepted. Production refuses to start so; development
    goes on with a logged warning."""
    if audience:
        return
    if profile == "production":
        raise ValueError(
            "PIMHUB_OIDC_AUDIENCE is required in the production profile: without it tokens "
            "the issuer signed for any other application would be accepted"
        )
    log.warning(
        "oidc_no_audience",
        detail="PIMHUB_OIDC_AUDIENCE is not set: tokens issued for any application of the "
        "issuer are accepted (refused at start in the production profile)",
    )


def scopes_for(claims: Mapping[str, Any], config: OidcConfig) -> tuple[str, ...]:
    """The hub scopes the token's claims grant (empty when none match)."""
    granted: list[str] = []
    for claim, by_value in config.scope_claims.items():
        for value in _claim_values(claims, claim):
            granted.extend(by_value.get(value, ()))
    return parse_scopes(granted) if granted else ()


def _claim_values(claims: Mapping[str, Any], claim: str) -> list[str]:
    """A claim's values: a list's strings, or a string and its space-separated words (the
    OAuth `scope` claim is one string of scopes)."""
    value: Any = claims.get(claim)
    if value is None and "." in claim:
        value = claims
        for part in claim.split("."):
            value = value.get(part) if isinstance(value, dict) else None
    if isinstance(value, str):
        return list(dict.fromkeys([value, *value.split()]))
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


class OidcVerifier:
    """The TokenVerifier of AccessService for JWTs of one issuer."""

    def __init__(
        self, config: OidcConfig, keys: KeyLookup, clock: Callable[[], float] = time.time
    ) -> None:
        self.config = config
        self.keys = keys
        self.clock = clock
        self._loaded: dict[tuple[int, str], tuple[dict[str, Any], jwt.PyJWK]] = {}
        # token -> (remember until, the key set it was checked against, principal)
        self._verified: dict[str, tuple[float, object, ApiKey]] = {}

    def verify(self, token: str) -> ApiKey:
        """The principal `token` stands for, or TokenRefused (401) saying why; never echoes
        the token. KeysUnavailable (503) when the issuer's keys cannot be had now."""
        # A client sends the same token with every request while it lasts, and checking it
        # costs a few hundred microseconds (on the event loop, on SQLite). A verified token
        # is remembered for a minute at most, never past its exp, and forgotten when the
        # key set changes (a key the issuer withdrew stops working within the minute).
        now = self.clock()
        remembered = self._verified.get(token)
        if remembered is not None and now < remembered[0] and remembered[1] is self.keys.current:
            return remembered[2]
        key = self.principal(self.claims(token))
        if len(self._verified) >= REMEMBERED_TOKENS:
            self._verified.clear()
        until = now + REMEMBER_SECONDS
        if key.expires_at is not None:
            until = min(until, key.expires_at.timestamp())
        self._verified[token] = (until, self.keys.current, key)
        return key

    def claims(self, token: str) -> dict[str, Any]:
        """The verified claims of `token`, or TokenRefused."""
        if len(token) > MAX_TOKEN_BYTES:
            raise TokenRefused(f"the bearer token is longer than {MAX_TOKEN_BYTES} bytes")
        header = _header(token)
        alg = header.get("alg")
        if alg not in self.config.algorithms:
            raise TokenRefused(
                f"the token's algorithm {_shown(alg)} is not allowed; this hub accepts "
                f"{', '.join(self.config.algorithms)}"
            )
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise TokenRefused("the token's key id (kid) is not a string")
        return self._decode(token, alg, kid)

    def _decode(self, token: str, alg: str, kid: str | None) -> dict[str, Any]:
        try:
            jwk = self.keys.key(kid)
        except UnknownKeyId as exc:
            fetched = datetime.fromtimestamp(exc.fetched_at, UTC).isoformat(timespec="seconds")
            which = f"key id {_shown(kid)}" if kid else "no key id (kid), and the set has several"
            raise TokenRefused(
                f"unknown key id: the token names {which}; the issuer's key set "
                f"(fetched {fetched}) has no such key"
            ) from None
        if jwk.get("alg") not in (None, alg):
            raise TokenRefused(
                f"the token's algorithm {alg} does not match its key {_shown(kid)}, "
                f"which is for {_shown(jwk.get('alg'))}"
            )
        key = self._parsed(jwk, alg, kid)
        required = ["exp", "iat", "iss", "sub"] + (["aud"] if self.config.audience else [])
        try:
            return jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=self.config.audience,
                issuer=self.config.issuer,
                leeway=self.config.leeway_seconds,
                options={"require": required, "verify_aud": self.config.audience is not None},
            )
        except jwt.PyJWTError as exc:
            raise TokenRefused(self._reason(exc, token)) from None

    def _parsed(self, jwk: dict[str, Any], alg: str, kid: str | None) -> jwt.PyJWK:
        """The key ready for PyJWT; loading its numbers costs more than checking a
        signature, so each (key, algorithm) is loaded once per key set."""
        cache_key = (id(jwk), alg)
        cached = self._loaded.get(cache_key)
        if cached is not None and cached[0] is jwk:
            return cached[1]
        try:
            key = jwt.PyJWK(jwk, alg)
        except jwt.PyJWTError:
            raise TokenRefused(
                f"the token's algorithm {alg} does not fit its key {_shown(kid)} "
                f"(key type {_shown(jwk.get('kty'))})"
            ) from None
        if len(self._loaded) >= 64:  # keys of replaced sets
            self._loaded.clear()
        # The JWK itself is kept beside the key, so its id cannot be reused while cached.
        self._loaded[cache_key] = (jwk, key)
        return key

    def _reason(self, exc: jwt.PyJWTError, token: str) -> str:
        """Why PyJWT refused: claims are read unverified only to name them in the message,
        and only once the signature held (PyJWT checks it before any claim)."""
        signed = not isinstance(exc, jwt.DecodeError)
        claims = _unverified_claims(token) if signed else {}
        if isinstance(exc, jwt.ExpiredSignatureError):
            return f"the token expired at {_when(claims.get('exp'))}"
        if isinstance(exc, jwt.InvalidAudienceError):
            return (
                f"wrong audience: the token is for {_shown(claims.get('aud'))}, "
                f"this hub is {_shown(self.config.audience)}"
            )
        if isinstance(exc, jwt.InvalidIssuerError):
            return (
                f"issuer mismatch: the token was issued by {_shown(claims.get('iss'))}, "
                f"this hub accepts {_shown(self.config.issuer)}"
            )
        if isinstance(exc, jwt.ImmatureSignatureError):
            nbf = claims.get("nbf")
            if nbf is not None:
                return f"the token is not valid before {_when(nbf)}"
            return f"the token was issued in the future ({_when(claims.get('iat'))})"
        if isinstance(exc, jwt.MissingRequiredClaimError):
            return f"the token has no {exc.claim!r} claim"
        if isinstance(exc, jwt.InvalidSignatureError):
            return "the token's signature does not verify with the issuer's key"
        if isinstance(exc, jwt.InvalidAlgorithmError):
            return "the token's algorithm is not allowed"
        if isinstance(exc, jwt.DecodeError):
            return "the bearer token is not a well-formed JWT"
        return f"the token is not valid: {type(exc).__name__}"

    def principal(self, claims: Mapping[str, Any]) -> ApiKey:
        """The ApiKey standing for verified `claims`, or TokenRefused."""
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub or len(sub) > MAX_SUBJECT_LENGTH:
            raise TokenRefused(
                f"the token's subject (sub) must be a string of 1 to {MAX_SUBJECT_LENGTH} "
                "characters"
            )
        name = claims.get(self.config.name_claim)
        name = name[:128] if isinstance(name, str) and name.strip() else sub
        scopes = scopes_for(claims, self.config)
        if not scopes:
            mapped = ", ".join(sorted(self.config.scope_claims)) or "none configured"
            raise TokenRefused(
                f"no scopes mapped: the token of {_shown(name)} grants no hub scope "
                f"(claims mapped by oidc_scope_claims: {mapped})"
            )
        return ApiKey(
            key_id=OIDC_KEY_PREFIX + sub,
            name=name,
            environment="production",
            scopes=scopes,
            created_at=_datetime(claims.get("iat")) or datetime.now(UTC),
            expires_at=_datetime(claims.get("exp")),
            description=f"OIDC token of {self.config.issuer}",
        )


def _header(token: str) -> dict[str, Any]:
    """The JOSE header, read to pick the key. PyJWT's reader checks every character of the
    whole token first, which costs more than the signature; it reads the header again,
    strictly, when it verifies."""
    try:
        segment = token[: token.index(".")]
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, binascii.Error, RecursionError):  # RecursionError: nesting
        header = None
    if not isinstance(header, dict):
        raise TokenRefused("the bearer token is neither an API key nor a JWT")
    return header


def _unverified_claims(token: str) -> dict[str, Any]:
    try:
        claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    except (jwt.PyJWTError, RecursionError):
        return {}
    return claims


def unverified_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(header, claims) read WITHOUT checking anything, for `pimhub oidc inspect`."""
    try:
        header = jwt.get_unverified_header(token)
    except (jwt.PyJWTError, RecursionError):
        return {}, {}
    return header, _unverified_claims(token)


def _datetime(value: Any) -> datetime | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    return None


def _when(value: Any) -> str:
    at = _datetime(value)
    return at.isoformat(timespec="seconds") if at else _shown(value)


def _shown(value: Any) -> str:
    """A claim or header value quoted in a message, cut short: never a whole token."""
    if isinstance(value, Iterable) and not isinstance(value, str | bytes | dict):
        return ", ".join(_shown(v) for v in list(value)[:5])
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "…"
