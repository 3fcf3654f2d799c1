"""The clocks: the fake one moves only when told (never back); the system one is aware UTC."""

from datetime import UTC, datetime, timedelta

import pytest

from core.clock import FakeClock, SystemClock


def test_fake_clock_moves_only_when_advanced():
    clock = FakeClock(datetime(2026, 3, 1, tzinfo=UTC))
    assert clock.now() == datetime(2026, 3, 1, tzinfo=UTC)
    clock.advance(90)
    assert clock.now() == datetime(2026, 3, 1, 0, 1, 30, tzinfo=UTC)
    assert clock.monotonic() == 90


def test_fake_clock_sleep_advances_instead_of_waiting():
    clock = FakeClock()
    start = clock.now()
    clock.sleep(3600)
    assert clock.now() - start == timedelta(hours=1)


def test_fake_clock_refuses_naive_start_and_going_backwards():
    with pytest.raises(ValueError):
        FakeClock(datetime(2026, 1, 1))
    with pytest.raises(ValueError):
        FakeClock().advance(-1)


def test_system_clock_is_timezone_aware_and_monotonic():
    clock = SystemClock()
    assert clock.now().tzinfo is UTC
    first = clock.monotonic()
    clock.sleep(0.001)
    assert clock.monotonic() > first
