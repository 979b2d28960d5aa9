"""What both halves of bench/inbound.py share: the inbound source's name and event type, the
order a shop sends, and the hub on the bench's database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

SOURCE = "bench"
EVENT_TYPE = "shop.order.placed"
SECRET_KEY = "bench"  # PIMHUB_SECRET_KEY: the set-up and the server read the same sealed secret


def order_body(n: int) -> bytes:
    """An order as a shop would send it (~700 bytes), its id unique to `n`."""
    return orjson.dumps(
        {
            "type": EVENT_TYPE,
            "timestamp": "2026-12-05T00:00:00Z",
            "data": {
                "orderId": f"B{n:09d}",
                "store": "default",
                "customer": {"email": f"buyer{n % 997}@example.com", "name": "Ada Buyer"},
                "currency": "EUR",
                "total": 129.7 + n % 50,
                "shipping": {"method": "flatrate", "street": "Hauptstr. 1", "city": "Berlin"},
                "items": [
                    {"sku": f"PH-{(n * 7 + i) % 1000:05d}", "qty": 1 + i, "price": 19.9 + i}
                    for i in range(4)
                ],
            },
        }
    )


def open_hub(workdir: Path) -> Any:
    """The hub on the bench's database, migrated (the commerce model installed)."""
    from pimhub.bootstrap import bootstrap
    from pimhub.cli.server import initialize
    from pimhub.settings import Settings

    hub = bootstrap(
        Settings(
            database_url=f"sqlite:///{workdir / 'pimhub.db'}",
            data_dir=workdir,
            secret_key=SECRET_KEY,
            webhooks_allow_private=True,  # the broker on this machine
        )
    )
    initialize(hub)
    return hub
