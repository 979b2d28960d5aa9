"""The receive path's source cache must not refuse a correctly signed message: a secret rotated
by another process, or a source removed and added again, is read anew before a 401."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pimhub.bootstrap import Hub
from pimhub.events.secret_box import SecretBox
from pimhub.inbound.errors import MessageUnverified
from pimhub.inbound.messages import Outcome
from pimhub.inbound.service import InboundService
from pimhub.storage.inbound import SqlInbox, SqlSourceRepository

BODY = b'{"type":"erp.stock.changed","n":1}'


def process(hub: Hub) -> InboundService:
    """An InboundService of its own, as another process on the same database would have."""
    return InboundService(
        SqlSourceRepository(hub.engine),
        SqlInbox(hub.engine),
        SecretBox("test-passphrase"),
        hub.access.authenticate,
        clock=lambda: datetime.now(UTC),
        rotation_overlap=timedelta(hours=1),
        cache_seconds=3600,  # far longer than the test: only a re-read can see the change
    )


def headers(secret: str, msg_id: str) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "x-webhook-secret": secret,
        "idempotency-key": msg_id,
    }


@pytest.mark.parametrize("inline", [False, True], ids=["thread", "loop"])
def test_a_rotation_by_another_process_is_seen_before_a_401(bare_hub: Hub, inline: bool) -> None:
    receiver, admin = process(bare_hub), process(bare_hub)
    _, old = admin.add_source({"name": "erp", "scheme": "shared-secret"})
    assert old is not None
    receive = _receiver(receiver, inline)
    assert receive(headers(old, "m-1")).outcome is Outcome.ACCEPTED  # cached now
    new = admin.rotate_secret("erp", overlap=timedelta(0))
    assert receive(headers(new, "m-2")).outcome is Outcome.ACCEPTED
    with pytest.raises(MessageUnverified):  # the old one is gone (no overlap)
        receive(headers(old, "m-3"))
    with pytest.raises(MessageUnverified):
        receive(headers("a-wrong-secret-of-some-length", "m-4"))


@pytest.mark.parametrize("inline", [False, True], ids=["thread", "loop"])
def test_a_source_removed_and_added_again_elsewhere_is_seen_before_a_401(
    bare_hub: Hub, inline: bool
) -> None:
    receiver, admin = process(bare_hub), process(bare_hub)
    admin.add_source({"name": "erp", "scheme": "shared-secret"})
    _, first = admin.add_source({"name": "erp2", "scheme": "shared-secret"})
    assert first is not None
    receive = _receiver(receiver, inline, "erp2")
    assert receive(headers(first, "m-1")).outcome is Outcome.ACCEPTED
    admin.remove_source("erp2")
    _, second = admin.add_source({"name": "erp2", "scheme": "shared-secret"})
    assert second is not None and second != first
    assert receive(headers(second, "m-2")).outcome is Outcome.ACCEPTED


def test_the_cache_reads_a_source_and_its_secrets_together(bare_hub: Hub) -> None:
    """One read: a remove and add between two reads paired a source with the secret of
    another (or none) and refused the right secret."""
    service = process(bare_hub)
    _, secret = service.add_source({"name": "erp", "scheme": "shared-secret"})
    assert secret is not None

    def separately(*args: Any) -> Any:
        raise AssertionError("the secrets were read apart from the source")

    service.sources.secrets = separately  # type: ignore[method-assign]
    receipt = service.receive("erp", headers(secret, "m-1"), BODY, None)
    assert receipt.outcome is Outcome.ACCEPTED


def _receiver(service: InboundService, inline: bool, name: str = "erp") -> Any:
    def receive(given: dict[str, str]) -> Any:
        if not inline:
            return service.receive(name, given, BODY, None)
        service.max_bytes(name)  # cached, so the loop path checks it on the loop
        assert service.receives_inline(name, len(BODY))
        return asyncio.run(service.receive_async(name, given, BODY, None))

    return receive
