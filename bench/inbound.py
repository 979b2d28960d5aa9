"""Inbound events accepted per second, and RabbitMQ publishing with confirms, against floors.

(a) Receiving. pimhub runs as `pimhub serve` (default settings, request logs to /dev/null) on
SQLite in a temporary folder, with one inbound source `bench` of the standard-webhooks scheme
(key: the order id in the body). Every request is a new signed message: a unique webhook-id,
the current webhook-timestamp, a v1 HMAC-SHA256 signature, a ~700-byte order document; pimhub
verifies it, checks its id against the accepted ones, and stores the audit row and its outbox
event in one transaction before answering 202. Floor: a bare Starlette route on the same
uvicorn that takes the same requests and does one raw INSERT per request (message id, time,
body) with sqlite3 on its own file, with pimhub's connection settings (WAL,
synchronous=NORMAL, foreign_keys, busy_timeout: storage.engine.build_engine), in the event
loop, answering 202 with the row id: no verification, no de-duplication, no outbox. Rounds
of 16 keep-alive connections alternate between the two; the figure is the median over the
repeats of pimhub's 2xx/s over the floor's in the same repeat. Checked: a repeated id is a
200 duplicate, a bad signature a 401, and pimhub stored exactly one accepted audit row and one
outbox event per 202 it answered.

(b) Publishing. The hub's RabbitMQ destination (brokers.rabbitmq, built the way the worker
builds it: BrokerService.destination on the broker's pipeline row) is handed claimed
deliveries in batches of the dispatcher's size (PIMHUB_WEBHOOK_BATCH_SIZE, 500), as the
dispatcher does, each batch's deliveries of distinct keys, and must answer every one delivered
(confirmed). Floor: aio-pika on one channel with publisher confirms publishing the same bodies
with the same routing keys and message properties (persistent, mandatory, message id, type,
timestamp, headers), to the same exchange, each batch's messages in flight at once (awaiting
every confirm before the next batch), as the destination does. A durable queue bound to the exchange
takes the messages (purged between rounds; its count checked). Needs RabbitMQ at
PIMHUB_BENCH_AMQP_URL (default amqp://guest:guest@127.0.0.1:5672/); without one, (b) is skipped
with a note.

The last line is `ratio: X`, the worse of the two figures (the target is 0.5 or more).

    .venv/bin/python bench/inbound.py [--messages 5000] [--only receiving|publishing]

(a) is in inbound_receiving.py with its floor server in inbound_floor.py, (b) in
inbound_publishing.py, what both use in inbound_common.py.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from inbound_publishing import amqp_reachable, publishing
from inbound_receiving import receiving
from rest_get import run_fast

AMQP_ENV = "PIMHUB_BENCH_AMQP_URL"
AMQP_DEFAULT = "amqp://guest:guest@127.0.0.1:5672/"


async def run(workdir: Path, messages: int, only: str | None) -> dict[str, float]:
    ratios = {}
    if only in (None, "receiving"):
        ratios["receiving"] = await receiving(workdir)
    if only == "receiving":
        return ratios
    amqp_url = os.environ.get(AMQP_ENV, AMQP_DEFAULT)
    missing = await amqp_reachable(amqp_url)
    if missing is None:
        ratios["publishing"] = await publishing(workdir, amqp_url, messages)
    else:
        print(f"(b) skipped: no RabbitMQ at {amqp_url} ({missing}); set {AMQP_ENV}")
    return ratios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000, help="per publishing round")
    parser.add_argument("--only", choices=["receiving", "publishing"], help="one of the two")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pimhub-bench-") as tmp:
        ratios = run_fast(run(Path(tmp), args.messages, args.only))
    if not ratios:
        raise SystemExit("nothing was measured")
    for case, ratio in ratios.items():
        print(f"ratio ({case}): {ratio:.3f}")
    # The bench's one figure, as every bench prints it: the worse of the two.
    print(f"ratio: {min(ratios.values()):.3f}")


if __name__ == "__main__":
    main()
