"""What a push is given and what it answers: the products to bring up to date, how each SKU's
attempt went, and the failures that turn into that answer instead of failing the batch."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

from pimhub.catalog.objects import CatalogObject
from pimhub.connectors.magento.client import MagentoError, MagentoUnavailable
from pimhub.connectors.magento.remote_ids import ClaimPending


@dataclass(frozen=True, slots=True)
class Target:
    """One product to bring up to date: its SKU, and its object unless it is gone."""

    sku: str
    uuid: str | None
    obj: CatalogObject | None


@dataclass
class Outcome:
    """How pushing one SKU went: `error` is None on success; `status` the HTTP status of the
    failing call (None when Magento did not answer)."""

    sku: str
    calls: int = 0
    error: str | None = None
    status: int | None = None
    retry_after: float | None = None
    requests: list[tuple[str, str, str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None


class DryRun(Exception):
    """Raised inside a dry run in place of sending."""


class PushRefused(Exception):
    """The push cannot complete yet for a reason of the hub's (a parent not yet in Magento,
    a child Magento did not link); the delivery is retried."""


async def attempt(outcome: Outcome, work: Awaitable[None]) -> None:
    """Runs one SKU's work, turning a failure into the outcome (the delivery's attempt)."""
    try:
        await work
    except MagentoError as exc:
        outcome.error = f"{exc.method} {exc.path}: {exc.status} {exc.message}"
        outcome.status = exc.status
        outcome.retry_after = exc.retry_after
    except MagentoUnavailable as exc:
        outcome.error = str(exc)
    except DryRun:
        pass
    except (PushRefused, ClaimPending) as exc:
        outcome.error = str(exc)
        outcome.status = 409
