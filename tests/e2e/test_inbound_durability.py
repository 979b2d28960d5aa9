"""Durability of the inbound gateway with real processes, on SQLite and PostgreSQL: a sender
keeps posting distinct signed events (Standard Webhooks) to `pimhub serve`, sometimes sending
one again with the same id, while the worker is killed with SIGKILL at random points and the
server once. A message answered 2xx was stored before the answer: after a last clean worker run
each one reached the de-duplicating receiver, as one event, in its key's order; none became two
events. A sender that got no answer (the server died) sends again with the same id, as senders
do, and is then told it was accepted or a duplicate."""

from __future__ import annotations

import random
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson
import pytest
from sqlalchemy import Engine, select

from pimhub.bootstrap import Hub
from pimhub.storage.tables import inbound_messages, outbox
from tests.e2e.inbound_processes import (
    HubProcess,
    Server,
    hub_env,
    standard_webhook_headers,
    until,
    worker,
)
from tests.events.receiver import Receiver, receiver_in_thread
from tests.events.test_crash import slow_ok

pytestmark = pytest.mark.e2e

ORDER_TYPE = "shop.order.placed"
SOURCE = {
    "name": "shop",
    "scheme": "standard-webhooks",
    "eventTypes": [ORDER_TYPE],
    "key": {"path": "data.customer"},  # one customer's orders are delivered in order
}
CUSTOMERS = 5
ANSWERS = 120  # answers the sender gets at least (resends included)
# ... and at most: on a busy machine the kills wait long for restarted workers, and the
# delivery that follows must not grow with that.
MAX_ANSWERS = 400


@dataclass(frozen=True)
class Answer:
    message_id: str
    status: int
    event_id: str | None
    status_text: str  # "accepted" / "duplicate" (or the problem, for a refusal)


@dataclass
class Sender:
    """Posts order events until stopped (or MAX_ANSWERS answered); every fifth or so is a
    resend of an earlier one. A request that got no answer (connection refused or cut) is sent
    again, re-signed, with the same message id until the server answers."""

    url: str
    secret: str
    rng: random.Random
    answers: list[Answer] = field(default_factory=list)
    bodies: dict[str, bytes] = field(default_factory=dict)
    failure: BaseException | None = None

    def run(self, stop: threading.Event) -> None:
        try:
            with httpx.Client(timeout=10) as http:
                n = 0
                while not stop.is_set() and len(self.answers) < MAX_ANSWERS:
                    if self.answers and self.rng.random() < 0.2:
                        self.post(http, self.rng.choice(self.answers).message_id)
                    else:
                        message_id = f"ord-{n:05d}"
                        order = {"orderId": n, "customer": f"c{n % CUSTOMERS}", "total": n}
                        self.bodies[message_id] = orjson.dumps({"type": ORDER_TYPE, "data": order})
                        self.post(http, message_id)
                        n += 1
                    time.sleep(0.02)  # a steady stream, not a flood the kills fall behind
        except BaseException as exc:  # re-raised in the test's thread
            self.failure = exc

    def post(self, http: httpx.Client, message_id: str) -> None:
        body = self.bodies[message_id]
        deadline = time.monotonic() + 120  # a restart on a busy machine is slow
        while True:
            headers = standard_webhook_headers(self.secret, message_id, body)
            try:
                answer = http.post(self.url, content=body, headers=headers)
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)  # the server is being restarted
                continue
            data = answer.json() if answer.content else {}
            status = str(data.get("status") or data.get("title") or answer.text[:200])
            self.answers.append(Answer(message_id, answer.status_code, data.get("eventId"), status))
            return

    def acknowledged(self) -> dict[str, set[str]]:
        """Message id -> the event ids its 2xx answers named."""
        found: dict[str, set[str]] = {}
        for a in list(self.answers):
            if 200 <= a.status < 300:
                found.setdefault(a.message_id, set()).add(str(a.event_id))
        return found


@contextmanager
def sending(sender: Sender) -> Iterator[threading.Event]:
    stop = threading.Event()
    thread = threading.Thread(target=sender.run, args=(stop,))
    thread.start()
    try:
        yield stop
    finally:
        stop.set()
        thread.join(60)
    if sender.failure is not None:
        raise sender.failure


def accepted_rows(engine: Engine) -> list[tuple[str, str, str | None]]:
    """(message id, event id, key) of the audit's accepted shop messages, in acceptance order."""
    query = (
        select(inbound_messages.c.message_id, inbound_messages.c.event_id, inbound_messages.c.key)
        .where(inbound_messages.c.source == "shop", inbound_messages.c.outcome == "accepted")
        .order_by(inbound_messages.c.id)
    )
    with engine.connect() as conn:
        return [(str(m), str(e), k) for m, e, k in conn.execute(query)]


