"""AccessGuard: rate limits and network allowlists, before any route runs.

Per request: the client address's bucket first (scope["client"]; behind a trusted proxy
uvicorn puts the real client there, see settings.forwarded_allow_ips), then, when a token
came (api.auth.credentials: Authorization: Bearer, X-API-Key, ?apikey= on GraphQL), the
principal once: its allowlist, its bucket, the audit log's actor. This is the only place that
authenticates: what it decided (api.auth.Authentication: the principal, or the error, a 401
for no credentials too) is kept in the request state, and api.auth.api_key and the bare
routes use only that. A request without a principal goes on to its route, which raises the
error in its own shape (a problem, a GraphQL error) if it needs one; the request still
counted against the address. Credentials sent twice, or two different ones, are refused 400
`ambiguous-credentials`.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

import orjson
import structlog
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pimhub.access.audit import acting_as
from pimhub.access.keys import ApiKey
from pimhub.access.rate_limits import Rate, RateLimiter
from pimhub.api.auth import AUTHENTICATION, AmbiguousCredentials, Authentication, credentials
from pimhub.api.errors import problem
from pimhub.api.graphql.errors import request_error
from pimhub.bootstrap import Hub
from pimhub.catalog.errors import CatalogError

RATE_LIMITED = "rate-limited"
ADDRESS_NOT_ALLOWED = "address-not-allowed"
AMBIGUOUS_CREDENTIALS = "ambiguous-credentials"
EXPIRY_HEADER = b"pimhub-key-expires"
# Probes answer whatever the traffic: a limited health check would take a busy instance
# out of its load balancer.
UNLIMITED = ("/healthz", "/readyz")
_GRAPHQL = "/graphql/"
_INBOUND = "/inbound/"
log = structlog.get_logger("pimhub.guard")


@dataclass(frozen=True, slots=True)
class Refusal:
    status: int  # 429 or 403
    code: str
    title: str
    detail: str
    retry_after: int = 0
    rate: Rate | None = None
    field: str = "request"


@dataclass(frozen=True, slots=True)
class Admission:
    """What the checks found: a refusal, or the principal, or why there is none (the
    error the route raises if it needs a principal)."""

    key: ApiKey | None = None
    refusal: Refusal | None = None
    error: Exception | None = None


class AccessGuard:
    """Pure ASGI middleware; with the memory store on SQLite everything runs on the loop
    (a few microseconds), otherwise the checks make one trip to the thread pool."""

    def __init__(self, app: ASGIApp, hub: Hub) -> None:
        self.app = app
        self.hub = hub
        self.limiter: RateLimiter = hub.limiter
        self.warning = timedelta(days=hub.settings.key_expiry_warning_days)
        # Authentication's reads run on the loop on SQLite (api.auth.point_read): the checks
        # may too unless the limiter's store waits on the network.
        self.on_loop = hub.engine.dialect.name == "sqlite" and not self.limiter.blocking

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNLIMITED:
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        address = client[0] if client else None
        ambiguous: AmbiguousCredentials | None = None
        try:
            token = credentials(scope)
        except AmbiguousCredentials as exc:
            token, ambiguous = None, exc
        # A JWT (an OIDC token) may need the issuer's keys fetched: never on the loop.
        if self.on_loop and (token is None or token.count(".") != 2):
            admission = self.admit(address, token)
        else:
            admission = await run_in_threadpool(self.admit, address, token)
        # Which of two credentials counts is not for a guess to decide. The inbound route
        # refuses (and audits) repeated headers itself. The address still counted.
        inbound = scope["path"].startswith(_INBOUND)
        if ambiguous is not None and admission.refusal is None and not inbound:
            admission = Admission(refusal=_ambiguous(ambiguous))
        if admission.refusal is not None:
            await _refuse(scope, receive, send, admission.refusal)
            return
        key = admission.key
        state = scope.setdefault("state", {})
        state[AUTHENTICATION] = Authentication(key, admission.error)
        if key is None:
            await self.app(scope, receive, send)
            return
        expires = key.expires_at
        if expires is not None and expires - datetime.now(UTC) <= self.warning:
            send = _with_header(send, EXPIRY_HEADER, _iso(expires))
        with acting_as(actor_of(key)):
            await self.app(scope, receive, send)

    def admit(self, address: str | None, token: str | None) -> Admission:
        """The checks in order: address bucket, authentication, allowlist, principal bucket."""
        limiter = self.limiter
        if address is not None and (wait := limiter.take_address(address)):
            return Admission(refusal=_too_many(f"the address {address}", wait, limiter.per_address))
        try:
            key = self.hub.access.authenticate(token)  # Unauthorized for no token, no read
        except (CatalogError, PoolTimeout) as exc:
            # Kept for the route, which raises it in its surface's shape if it needs a
            # principal: a 401, or the 503 of an exhausted pool or out-of-reach OIDC keys.
            return Admission(error=exc)
        if key.allowed_networks and not address_allowed(address, key.allowed_networks):
            # The networks go to the log only: a refusal must not tell the holder of a
            # stolen key where it would work.
            log.warning(
                "guard.address_not_allowed",
                key=key.key_id,
                address=address,
                allowed=list(key.allowed_networks),
            )
            detail = (
                f"the key '{key.name}' ({key.key_id}) may not be used from the address "
                f"{address or '(unknown)'}"
            )
            return Admission(
                refusal=Refusal(403, ADDRESS_NOT_ALLOWED, "Address not allowed", detail)
            )
        if wait := limiter.take_principal(bucket_of(key), key.rate_limit):
            return Admission(
                refusal=_too_many(
                    f"the key '{key.name}' ({key.key_id})", wait, limiter.rate_of(key.rate_limit)
                )
            )
        return Admission(key=key)


def bucket_of(key: ApiKey) -> str:
    """The principal's bucket: `key:<id>` for API keys; OIDC (`oidc:<subject>`) and admin
    users (`user:<name>`) already carry their kind in their id."""
    return key.key_id if ":" in key.key_id else "key:" + key.key_id


def actor_of(key: ApiKey) -> str:
    """The audit log's name for a principal: `key:<id> (<name>)`, `oidc:<subject>`, ..."""
    return key.key_id if ":" in key.key_id else f"key:{key.key_id} ({key.name})"


