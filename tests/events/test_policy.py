"""Retry schedule, Retry-After and circuit breaker: the defaults are the ones docs/webhooks.md
promises (`Order, retries, dead letters`), so a changed number fails here first."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from pimhub.events.policy import CircuitPolicy, RetryPolicy, parse_retry_after

DOCS = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"
# Quoted from docs/webhooks.md; test_docs_promise_these_defaults keeps the two in step.
DOCUMENTED_SCHEDULE = "5 s, 1 min, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, 14 h, 20 h and 24 h"
DOCUMENTED_BREAKER = (
    "After 5 failures in a row the endpoint is paused (30 s, doubling up to 30 min)"
)
DOCUMENTED_DISABLE = "An endpoint that has failed every delivery for 5 days"
UNITS = {"s": timedelta(seconds=1), "min": timedelta(minutes=1), "h": timedelta(hours=1)}
NO_JITTER_DRAW = 0.5  # the middle of the jitter band scales a wait by exactly 1


def documented_waits() -> list[timedelta]:
    spans = DOCUMENTED_SCHEDULE.replace(" and ", ", ").split(", ")
    return [int(n) * UNITS[unit] for n, unit in (span.split() for span in spans)]


def test_docs_promise_these_defaults() -> None:
    if not DOCS.exists():  # the mutation run copies src and tests only
        pytest.skip("docs/webhooks.md is not in this tree")
    text = " ".join(DOCS.read_text().split())  # wherever the lines are wrapped
    for promise in (DOCUMENTED_SCHEDULE, DOCUMENTED_BREAKER, DOCUMENTED_DISABLE):
        assert promise in text
    assert "random ±10 %" in text and "honoured when longer (up to 24 h)" in text


def test_default_schedule_is_the_documented_one_then_dead_letters() -> None:
    policy = RetryPolicy(rng=lambda: NO_JITTER_DRAW)
    waits = [policy.next_delay(attempts) for attempts in range(1, 12)]
    assert waits == documented_waits()
    assert sum(documented_waits(), timedelta()) == timedelta(hours=85, minutes=36, seconds=5)
    assert policy.max_attempts == 12
    assert policy.next_delay(12) is None and policy.next_delay(13) is None


@pytest.mark.parametrize("draw", [0.0, 1.0])
def test_default_schedule_spans_more_than_72_hours_whatever_the_jitter(draw: float) -> None:
    policy = RetryPolicy(rng=lambda: draw)
    waits = [policy.next_delay(attempts) for attempts in range(1, policy.max_attempts)]
    assert sum((w for w in waits if w is not None), timedelta()) > timedelta(hours=72)


@pytest.mark.parametrize(("draw", "factor"), [(0.0, 0.9), (0.25, 0.95), (0.75, 1.05), (1.0, 1.1)])
def test_jitter_scales_every_wait_by_up_to_ten_percent(draw: float, factor: float) -> None:
    policy = RetryPolicy(rng=lambda: draw)
    for attempts, wait in enumerate(documented_waits(), start=1):
        delay = policy.next_delay(attempts)
        assert delay is not None
        assert abs(delay - wait * factor) < timedelta(milliseconds=1)


def test_a_custom_schedule_sets_the_number_of_attempts() -> None:
    policy = RetryPolicy(schedule=(timedelta(seconds=1), timedelta(seconds=2)), jitter=0)
    assert policy.max_attempts == 3
    assert [policy.next_delay(n) for n in (1, 2, 3)] == [
        timedelta(seconds=1),
        timedelta(seconds=2),
        None,
    ]


def test_retry_after_wins_only_when_longer_and_at_most_24_hours() -> None:
    policy = RetryPolicy(rng=lambda: NO_JITTER_DRAW)
    assert policy.next_delay(1, timedelta(seconds=1)) == timedelta(seconds=5)
    assert policy.next_delay(1, timedelta(0)) == timedelta(seconds=5)
    assert policy.next_delay(1, timedelta(minutes=10)) == timedelta(minutes=10)
    assert policy.next_delay(1, timedelta(hours=24)) == timedelta(hours=24)
    assert policy.next_delay(1, timedelta(days=9)) == timedelta(hours=24)
    assert policy.next_delay(11, timedelta(days=9)) == timedelta(hours=24)
    assert policy.next_delay(12, timedelta(minutes=10)) is None


def test_retry_after_cap_is_configurable() -> None:
    policy = RetryPolicy(jitter=0, max_retry_after=timedelta(hours=1))
    assert policy.next_delay(1, timedelta(days=1)) == timedelta(hours=1)


def test_retry_after_is_read_as_delay_seconds() -> None:
    assert parse_retry_after("120") == timedelta(seconds=120)
    assert parse_retry_after(" 7 ") == timedelta(seconds=7)
    assert parse_retry_after("0") == timedelta(0)


@pytest.mark.parametrize(
    "value", [None, "", " ", "-3", "+3", "1.5", "12a", "²", "Wed, 21 Oct 2026 07:28:00 GMT"]
)
def test_retry_after_other_than_delay_seconds_is_ignored(value: str | None) -> None:
    assert parse_retry_after(value) is None


@pytest.mark.parametrize("digits", [20, 5000])
def test_an_absurd_retry_after_waits_the_cap_instead_of_raising(digits: int) -> None:
    # Regression: 20 nines overflowed timedelta and the exception stopped the worker.
    retry_after = parse_retry_after("9" * digits)
    assert retry_after == timedelta.max
    assert RetryPolicy(jitter=0).next_delay(1, retry_after) == timedelta(hours=24)


def test_breaker_defaults_pause_after_5_failures_from_30_s_doubling_to_30_min() -> None:
    circuit = CircuitPolicy()
    pauses = [circuit.pause_for(failures) for failures in range(1, 13)]
    assert pauses == [None] * 4 + [
        timedelta(seconds=30),
        timedelta(minutes=1),
        timedelta(minutes=2),
        timedelta(minutes=4),
        timedelta(minutes=8),
        timedelta(minutes=16),
        timedelta(minutes=30),
        timedelta(minutes=30),
    ]
    assert circuit.pause_for(10**9) == timedelta(minutes=30)
    assert circuit.disable_after == timedelta(days=5)


def test_custom_breaker_pause_starts_at_threshold_doubles_and_caps() -> None:
    circuit = CircuitPolicy(
        threshold=3, first_pause=timedelta(seconds=10), max_pause=timedelta(seconds=60)
    )
    assert [circuit.pause_for(n) for n in (2, 3, 4, 5, 6, 50)] == [
        None,
        timedelta(seconds=10),
        timedelta(seconds=20),
        timedelta(seconds=40),
        timedelta(seconds=60),
        timedelta(seconds=60),
    ]


def test_pause_doubles_at_most_16_times() -> None:
    circuit = CircuitPolicy(
        threshold=1, first_pause=timedelta(seconds=1), max_pause=timedelta(days=365)
    )
    assert circuit.pause_for(17) == timedelta(seconds=2**16)
    assert circuit.pause_for(18) == timedelta(seconds=2**16)
