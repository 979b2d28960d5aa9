"""Fetching a scheduled import's source: a file is copied, a URL downloaded with the
profile's request headers.

A header value may refer to the worker's environment as ${PIMHUB_IMPORT_NAME}, so an API token
lives where the worker runs, not in the database. Only variables with that prefix can be
named: whoever may save a profile must not be able to send the worker's other settings (its
database URL, its secret key) to a URL of their choosing. What a variable holds never appears
in an error, a log line or a listing.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict, Unpack
from urllib.parse import urlsplit

import httpx

from pimhub.catalog.errors import FieldError
from pimhub.events.destinations import blocked_address

DOWNLOAD_TIMEOUT = 120.0  # for each connect, read or write
DOWNLOAD_DEADLINE = 3600.0  # for the whole download
MAX_DOWNLOAD_BYTES = 8 * 1024**3
MAX_REDIRECTS = 5
VARIABLE_PREFIX = "PIMHUB_IMPORT_"
HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")  # an HTTP token
REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
HIDDEN = "(hidden)"


class FetchFailed(Exception):
    """The source could not be fetched; the message names no secret."""


def is_url(source: str) -> bool:
    return urlsplit(source).scheme in ("http", "https")


def check_headers(raw: Any, source: str, errors: list[FieldError]) -> None:
    """Headers are an object of HTTP header name to one-line text, for HTTP(S) sources, whose
    ${...} references name PIMHUB_IMPORT_ variables."""
    if raw is None:
        return
    if not isinstance(raw, Mapping):
        errors.append(FieldError("options.headers", "an object of header name to value"))
        return
    if raw and not is_url(source):
        errors.append(FieldError("options.headers", "headers are sent to http(s) sources only"))
    for name, value in raw.items():
        path = f"options.headers.{name}"
        if not isinstance(name, str) or not HEADER_NAME.match(name):
            errors.append(FieldError(path, "not a header name (letters, digits, - and the like)"))
        elif not isinstance(value, str) or _unsendable(value):
            errors.append(FieldError(path, "a header value is one line of printable ASCII"))
        elif foreign := [v for v in REFERENCE.findall(value) if not v.startswith(VARIABLE_PREFIX)]:
            errors.append(FieldError(path, f"${{{foreign[0]}}}: only {VARIABLE_PREFIX}* variables"))


def shown_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers for a listing: ${...} references as written, literal text (perhaps a secret
    written out) hidden."""
    return {name: _shown(value) for name, value in headers.items()}


def _shown(value: str) -> str:
    pieces = []
    done = 0
    for match in REFERENCE.finditer(value):
        if value[done : match.start()].strip():
            pieces.append(HIDDEN)
        pieces.append(match.group(0))
        done = match.end()
    if value[done:].strip():
        pieces.append(HIDDEN)
    return " ".join(pieces)


def resolve_headers(headers: Mapping[str, str], environ: Mapping[str, str]) -> dict[str, str]:
    """`headers` with every ${NAME} replaced by that variable's value, refused (naming the
    header and the variable, never the value) when it is unset or cannot be sent."""

    out: dict[str, str] = {}
    for header, value in headers.items():
        for name in REFERENCE.findall(value):
            if name not in environ:
                raise FetchFailed(
                    f"header {header}: ${{{name}}} is not set in the worker's environment"
                )
            if _unsendable(environ[name]):
                raise FetchFailed(
                    f"header {header}: ${{{name}}} holds a line break or characters a header "
                    "cannot carry"
                )
        out[header] = REFERENCE.sub(_lookup(environ), value)
    return out


def _lookup(environ: Mapping[str, str]) -> Callable[[re.Match[str]], str]:
    def value(match: re.Match[str]) -> str:
        return environ[match.group(1)]

    return value


def _unsendable(value: str) -> bool:
    """Anything but printable ASCII (and tabs): what every HTTP client sends as it is."""
    return not all(c == "\t" or " " <= c <= "~" for c in value)


def shown_url(url: str) -> str:
    """The URL for errors and logs, which keys that cannot read the profile may see: no
    credentials, no query (a signed URL's signature is one)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


class FetchLimits(TypedDict, total=False):
    """download's guard and limits, which fetch passes on (download holds the defaults)."""

    allow_private: bool
    max_bytes: int
    deadline: float


