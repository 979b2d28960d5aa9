"""Magento ids the mapping needs: select options by option code, categories by hub key,
attributes by code. Looked up once, remembered in the connector's state, created in Magento
when missing (options and categories), never matched by a translated label."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from pimhub.connectors.magento.client import MagentoClient, MagentoError, sku_path
from pimhub.connectors.magento.config import MagentoConfig
from pimhub.connectors.ports import CatalogReader
from pimhub.connectors.state import ConnectorState

DbCall = Callable[..., Awaitable[Any]]
CATEGORY = "category"
CLAIM_WAIT_SECONDS = 10.0
CLAIM_POLL_SECONDS = 0.1


class ClaimPending(Exception):
    """Another worker is creating what this push needs; the delivery is retried."""


ATTRIBUTE = "attribute"


def option_kind(code: str) -> str:
    return f"option:{code}"


class RemoteIds:
    def __init__(
        self,
        config: MagentoConfig,
        client: MagentoClient,
        state: ConnectorState,
        catalog: CatalogReader,
        db: DbCall,
    ) -> None:
        self.config = config
        self.client = client
        self.state = state
        self.catalog = catalog
        self.db = db
        # One creation per missing id at a time in this process; another process creating
        # the same option makes Magento refuse ours, and the id is then read back.
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._cache: dict[tuple[str, str], int] = {}

    def _lock(self, kind: str, code: str) -> asyncio.Lock:
        return self._locks.setdefault((kind, code), asyncio.Lock())

    async def _known(self, kind: str, codes: Sequence[str]) -> dict[str, int]:
        found = {c: self._cache[(kind, c)] for c in codes if (kind, c) in self._cache}
        rest = [c for c in codes if c not in found]
        if rest:
            stored = await self.db(self.state.remote_ids, self.config.name, kind, rest)
            self._cache.update({(kind, c): i for c, i in stored.items()})
            found |= stored
        return found

    async def _remember(self, kind: str, found: Mapping[str, int]) -> None:
        if found:
            await self.db(self.state.remember_ids, self.config.name, kind, dict(found))
            self._cache.update({(kind, c): i for c, i in found.items()})

    # -- options ---------------------------------------------------------------------------

    async def options(
        self, wanted: Sequence[tuple[str, str]], *, create: bool
    ) -> dict[tuple[str, str], int]:
        """(attribute code, option code) -> Magento option id."""
        out: dict[tuple[str, str], int] = {}
        by_code: dict[str, list[str]] = {}
        for code, value in wanted:
            by_code.setdefault(code, []).append(value)
        for code, values in by_code.items():
            kind = option_kind(code)
            mapping = self.config.attribute(code)
            fixed = dict(mapping.options) if mapping else {}
            known = {v: fixed[v] for v in values if v in fixed}
            known |= await self._known(kind, [v for v in values if v not in known])
            for value in values:
                if value not in known:
                    found = await self._option(code, value, create)
                    if found is not None:
                        known[value] = found
            out |= {(code, v): i for v, i in known.items()}
        return out

    async def _option(self, code: str, value: str, create: bool) -> int | None:
        kind = option_kind(code)
        async with self._lock(kind, value):
            cached = await self._known(kind, [value])
            if value in cached:
                return cached[value]
            listed = await self._list_options(code)
            if value not in listed:
                # The admin label is never translated, so matching it regardless of case
                # finds an option someone created by hand as "Black" for the code "black".
                same = [i for label, i in listed.items() if label.casefold() == value.casefold()]
                if len(same) == 1:
                    listed[value] = same[0]
            if value not in listed and create:
                body = {"option": {"label": value, "value": "", "is_default": False}}
                path = f"/V1/products/attributes/{sku_path(code)}/options"
                try:
                    reply = await self.client.request("POST", path, json=body)
                    created = _option_id(reply.data)
                    if created is not None:
                        listed[value] = created
                except MagentoError as exc:
                    if "already" not in exc.message:
                        raise
                if value not in listed:
                    listed = await self._list_options(code)
            await self._remember(kind, listed)
            return listed.get(value)

    async def _list_options(self, code: str) -> dict[str, int]:
        """The attribute's options by admin label, which the connector sets to the hub's
        option code when it creates one."""
        path = f"/V1/products/attributes/{sku_path(code)}/options"
        reply = await self.client.request("GET", path)
        found: dict[str, int] = {}
        for option in reply.data or []:
            if not isinstance(option, Mapping):
                continue
            ident = _option_id(option.get("value"))
            label = option.get("label")
            if ident is not None and isinstance(label, str) and label.strip():
                found.setdefault(label, ident)
        return found

    # -- attributes ------------------------------------------------------------------------

    async def attribute_ids(self, codes: Sequence[str]) -> dict[str, int]:
        known = await self._known(ATTRIBUTE, codes)
        for code in codes:
            if code in known:
                continue
            reply = await self.client.request("GET", f"/V1/products/attributes/{sku_path(code)}")
            ident = (reply.data or {}).get("attribute_id")
            if isinstance(ident, int):
                known[code] = ident
                await self._remember(ATTRIBUTE, {code: ident})
        return known

    # -- categories ------------------------------------------------------------------------

    async def categories(self, uuids: Sequence[str], *, create: bool) -> dict[str, int]:
        """Hub category uuid -> Magento category id: the configured map first, then what the
        connector created before, then (when allowed) a new category under its mapped parent
        or the configured root."""
        if not uuids:
            return {}
        objects = await self.db(self.catalog.by_uuids, list(uuids))
        out: dict[str, int] = {}
        for uuid in uuids:
            obj = objects.get(uuid)
            if obj is None:
                continue
            ident = await self._category(obj.key, obj, create, depth=0)
            if ident is not None:
                out[uuid] = ident
        return out

    async def _category(self, key: str, obj: Any, create: bool, depth: int) -> int | None:
        mapped = self.config.categories.ids.get(key)
        if mapped is not None:
            return mapped
        async with self._lock(CATEGORY, key):
            known = await self._known(CATEGORY, [key])
            if key in known:
                return known[key]
            if not create or not self.config.categories.create or depth > 20:
                return None
            parent_id = self.config.categories.root
            parent_uuid = obj.values.get("parent")
            if isinstance(parent_uuid, str):
                parents = await self.db(self.catalog.by_uuids, [parent_uuid])
                parent = parents.get(parent_uuid)
                if parent is not None:
                    parent_id = (
                        await self._category(parent.key, parent, create, depth + 1)
                    ) or parent_id
            if not await self.db(self.state.claim_id, self.config.name, CATEGORY, key):
                return await self._created_elsewhere(key)
            body = {
                "category": {
                    "parent_id": parent_id,
                    "name": _name(obj.values.get("name"), key, self.config.default_language),
                    "is_active": True,
                }
            }
            try:
                reply = await self.client.request("POST", "/V1/categories", json=body)
            except BaseException:
                await self.db(self.state.release_claim, self.config.name, CATEGORY, key)
                raise
            ident = (reply.data or {}).get("id")
            if not isinstance(ident, int):
                await self.db(self.state.release_claim, self.config.name, CATEGORY, key)
                return None
            await self._remember(CATEGORY, {key: ident})
            return ident

    async def _created_elsewhere(self, key: str) -> int:
        """Another worker claimed the category's creation: its id, once it is known."""
        for _ in range(int(CLAIM_WAIT_SECONDS / CLAIM_POLL_SECONDS)):
            found: dict[str, int] = await self.db(
                self.state.remote_ids, self.config.name, CATEGORY, [key]
            )
            if key in found:
                self._cache[(CATEGORY, key)] = found[key]
                return found[key]
            await asyncio.sleep(CLAIM_POLL_SECONDS)
        raise ClaimPending(f"category {key} is being created in Magento by another worker")


def _option_id(value: Any) -> int | None:
    """Magento answers option ids as numbers, digit strings or "id_57"."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        match = re.fullmatch(r"(?:id_)?(\d{1,10})", value.strip())
        return int(match.group(1)) if match else None
    return None


def _name(value: Any, fallback: str, language: str) -> str:
    if isinstance(value, Mapping):
        chosen = value.get(language) or next((v for v in value.values() if v), None)
        return str(chosen) if chosen else fallback
    return str(value) if value else fallback
