"""An async Magento 2 REST client: OAuth 1.0a request signing, store-scoped URLs, error bodies
rendered into readable messages. It never retries: the delivery pipeline owns retry policy."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, Literal, Self, cast
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

import httpx
import orjson
from oauthlib.oauth1 import SIGNATURE_HMAC_SHA256, SIGNATURE_TYPE_AUTH_HEADER
from oauthlib.oauth1 import Client as OAuth1Signer

__all__ = [
    "MagentoClient",
    "MagentoCredentials",
    "MagentoError",
    "MagentoReply",
    "MagentoUnavailable",
    "parse_retry_after",
    "render_message",
    "search_criteria",
    "sku_path",
]

HttpMethod = Literal["GET", "PUT", "POST", "DELETE", "PATCH", "HEAD", "OPTIONS"]
_METHODS = frozenset(("GET", "PUT", "POST", "DELETE", "PATCH", "HEAD", "OPTIONS"))
_BODY_LIMIT = 4096
_TEXT_LIMIT = 500
_CREDENTIAL_KEYS = ("consumer_key", "consumer_secret", "access_token", "access_token_secret")


@dataclass(frozen=True, slots=True)
class MagentoCredentials:
    """The four integration credentials. Secrets stay out of repr so they never reach logs."""

    consumer_key: str
    consumer_secret: str = field(repr=False)
    access_token: str = field(repr=False)
    access_token_secret: str = field(repr=False)
    # Magento >= 2.4.4 refuses integration tokens as bearer tokens unless
    # oauth/consumer/enable_integration_as_bearer is on, so signing is the default.
    bearer: bool = False

    def to_json(self) -> str:
        data: dict[str, str | bool] = {key: getattr(self, key) for key in _CREDENTIAL_KEYS}
        data["bearer"] = self.bearer
        return orjson.dumps(data).decode()

    @classmethod
    def from_json(cls, text: str) -> MagentoCredentials:
        """Parse to_json's output; ValueError names a missing or mistyped key, never a value."""
        data = orjson.loads(text)
        if not isinstance(data, dict):
            raise ValueError("Magento credentials must be a JSON object")
        values: dict[str, str] = {}
        for key in _CREDENTIAL_KEYS:
            if key not in data:
                raise ValueError(f"Magento credentials lack the key {key!r}")
            if not isinstance(data[key], str):
                raise ValueError(f"Magento credentials key {key!r} must be a string")
            values[key] = data[key]
        bearer = data.get("bearer", False)
        if not isinstance(bearer, bool):
            raise ValueError("Magento credentials key 'bearer' must be true or false")
        return cls(**values, bearer=bearer)


class MagentoError(Exception):
    """A non-2xx answer. ``body`` is the raw text (at most 4 KB); ``retry_after`` is in seconds."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        body: str = "",
        retry_after: float | None = None,
        method: str = "",
        path: str = "",
    ) -> None:
        super().__init__(f"{method} {path} -> {status}: {message}")
        self.status = status
        self.message = message
        self.body = body
        self.retry_after = retry_after
        self.method = method
        self.path = path

    @property
    def retriable(self) -> bool:
        return self.status in (408, 429) or self.status >= 500


class MagentoUnavailable(OSError):
    """No answer at all: connection refused or reset, DNS failure, timeout."""


@dataclass(frozen=True, slots=True)
class MagentoReply:
    status: int
    data: Any
    elapsed_ms: float


def sku_path(sku: str) -> str:
    """A SKU as one URL path segment: "/" and spaces are legal in SKUs and must not split it."""
    return quote(sku, safe="")


def render_message(body: Any) -> str:
    """Magento's error body as a sentence, placeholders filled in. Never raises."""
    try:
        data = _as_json(body)
        if isinstance(data, dict) and isinstance(data.get("message"), str):
            return _render_with_errors(data)
        return _as_text(body)[:_TEXT_LIMIT]
    except Exception:  # a message helper must never mask the error it describes
        return "(unreadable error body)"


