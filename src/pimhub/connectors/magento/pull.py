"""Pull: Magento's catalog into the hub, for a shop whose data lives in Magento (onboarding).

Incremental by `updated_at`, with an overlap window because Magento does not touch it for
every change (magento2#37980, #37670): a periodic `full` pull or a reconcile covers the rest.
Each page is written with the catalog's batch upsert (only the mapped values; the hub's other
values stay), recorded in the connector's state as Magento's products, and then checkpointed,
so a pull that stops resumes after the last finished page.

This module runs a pull; pull_paging reads Magento's pages, pull_writer maps each into the
catalog, pull_record records it in the connector's state, pull_report counts.

What the push would now send for a pulled product is recorded as sent where Magento already
holds that value, so a pull does not make the push echo every product back; a value only the
hub has (or holds differently) is still sent by the next push.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime, timedelta

from pimhub.catalog.classes import ClassDefinition
from pimhub.catalog.service import CatalogService
from pimhub.connectors.magento.pull_paging import pages
from pimhub.connectors.magento.pull_report import PullReport
from pimhub.connectors.magento.pull_values import MAGENTO_TIME, iso
from pimhub.connectors.magento.pull_writer import PageWriter
from pimhub.connectors.magento.push import Pusher

__all__ = ["CHECKPOINT", "PullReport", "pull"]

CHECKPOINT = "pull"


async def pull(
    pusher: Pusher,
    catalog: CatalogService,
    *,
    full: bool = False,
    page_size: int = 200,
    overlap: timedelta = timedelta(minutes=10),
    author: str = "magento-pull",
) -> PullReport:
    """Imports the products Magento changed since the last pull (all of them with `full`)
    into the connector's class, page by page; raises MagentoError / MagentoUnavailable when
    Magento fails, after checkpointing the pages written."""
    if page_size < 1:
        raise ValueError("page_size must be positive")
    config = pusher.config
    definition = await asyncio.to_thread(_definition, catalog, config.class_name)
    stored = await asyncio.to_thread(pusher.state.checkpoint, config.name, CHECKPOINT)
    previous = stored.get("updatedAt") if isinstance(stored, Mapping) else None
    report = PullReport(checkpoint=previous if isinstance(previous, str) else None)
    since = None
    if not full and report.checkpoint is not None:
        moment = datetime.strptime(report.checkpoint, MAGENTO_TIME) - overlap
        since = moment.strftime(MAGENTO_TIME)
    puller = PageWriter(pusher, catalog, definition, author, report)
    await puller.load_ids()
    async for page in pages(pusher, since, page_size):
        await puller.write(page)
        stamps = [str(p["updated_at"]) for p in page if p.get("updated_at")]
        if stamps and (report.checkpoint is None or max(stamps) > report.checkpoint):
            report.checkpoint = max(stamps)
        if report.checkpoint is not None:
            value = {"updatedAt": report.checkpoint, "pulledAt": iso(pusher.clock())}
            await asyncio.to_thread(
                pusher.state.save_checkpoint, config.name, CHECKPOINT, value, pusher.clock()
            )
    return report


def _definition(catalog: CatalogService, class_name: str) -> ClassDefinition:
    with catalog.uow() as uow:
        return catalog.class_definition(uow, class_name)