def outbox_events(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        query = select(outbox.c.event_id).where(outbox.c.class_name == "shop")
        return [str(e) for e in conn.execute(query).scalars()]


def test_acknowledged_inbound_events_survive_killed_workers_and_server(
    hub: Hub, engine: Engine, tmp_path: Path
) -> None:
    rng = random.Random(1919)
    _, secret = hub.inbound.add_source(SOURCE)
    assert secret is not None
    env = hub_env(engine, tmp_path)
    server = Server(env, tmp_path)
    # PostgreSQL runs workers side by side; a kill then lands beside a live one.
    count = 2 if engine.dialect.name == "postgresql" else 1
    workers = [worker(env, tmp_path, f"worker-{n}") for n in range(count)]
    with receiver_in_thread(Receiver(answer=slow_ok)) as receiver:
        hub.webhooks.create({"url": receiver.url, "eventTypes": [ORDER_TYPE]})
        server.start()
        for w in workers:
            w.start()
        sender = Sender(f"{server.base}/inbound/shop", secret, random.Random(rng.random()))
        try:
            before_server_kill = crash_while_sending(
                rng, sender, server, workers, lambda: len(receiver.requests)
            )
            expected = {event_id for _, event_id, _ in accepted_rows(engine)}
            until(
                lambda: expected <= set(receiver.ids()),
                "every accepted event at the receiver",
                seconds=60,
                explain=lambda: f"{len(expected - set(receiver.ids()))} of {len(expected)} missing",
            )
        finally:
            exits = [w.stop() for w in workers]
            server_exit = server.stop()
        # A worker started by the last kill may still be starting up when stopped (-SIGTERM).
        assert set(exits) <= {0, -signal.SIGTERM}, [w.log() for w in workers]
        assert server_exit in (0, -signal.SIGTERM), server.log()  # uvicorn re-raises it

    refused = [a for a in sender.answers if not 200 <= a.status < 300]
    assert refused == []
    acknowledged = sender.acknowledged()
    assert len(acknowledged) > ANSWERS / 2
    # Every 2xx for one message named the same event; a resend of an accepted one is a 200.
    assert {m: ids for m, ids in acknowledged.items() if len(ids) != 1} == {}
    event_of = {m: next(iter(ids)) for m, ids in acknowledged.items()}
    first_seen: set[str] = set()
    for a in sender.answers:
        if a.message_id in first_seen:
            assert (a.status, a.status_text) == (200, "duplicate"), a
        if a.status == 202:
            first_seen.add(a.message_id)

    rows = accepted_rows(engine)
    audited = {m: e for m, e, _ in rows}
    assert len(audited) == len(rows)  # one accepted audit row per message id
    # Acknowledged means stored: in the audit, under the event id the sender was told.
    assert {m: audited.get(m) for m in event_of} == event_of
    assert before_server_kill and before_server_kill <= set(audited)
    # One outbox event per accepted message, no more.
    events = outbox_events(engine)
    assert sorted(events) == sorted(audited.values())

    # The receiver, de-duplicating by webhook-id, got each accepted message's event, and
    # nothing else; each webhook-id carried one message.
    message_of: dict[str, set[str]] = {}
    for got in receiver.delivered:
        message_of.setdefault(got.webhook_id, set()).add(got.payload["data"]["messageId"])
    assert set(message_of) == set(audited.values())
    assert {w: ms for w, ms in message_of.items() if len(ms) != 1} == {}
    assert {next(iter(ms)) for ms in message_of.values()} == set(audited)

    # Per key, first arrivals come in the order the messages were accepted (a redelivery after
    # a kill may repeat one, never overtake it).
    arrived: dict[str, list[str]] = {}
    for got in receiver.delivered:
        data = got.payload["data"]
        if data["messageId"] not in arrived.setdefault(data["key"], []):
            arrived[data["key"]].append(data["messageId"])
    accepted_per_key: dict[str, list[str]] = {}
    for message_id, _, key in rows:
        accepted_per_key.setdefault(str(key), []).append(message_id)
    assert arrived == accepted_per_key


def crash_while_sending(
    rng: random.Random,
    sender: Sender,
    server: Server,
    workers: list[HubProcess],
    deliveries: Callable[[], int],
) -> set[str]:
    """Kills a worker 3 to 5 times at random points of the stream (after a random number of
    answers, and once the workers deliver again since the last kill: a slow machine sees the
    same story), and the server once among them; returns the message ids answered 2xx before
    the server died."""
    kills = rng.randint(3, 5)
    points = sorted(rng.sample(range(5, ANSWERS - 20), kills))
    server_at = rng.randrange(kills)
    before: set[str] = set()

    def answered(count: int) -> Callable[[], bool]:
        return lambda: len(sender.answers) >= count or sender.failure is not None

    def delivering(since: int) -> Callable[[], bool]:
        """The workers deliver again (or the sender is done and nothing may be left)."""
        return lambda: deliveries() > since or len(sender.answers) >= MAX_ANSWERS

    with sending(sender):
        for k, point in enumerate(points):
            delivered = deliveries()
            until(answered(point), f"{point} answers", seconds=120)
            until(delivering(delivered), "deliveries after a restart", seconds=120)
            time.sleep(rng.uniform(0, 0.1))
            victim = rng.choice(workers)
            victim.kill()
            victim.start()
            if k == server_at:
                server.kill()
                before = set(sender.acknowledged())  # all answered before it died
                server.start()
        until(answered(ANSWERS), f"{ANSWERS} answers", seconds=120)
    return before
