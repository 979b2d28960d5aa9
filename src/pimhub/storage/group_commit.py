"""Group commit: writes queued while another batch commits share the next transaction.

A writer thread takes whatever is queued (up to `max_batch`), writes it in one transaction
and completes each write's future only after the commit, so a 2xx answered on that future is
as durable as with a transaction of its own. Under load the commit (the WAL write, or
PostgreSQL's flush) is paid once per batch instead of once per write; alone, a write runs at
once in a batch of one. Callers on an event loop await the future (asyncio.wrap_future)
without a thread of their own; threads wait on `.result()`.

The thread exits after `idle_seconds` without work and starts again with the next write.

TickCommit is the same idea without the thread, for a database whose write lock the event
loop can try without waiting (SQLite): the writes submitted during one turn of the loop are
written together at the end of that turn, by the loop itself, when the lock is free at once;
when it is not (another process or thread is writing), they go to a GroupCommit's thread,
which waits for it. A hop to a thread and back per batch cost more than the batch's inserts:
both threads contend for the GIL, and each statement the writer ran gave it up."""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any, Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class GroupCommit(Generic[T, R]):
    def __init__(
        self,
        run_batch: Callable[[Sequence[T]], list[R]],
        run_one: Callable[[T], R],
        *,
        max_batch: int = 64,
        idle_seconds: float = 2.0,
        linger_seconds: float = 0.0005,
        name: str = "group-commit",
        on_exit: Callable[[], None] | None = None,
        splits: Callable[[Exception], bool] = lambda exc: True,
        writer_died: Callable[[BaseException], BaseException] | None = None,
    ) -> None:
        """`run_batch` writes every item in one transaction and returns their results in
        order; when it fails for a batch of several with an error that `splits` says may be
        one item's (bad data), each item runs alone with `run_one`, so that one bad write
        cannot fail the others. Other errors (the database is away) fail the whole batch at
        once: run alone, each item would only wait for the same failure again.

        When the thread dies (an error escaping its loop), the writes it held and the ones
        queued fail with `writer_died(error)` (a retryable error) and the next write starts
        a new thread: nobody waits for ever."""
        self.run_batch = run_batch
        self.run_one = run_one
        self.max_batch = max_batch
        self.idle_seconds = idle_seconds
        self.linger_seconds = linger_seconds
        self.name = name
        self.on_exit = on_exit  # called on the writer thread as it ends (its resources)
        self.splits = splits
        self.writer_died = writer_died or _writer_died
        self._holding: list[tuple[T, Waiter[R]]] = []  # the batch being written
        self._queue: queue.SimpleQueue[tuple[T, Waiter[R]]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._running = False

    def submit(self, item: T) -> Future[R]:
        """The write's future: its result once committed, or the error that stopped it."""
        future: Future[R] = Future()
        self._put(item, future)
        return future

    def submit_async(self, item: T) -> asyncio.Future[R]:
        """submit for the running event loop; the writer settles every future of a batch
        with one call into the loop, not one wake-up each."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._put(item, future)
        return future

    def enqueue(self, item: T, future: Future[R] | asyncio.Future[R]) -> None:
        """Queues `item` for the writer thread, which settles `future`."""
        self._put(item, future)

    def _put(self, item: T, future: Future[R] | asyncio.Future[R]) -> None:
        self._queue.put((item, future))
        with self._lock:
            if not self._running:
                self._running = True
                threading.Thread(target=self._work, name=self.name, daemon=True).start()

    def _work(self) -> None:
        died: BaseException | None = None
        try:
            self._serve()
        except BaseException as exc:
            died = exc
            raise
        finally:
            try:
                if self.on_exit is not None:
                    self.on_exit()
            finally:
                if died is not None:
                    self._abandon(died)

    def _abandon(self, died: BaseException) -> None:
        """The thread is going down: its batch and the queued writes fail, retryably, and
        the next write starts another thread. Under the lock, so that a write queued from
        now on either is drained here or finds the thread gone."""
        error = self.writer_died(died)
        with self._lock:
            waiters = [waiter for _, waiter in self._holding]
            self._holding = []
            while True:
                try:
                    waiters.append(self._queue.get_nowait()[1])
                except queue.Empty:
                    break
            self._running = False
        _fail(waiters, error)

    def _serve(self) -> None:
        busy = False
        while True:
            try:
                first = self._queue.get(timeout=self.idle_seconds)
            except queue.Empty:
                with self._lock:
                    # A write queued after the timeout is seen here, or finds the thread
                    # gone and starts another.
                    if self._queue.empty():
                        self._running = False
                        return
                continue
            if busy and self.linger_seconds:
                # Under load (the last batch had company) the next writes are moments away:
                # waiting for them costs a fraction of the commit they then share.
                time.sleep(self.linger_seconds)
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            busy = len(batch) > 1
            self._holding = batch
            self._run(batch)
            self._holding = []

    def _run(self, batch: list[tuple[T, Waiter[R]]]) -> None:
        outcomes: list[R | BaseException]
        try:
            outcomes = list(self.run_batch([item for item, _ in batch]))
        except Exception as exc:
            if len(batch) == 1 or not self.splits(exc):
                outcomes = [exc] * len(batch)
            else:
                outcomes = [self._alone(item) for item, _ in batch]
        _settle([(waiter, outcome) for (_, waiter), outcome in zip(batch, outcomes, strict=True)])

    def _alone(self, item: T) -> R | BaseException:
        try:
            return self.run_one(item)
        except Exception as exc:
            return exc


Waiter = Future[R] | asyncio.Future[R]


class WriterDied(RuntimeError):
    """The writer thread stopped before this write was committed (nothing was written, or
    its transaction was rolled back); writing it again may succeed."""

    retryable = True


def _writer_died(error: BaseException) -> BaseException:
    return WriterDied(f"the writer thread stopped ({type(error).__name__}); try again")


def _fail(waiters: list[Waiter[Any]], error: BaseException) -> None:
    """Fails the waiters not settled yet (a concurrent future may have been settled before
    the thread died)."""
    pending: list[tuple[Waiter[Any], Any]] = []
    for waiter in waiters:
        if isinstance(waiter, Future) and waiter.done():
            continue
        pending.append((waiter, error))
    with contextlib.suppress(Exception):
        _settle(pending)


def _settle(outcomes: list[tuple[Waiter[Any], Any]]) -> None:
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Any]]] = {}
    for waiter, outcome in outcomes:
        if isinstance(waiter, asyncio.Future):
            by_loop.setdefault(waiter.get_loop(), []).append((waiter, outcome))
        elif isinstance(outcome, BaseException):
            waiter.set_exception(outcome)
        else:
            waiter.set_result(outcome)
    for loop, settled in by_loop.items():
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits there any more
            loop.call_soon_threadsafe(_settle_in_loop, settled)


def _settle_in_loop(settled: list[tuple[asyncio.Future[Any], Any]]) -> None:
    for future, outcome in settled:
        if future.done():  # cancelled: the client went away
            continue
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)


class TickCommit(Generic[T, R]):
    def __init__(
        self,
        try_batch: Callable[[Sequence[T]], list[R] | None],
        thread: GroupCommit[T, R],
        *,
        max_batch: int = 64,
    ) -> None:
        """`try_batch` writes every item in one transaction on the calling (loop) thread and
        returns their results in order, or None, having written nothing, when the write lock
        is not free at once. Then, or when it fails, the items go to `thread` (which retries
        a failed batch item by item)."""
        self.try_batch = try_batch
        self.thread = thread
        self.max_batch = max_batch
        self._pending: dict[asyncio.AbstractEventLoop, list[tuple[T, asyncio.Future[R]]]] = {}

    def submit(self, item: T) -> asyncio.Future[R]:
        """The write's future on the running loop: its result once committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        pending = self._pending.get(loop)
        if pending is None:
            pending = self._pending[loop] = []
            # After the callbacks already due in this turn: the requests that arrived with
            # this one reach submit first and share the transaction.
            loop.call_soon(self._flush, loop)
        pending.append((item, future))
        return future

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        pending = self._pending.pop(loop, [])
        for start in range(0, len(pending), self.max_batch):
            self._write(pending[start : start + self.max_batch])

    def _write(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            results = self.try_batch([item for item, _ in batch])
        except Exception:
            results = None  # the thread writes them again, alone if need be, and reports
        if results is None:
            for item, future in batch:
                self.thread.enqueue(item, future)
            return
        _settle_in_loop(list(zip((future for _, future in batch), results, strict=True)))
