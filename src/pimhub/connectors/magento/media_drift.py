"""Reconcile's view of images: the hub's images Magento lacks, and entries the hub created that
no image wants any more. Entries people made in Magento are not the hub's business and are
never reported."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pimhub.catalog.objects import CatalogObject
from pimhub.connectors.magento.client import MagentoError, sku_path
from pimhub.connectors.magento.media import MEDIA, WantedImage, plan, recorded

if TYPE_CHECKING:
    from pimhub.connectors.magento.push import Pusher

MEDIA_DRIFT = "media"  # the name images are reported under


def media_difference(
    wanted: Sequence[WantedImage],
    record: Mapping[str, Mapping[str, Any]],
    shown: Mapping[str, str],
) -> tuple[list[str], list[str]] | None:
    """(asset paths of images Magento lacks or shows with other roles, label or position;
    files of the hub's entries no image wants), or None when they agree. `shown` maps
    Magento's entry ids to their files."""
    present = {i: e for i, e in record.items() if i in shown}
    todo = plan(wanted, present)
    hub = sorted(
        [image.asset.path for image in todo.create]
        + [f"{image.asset.path} (roles, label or position)" for _, image in todo.update]
    )
    magento = sorted(shown[i] for i in todo.delete)
    return (hub, magento) if hub or magento else None


async def media_drift(
    pusher: Pusher, objects: Mapping[str, CatalogObject], products: Sequence[Mapping[str, Any]]
) -> dict[str, tuple[list[str], list[str]]]:
    """sku -> its media difference, for the hub's products among a page of Magento's."""
    if not pusher.media.enabled or not objects:
        return {}
    name = pusher.config.name
    sections = await asyncio.to_thread(pusher.state.sections, name, list(objects))
    out: dict[str, tuple[list[str], list[str]]] = {}
    for product in products:
        sku = str(product.get("sku"))
        obj = objects.get(sku)
        if obj is None:
            continue
        wanted = await pusher.media.images(obj.values, sku)
        record = recorded(sections.get(sku, {}).get(MEDIA))
        found = media_difference(wanted, record, _files(product.get("media_gallery_entries")))
        if found is not None:
            out[sku] = found
    return out


async def forget_missing_entries(pusher: Pusher, skus: Sequence[str]) -> None:
    """Drops from the record the entries Magento no longer has (deleted there, or the whole
    product gone), so that the next push uploads those images again."""
    name = pusher.config.name
    sections = await asyncio.to_thread(pusher.state.sections, name, list(skus))
    for sku in skus:
        record = recorded(sections.get(sku, {}).get(MEDIA))
        if not record:
            continue
        try:
            reply = await pusher.client.request("GET", f"/V1/products/{sku_path(sku)}/media")
            shown = _files(reply.data)
        except MagentoError as exc:
            if exc.status != 404:
                raise
            shown = {}
        gone = [i for i in record if i not in shown]
        if gone:
            await asyncio.to_thread(
                pusher.state.merge_record, name, sku, MEDIA, {}, gone, pusher.clock()
            )


def _files(entries: Any) -> dict[str, str]:
    if not isinstance(entries, list):
        return {}
    return {
        str(e["id"]): str(e.get("file") or e["id"])
        for e in entries
        if isinstance(e, Mapping) and e.get("id") is not None
    }
