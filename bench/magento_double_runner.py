"""The Magento contract double (tests/connectors/magento/double.py) served by uvicorn in its own
process, for bench/magento_sync.py: its CPU does not share a GIL with the hub's event loop.

Besides Magento's API it answers a few bench-only paths under /__bench/:

- GET /__bench/state: {"pending": bulks not processed yet, "products": products held}
- GET /__bench/writes?after=T: {sku: wall time of the SKU's last write} for writes after T
- GET /__bench/captured: every PUT and POST body received, in order, as [[method, path, body]]
  (recorded only with --capture; the floor replays them)

    python bench/magento_double_runner.py PORT [--no-validate] [--bulk-delay S] [--capture]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the double lives in tests/

from starlette.requests import Request
from starlette.responses import Response
from tests.connectors.magento.double import MagentoDouble

CONTROL = "/__bench/"


class BenchDouble(MagentoDouble):
    """The double, noting when each SKU was last written and (optionally) every write body."""

    def __init__(self, *args: Any, capture: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.capture = capture
        self.captured: list[tuple[str, str, str]] = []
        self.written_at: dict[str, float] = {}

    def _save_product(self, store: str, sku: str, sent: dict[str, Any]) -> Any:
        product = super()._save_product(store, sku, sent)
        self.written_at[sku] = time.time()
        return product

    async def _handle(self, request: Request) -> Response:
        path = request.url.path
        if path.startswith(CONTROL):
            return self._control(path[len(CONTROL) :], request.url.query)
        if self.capture and request.method in ("PUT", "POST"):
            raw = await request.body()  # cached by starlette: the double reads it again
            self.captured.append((request.method, path, raw.decode()))
        return await super()._handle(request)

    def _control(self, what: str, query: str) -> Response:
        with self._lock:
            if what == "state":
                data: Any = {"pending": len(self._pending), "products": len(self._products)}
            elif what == "writes":
                after = float(dict(parse_qsl(query)).get("after", "0"))
                data = {s: t for s, t in self.written_at.items() if t > after}
            elif what == "captured":
                data = self.captured
            else:
                return Response(status_code=404)
        return Response(orjson.dumps(data), media_type="application/json")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("port", type=int)
    parser.add_argument("--no-validate", action="store_true")
    parser.add_argument("--bulk-delay", type=float, default=0.05)
    parser.add_argument("--capture", action="store_true")
    args = parser.parse_args()
    import uvicorn

    double = BenchDouble(
        validate=not args.no_validate,
        bulk_delay=args.bulk_delay,
        record_requests=False,  # 100,000 products' bodies would only cost memory
        capture=args.capture,
    )
    uvicorn.run(
        double,
        host="127.0.0.1",
        port=args.port,
        lifespan="off",
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