def search_criteria(
    filters: Sequence[tuple[str, str, str]] = (),
    *,
    page_size: int = 100,
    current_page: int = 1,
    sort: Sequence[tuple[str, str]] = (),
) -> dict[str, str]:
    """Query parameters in Magento's bracket form; each filter is its own group, so they AND."""
    params: dict[str, str] = {}
    for index, (name, value, condition) in enumerate(filters):
        prefix = f"searchCriteria[filter_groups][{index}][filters][0]"
        params[f"{prefix}[field]"] = name
        params[f"{prefix}[value]"] = value
        params[f"{prefix}[condition_type]"] = condition
    for index, (name, direction) in enumerate(sort):
        params[f"searchCriteria[sortOrders][{index}][field]"] = name
        params[f"searchCriteria[sortOrders][{index}][direction]"] = direction
    params["searchCriteria[pageSize]"] = str(page_size)
    params["searchCriteria[currentPage]"] = str(current_page)
    return params


class MagentoClient:
    """One connection pool per Magento; use ``async with`` or call ``aclose``."""

    def __init__(
        self,
        base_url: str,
        credentials: MagentoCredentials,
        *,
        timeout: float = 30.0,
        rate_limit: float | None = None,
        max_connections: int = 16,
        transport: httpx.AsyncBaseTransport | None = None,
        user_agent: str = "pimhub-magento/0.1",
    ) -> None:
        if rate_limit is not None and rate_limit <= 0:
            raise ValueError("rate_limit must be positive requests per second")
        self._base_url = base_url.rstrip("/")
        self._credentials = credentials
        self._timeout = timeout
        self._max_connections = max_connections
        self._transport = transport
        self._user_agent = user_agent
        self._spacer = _StartSpacer(1.0 / rate_limit) if rate_limit else None
        self._signer = OAuth1Signer(
            credentials.consumer_key,
            client_secret=credentials.consumer_secret,
            resource_owner_key=credentials.access_token,
            resource_owner_secret=credentials.access_token_secret,
            signature_method=SIGNATURE_HMAC_SHA256,
            signature_type=SIGNATURE_TYPE_AUTH_HEADER,
        )
        self._http: httpx.AsyncClient | None = None
        self._closed = False

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        self._closed = True
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def get(self, path: str, **kw: Any) -> MagentoReply:
        return await self.request("GET", path, **kw)

    async def put(self, path: str, **kw: Any) -> MagentoReply:
        return await self.request("PUT", path, **kw)

    async def post(self, path: str, **kw: Any) -> MagentoReply:
        return await self.request("POST", path, **kw)

    async def delete(self, path: str, **kw: Any) -> MagentoReply:
        return await self.request("DELETE", path, **kw)

    async def request(
        self,
        method: str,
        path: str,
        *,
        store: str = "all",
        json: Any = None,
        params: Mapping[str, str] | None = None,
    ) -> MagentoReply:
        """One call. ``store="all"`` writes the global scope; a store code writes that view only.

        Raises MagentoError for a non-2xx answer and MagentoUnavailable when none came."""
        verb = _http_method(method)
        url = self._url(path, store, params)
        content = orjson.dumps(json) if json is not None else None
        if self._spacer is not None:
            await self._spacer.wait_turn()
        # Signed after waiting, so the timestamp is as fresh as the nonce.
        headers = self._headers(verb, url, has_body=content is not None)
        started = time.perf_counter()
        response = await self._send(verb, url, headers, content)
        elapsed_ms = (time.perf_counter() - started) * 1000.0
        if not response.is_success:
            raise _error_from(response, verb, path)
        return MagentoReply(response.status_code, _decode(response.content), elapsed_ms)

    def _url(self, path: str, store: str, params: Mapping[str, str] | None) -> str:
        if not path.startswith("/"):
            raise ValueError(f"Magento path must start with '/': {path!r}")
        if not store or "/" in store:
            raise ValueError(f"invalid Magento store code: {store!r}")
        url = f"{self._base_url}/rest/{store}{path}"
        if params:
            # quote (not quote_plus): "+" in a query is ambiguous between signer and server.
            url += "?" + urlencode(list(params.items()), quote_via=quote)
        return url

    def _headers(self, method: HttpMethod, url: str, *, has_body: bool) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": self._user_agent}
        if has_body:
            headers["Content-Type"] = "application/json"
        headers["Authorization"] = self._authorization(method, url)
        return headers

    def _authorization(self, method: HttpMethod, url: str) -> str:
        if self._credentials.bearer:
            return f"Bearer {self._credentials.access_token}"
        # The full URL, query included, is signed (magento2#13961); a JSON body is not part of
        # an OAuth 1.0a signature, so it is kept away from oauthlib.
        _, signed, _ = self._signer.sign(url, http_method=method, body=None, headers=None)
        return str(signed["Authorization"])

    async def _send(
        self, method: str, url: str, headers: dict[str, str], content: bytes | None
    ) -> httpx.Response:
        try:
            return await self._client().request(method, url, headers=headers, content=content)
        except httpx.TransportError as exc:
            raise MagentoUnavailable(f"{_describe(exc)} at {_redact(url)}") from exc

    def _client(self) -> httpx.AsyncClient:
        if self._closed:
            raise RuntimeError("MagentoClient is closed")
        if self._http is None:
            limits = httpx.Limits(
                max_connections=self._max_connections,
                max_keepalive_connections=self._max_connections,
            )
            self._http = httpx.AsyncClient(
                timeout=httpx.Timeout(self._timeout), limits=limits, transport=self._transport
            )
        return self._http


