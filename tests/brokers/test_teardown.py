"""The broker tests' teardown: a broker that answers over AMQP is not checked with the
rabbitmq CLI (1.7 s a call); one that does not answer is."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import replace

import pytest

from tests.brokers import conftest
from tests.brokers.conftest import Rabbit, bind, tidy


def test_a_running_broker_is_tidied_without_the_cli(
    rabbit: Rabbit, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked: list[bool] = []
    monkeypatch.setattr(conftest, "ensure_running", lambda: checked.append(True))
    asyncio.run(bind(rabbit))
    tidy(rabbit)
    assert checked == []


def test_an_unreachable_broker_is_checked_with_the_cli(
    rabbit: Rabbit, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked: list[bool] = []
    monkeypatch.setattr(conftest, "ensure_running", lambda: checked.append(True))
    with socket.socket() as unused:  # a port nothing listens on
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    away = replace(rabbit, amqp_url=f"amqp://guest:guest@127.0.0.1:{port}/")
    tidy(away)
    assert checked == [True]
