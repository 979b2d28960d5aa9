"""A user service on the test database (both backends) with a clock the test moves."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from pimhub.bootstrap import Hub
from pimhub.storage.users import SqlSessionRepository, SqlUserRepository
from pimhub.users.passwords import Argon2Passwords
from pimhub.users.service import UserService

PASSWORD = "correct horse battery"


@dataclass
class Clock:
    now: datetime = field(default_factory=lambda: datetime(2026, 3, 1, 9, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class CountingPasswords(Argon2Passwords):
    """Cheap argon2 that counts verifications (the unknown-user path must verify too)."""

    def __init__(self, **kwargs: int) -> None:
        super().__init__(**({"time_cost": 1, "memory_cost": 64} | kwargs))
        self.verified: list[str] = []

    def verify(self, stored: str, password: str) -> bool:
        self.verified.append(stored)
        return super().verify(stored, password)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def users(bare_hub: Hub, clock: Clock) -> UserService:
    return UserService(
        SqlUserRepository(bare_hub.engine),
        SqlSessionRepository(bare_hub.engine),
        CountingPasswords(),
        idle=timedelta(hours=1),
        absolute=timedelta(hours=5),
        clock=clock,
    )
