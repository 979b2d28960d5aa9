"""The dispatcher's HTTP client: aiohttp, chosen by measurement (see docs/webhooks.md)."""

from __future__ import annotations

import aiohttp

from pimhub.events.deliveries import RESPONSE_EXCERPT_BYTES
from pimhub.events.ports import HttpReply


class AiohttpSender:
    """One keep-alive connection pool for all endpoints, at most `per_host` connections each."""

    def __init__(
        self, *, connect_timeout: float = 5.0, total_timeout: float = 15.0, per_host: int = 16
    ) -> None:
        self.timeout = aiohttp.ClientTimeout(total=total_timeout, sock_connect=connect_timeout)
        self.per_host = per_host
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        # Created on first use, inside the running loop, as aiohttp requires.
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=0, limit_per_host=self.per_host)
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=self.timeout,
                auto_decompress=False,
                skip_auto_headers=("User-Agent",),
                headers={"User-Agent": "pimhub-webhooks/1"},
            )
        return self._session

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> HttpReply:
        try:
            async with self._open().post(
                url, data=body, headers=headers, allow_redirects=False
            ) as reply:
                excerpt = await reply.content.read(RESPONSE_EXCERPT_BYTES)
                return HttpReply(
                    reply.status,
                    excerpt.decode("utf-8", "replace"),
                    reply.headers.get("Retry-After"),
                )
        except aiohttp.ClientError as exc:
            raise OSError(f"{type(exc).__name__}: {exc}") from exc

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