def _http_method(method: str) -> HttpMethod:
    verb = method.upper()
    if verb not in _METHODS:
        raise ValueError(f"unsupported HTTP method for Magento: {method!r}")
    return cast(HttpMethod, verb)


class _StartSpacer:
    """Spaces request starts ``interval`` apart. Claiming a slot involves no await, so
    concurrent tasks on one event loop cannot claim the same slot."""

    def __init__(self, interval: float) -> None:
        self._interval = interval
        self._next = 0.0

    async def wait_turn(self) -> None:
        now = time.monotonic()
        start = max(now, self._next)
        self._next = start + self._interval
        if start > now:
            await asyncio.sleep(start - now)


def _error_from(response: httpx.Response, method: str, path: str) -> MagentoError:
    raw = response.content[:_BODY_LIMIT].decode("utf-8", errors="replace")
    return MagentoError(
        response.status_code,
        render_message(response.content),
        body=raw,
        retry_after=parse_retry_after(response.headers.get("Retry-After")),
        method=method,
        path=path,
    )


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date); None when absent or bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _describe(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        phase = {
            httpx.ConnectTimeout: "connect",
            httpx.ReadTimeout: "read",
            httpx.WriteTimeout: "write",
            httpx.PoolTimeout: "connection pool",
        }.get(type(exc), "request")
        return f"Magento timed out ({phase} timeout)"
    if isinstance(exc, httpx.ConnectError):
        # httpx's text says whether the name did not resolve or the connection was refused.
        return f"Magento connection failed ({exc or 'connect error'})"
    if isinstance(exc, httpx.ReadError | httpx.WriteError | httpx.RemoteProtocolError):
        return f"Magento connection reset or closed ({exc or type(exc).__name__})"
    return f"Magento unreachable ({type(exc).__name__}: {exc})"


def _redact(url: str) -> str:
    """The URL without user:password, which staging sites behind Basic auth may carry."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def _decode(content: bytes) -> Any:
    if not content.strip():
        return None
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        return None


def _as_json(body: Any) -> Any:
    if isinstance(body, bytes | bytearray | str):
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
    return body


def _as_text(body: Any) -> str:
    if isinstance(body, bytes | bytearray):
        return bytes(body).decode("utf-8", errors="replace")
    return body if isinstance(body, str) else repr(body)


def _render_with_errors(data: Mapping[str, Any]) -> str:
    message = _fill(data["message"], data.get("parameters"))
    errors = data.get("errors")
    if not isinstance(errors, list):
        return message
    details = [
        _fill(item["message"], item.get("parameters"))
        for item in errors
        if isinstance(item, dict) and isinstance(item.get("message"), str)
    ]
    return f"{message}: {'; '.join(details)}" if details else message


def _fill(template: str, parameters: Any) -> str:
    """Magento's placeholder rules: a list fills %1..%n, an object fills %key; like PHP's
    strtr the longest placeholder wins, so %10 is never read as %1 followed by 0."""
    if isinstance(parameters, list):
        values = {f"%{n}": _show(v) for n, v in enumerate(parameters, start=1)}
    elif isinstance(parameters, dict):
        values = {f"%{key}": _show(v) for key, v in parameters.items()}
    else:
        return template
    if not values:
        return template
    pattern = "|".join(re.escape(key) for key in sorted(values, key=len, reverse=True))
    return re.sub(pattern, lambda match: values[match.group(0)], template)


def _show(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return orjson.dumps(value).decode() if isinstance(value, list | dict | bool) else str(value)