def fetch(
    source: str,
    target: Path,
    headers: Mapping[str, str] | None = None,
    transport: httpx.BaseTransport | None = None,
    **limits: Unpack[FetchLimits],
) -> None:
    """Copies a file, or downloads a URL (streamed, with `headers`), to `target`.

    With headers, redirects are followed within the source's own site only: the headers are
    the source's, and another site must not receive them. Without `allow_private`, no request
    goes to an internal address, redirects included. A download stops at `max_bytes` or
    after `deadline` seconds, however slowly the server sends."""
    if not is_url(source):
        shutil.copyfile(source, target)
        return
    download(source, target, headers, transport, **limits)


@dataclass(frozen=True, slots=True)
class Downloaded:
    """What a download's final response said: 304 (nothing written) or 200, and the
    validators to send next time (ETag, else Last-Modified)."""

    status: int
    etag: str | None = None
    last_modified: str | None = None
    size: int = 0

    @property
    def validator(self) -> str | None:
        return self.etag or self.last_modified


def download(
    url: str,
    target: Path,
    headers: Mapping[str, str] | None = None,
    transport: httpx.BaseTransport | None = None,
    *,
    allow_private: bool = True,
    max_bytes: int = MAX_DOWNLOAD_BYTES,
    deadline: float = DOWNLOAD_DEADLINE,
    timeout: float = DOWNLOAD_TIMEOUT,
    validator: str | None = None,
) -> Downloaded:
    """Downloads `url` to `target` under fetch's rules (address guard on every hop, size
    and time limits). With `validator` (an ETag or a Last-Modified date) the request is
    conditional, and a 304 writes nothing. Raises FetchFailed."""
    limits = _Limits(max_bytes, time.monotonic() + deadline, allow_private)
    try:
        with httpx.Client(timeout=timeout, transport=transport) as client:
            return _download(
                client, url, dict(headers or {}), target, limits, _conditional(validator)
            )
    except httpx.HTTPStatusError as exc:
        raise FetchFailed(f"{shown_url(url)} answered HTTP {exc.response.status_code}") from None
    except (httpx.HTTPError, UnicodeError, ValueError) as exc:
        # The exception's own text may quote a URL with its credentials, or a header.
        raise FetchFailed(f"{shown_url(url)}: {type(exc).__name__}") from None


def _conditional(validator: str | None) -> dict[str, str]:
    """The header that makes a request conditional on `validator`: an ETag (quoted, or
    weak W/"...") goes in If-None-Match, anything else is a date for If-Modified-Since."""
    if not validator or _unsendable(validator):
        return {}
    if validator.startswith(('"', 'W/"')):
        return {"If-None-Match": validator}
    return {"If-Modified-Since": validator}


@dataclass(frozen=True, slots=True)
class _Limits:
    max_bytes: int
    until: float  # time.monotonic() deadline
    allow_private: bool


def _download(
    client: httpx.Client,
    url: str,
    headers: dict[str, str],
    target: Path,
    limits: _Limits,
    conditional: Mapping[str, str] | None = None,
) -> Downloaded:
    origin = _origin(url)
    # Conditional headers name no secret: unlike the source's own headers, they may follow
    # a redirect to another site (a CDN).
    sent = {**headers, **(conditional or {})}
    for _ in range(MAX_REDIRECTS + 1):
        if not limits.allow_private and (why := blocked_address(url)):
            raise FetchFailed(f"{why}; set PIMHUB_IMPORT_SOURCES_ALLOW_PRIVATE to fetch it")
        with client.stream("GET", url, headers=sent) as response:
            if response.next_request is not None:
                url = str(response.next_request.url)
                if headers and _origin(url) != origin:
                    raise FetchFailed(
                        f"the source redirects to {shown_url(url)}, another site (or scheme) "
                        "than the one its headers are for; give that URL as the source"
                    )
                continue
            etag, modified = response.headers.get("etag"), response.headers.get("last-modified")
            if response.status_code == 304 and conditional:
                return Downloaded(304, etag, modified)
            response.raise_for_status()  # any answer but 2xx, a 304 nobody asked for too
            size = _save(response, target, limits)
            return Downloaded(response.status_code, etag, modified, size)
    raise FetchFailed(f"the source redirects more than {MAX_REDIRECTS} times")


def _save(response: httpx.Response, target: Path, limits: _Limits) -> int:
    written = 0
    with target.open("wb") as out:
        for chunk in response.iter_bytes():
            written += len(chunk)
            if written > limits.max_bytes:
                raise FetchFailed(f"the source is larger than {limits.max_bytes:,} bytes")
            if time.monotonic() > limits.until:
                raise FetchFailed("the download took longer than its deadline")
            out.write(chunk)
    return written


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = httpx.URL(url)
    return parts.scheme, parts.host, parts.port
