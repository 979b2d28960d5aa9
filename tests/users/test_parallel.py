"""Users under parallel requests (threads; meant for PostgreSQL, runs on SQLite too): one
name is created once, a user signs in from many places at once, and two administrators
demoting each other at once leave one."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier
from typing import TypeVar

from pimhub.catalog.errors import CatalogError, DuplicateKey
from pimhub.users.model import LastAdmin, Role
from pimhub.users.service import UserService
from tests.users.conftest import PASSWORD

T = TypeVar("T")
THREADS = 8


def at_once(work: Callable[[int], T], n: int = THREADS) -> list[T | BaseException]:
    """`work(i)` in n threads started together; each result or what it raised."""
    start = Barrier(n)

    def run(i: int) -> T | BaseException:
        start.wait()
        try:
            return work(i)
        except BaseException as exc:  # the test looks at every outcome
            return exc

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(run, range(n)))


def test_parallel_creates_of_one_name_make_one_user(users: UserService) -> None:
    outcomes = at_once(lambda i: users.create("same", PASSWORD, "viewer", display_name=f"n{i}"))
    made = [o for o in outcomes if not isinstance(o, BaseException)]
    refused = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(made) == 1, outcomes
    assert all(isinstance(o, DuplicateKey) for o in refused), refused
    assert [u.username for u in users.all()] == ["same"]


def test_parallel_sign_ins_of_one_user_all_work(users: UserService) -> None:
    users.create("busy", PASSWORD, "viewer")
    outcomes = at_once(lambda i: users.start_session(users.authenticate("busy", PASSWORD))[1])
    tokens = [o for o in outcomes if isinstance(o, str)]
    assert len(tokens) == THREADS, outcomes
    assert all(users.session(t) is not None for t in tokens)


def test_two_admins_demoting_each_other_at_once_leave_one(users: UserService) -> None:
    users.create("ann", PASSWORD, "admin")
    users.create("ben", PASSWORD, "admin")
    names = ["ann", "ben"]
    for _ in range(10):  # a race: without the row lock some rounds demote both
        outcomes = at_once(lambda i: users.set_role(names[i], Role.VIEWER), n=2)
        refused = [o for o in outcomes if isinstance(o, CatalogError)]
        assert len(refused) == 1 and isinstance(refused[0], LastAdmin), outcomes
        admins = [u.username for u in users.all() if u.role == Role.ADMIN]
        assert len(admins) == 1
        users.set_role(names[0] if admins == names[1:] else names[1], Role.ADMIN)
