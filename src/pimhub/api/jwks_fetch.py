"""The HTTP fetch of the OIDC issuer's discovery document and key set.

access/jwks.JwksCache takes its fetch as an argument, so the access package imports no HTTP
client (DESIGN.md §4); bootstrap.oidc_verifier passes this one in. It lives in api/, the
package that adapts HTTP, beside nothing heavy: importing it loads httpx only (the CLI's
`pimhub oidc` uses it without the web framework).
"""

from __future__ import annotations

from typing import Any

import httpx

from pimhub.access.jwks import FetchFailed

_MAX_DOCUMENT_BYTES = 512 * 1024


def http_fetch(url: str, timeout: float) -> Any:
    """GET `url` as JSON with `timeout` (connect, read and the whole); no redirects."""
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False) as client:
            response = client.get(url, headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        raise FetchFailed(f"{url}: {type(exc).__name__} {exc}".strip()) from None
    if response.status_code != 200:
        raise FetchFailed(f"{url} answered HTTP {response.status_code}")
    if len(response.content) > _MAX_DOCUMENT_BYTES:
        raise FetchFailed(f"{url} sent more than {_MAX_DOCUMENT_BYTES} bytes")
    try:
        return response.json()
    except (ValueError, RecursionError):
        raise FetchFailed(f"{url} did not answer JSON") from None