def address_allowed(address: str | None, networks: tuple[str, ...]) -> bool:
    """Whether `address` lies in one of `networks` (CIDR strings); an address that is not
    an IP (a Unix socket, a test client) never does."""
    if address is None:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in network for network in _networks(networks))


@lru_cache(maxsize=1024)
def _networks(
    networks: tuple[str, ...],
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    parsed = []
    for text in networks:
        try:
            parsed.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            continue  # validated when saved; a bad entry allows nothing
    return tuple(parsed)


def _ambiguous(exc: AmbiguousCredentials) -> Refusal:
    field = ", ".join(exc.fields)
    return Refusal(400, AMBIGUOUS_CREDENTIALS, "Ambiguous credentials", exc.detail, field=field)


def _too_many(who: str, wait: float, rate: Rate | None) -> Refusal:
    seconds = max(1, math.ceil(wait))
    limit = f" of {rate}" if rate is not None else ""
    return Refusal(
        429,
        RATE_LIMITED,
        "Too many requests",
        f"too many requests from {who}: over the limit{limit}; retry after {seconds} s",
        retry_after=seconds,
        rate=rate,
    )


async def _refuse(scope: Scope, receive: Receive, send: Send, refusal: Refusal) -> None:
    headers: list[tuple[bytes, bytes]] = []
    if refusal.status == 429:
        headers.append((b"retry-after", str(refusal.retry_after).encode()))
        if refusal.rate is not None:
            # The RateLimit header fields as most clients read them: nothing left now,
            # and when the next request may come.
            headers += [
                (b"ratelimit-limit", str(refusal.rate.count).encode()),
                (b"ratelimit-remaining", b"0"),
                (b"ratelimit-reset", str(refusal.retry_after).encode()),
            ]
    if scope["path"].startswith(_GRAPHQL):
        # GraphQL clients read errors[].extensions.code (api.graphql.errors).
        code = {429: "RATE_LIMITED", 403: "FORBIDDEN"}.get(refusal.status, "BAD_REQUEST")
        body = orjson.dumps(request_error(refusal.detail, code))
        await send(
            {
                "type": "http.response.start",
                "status": refusal.status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    *headers,
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
        return
    response = problem(
        refusal.status,
        refusal.code,
        refusal.title,
        refusal.detail,
        [
            {
                "field": refusal.field,
                "code": refusal.code,
                "message": refusal.detail,
            }
        ],
        instance=scope["path"],
    )
    for name, value in headers:
        response.headers[name.decode()] = value.decode()
    await response(scope, receive, send)


def _with_header(send: Send, name: bytes, value: bytes) -> Send:
    async def send_with_header(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", ()), (name, value)]
        await send(message)

    return send_with_header


def _iso(moment: datetime) -> bytes:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z").encode()
