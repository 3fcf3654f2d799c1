"""The sweep board and the lister, on a fake clock and a provider double."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from core.clock import FakeClock
from core.errors import ProviderUnavailable
from core.pool.provider import RemoteInstance, RemoteState
from core.pool.sweeps import MAX_SWEEP_AGE, Lister, Sweep, SweepBoard


def _remote(label: str) -> RemoteInstance:
    return RemoteInstance(
        id=label, state=RemoteState.RUNNING, gpu_name=None, num_gpus=1,
        price_per_hour_usd=None, comfy_url=None, label=label, machine_id=None,
        started_at=None, status_message=None,
    )  # fmt: skip


class Listed:
    """A provider whose list answers `pages` in turn (an exception is raised), each taking
    `took_s` on the clock."""

    def __init__(self, clock: FakeClock, pages: list, took_s: float = 40.0) -> None:
        self.clock, self.pages, self.took_s, self.calls = clock, pages, took_s, 0

    def list_instances(self, label_prefix: str) -> list[RemoteInstance]:
        self.calls += 1
        self.clock.advance(self.took_s)
        page = self.pages.pop(0)
        if isinstance(page, Exception):
            raise page
        return page


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_a_sweep_carries_its_start_and_end_and_the_board_keeps_the_last_two(clock):
    board = SweepBoard()
    provider = Listed(clock, [[_remote("a")], [], [_remote("b")]])
    lister = Lister(provider, "aik-", clock, board, still_leading=lambda: True)  # type: ignore[arg-type]
    started = clock.now()
    first = lister.sweep()
    assert first is not None and (first.started_at, first.ended_at) == (
        started,
        started + timedelta(seconds=40),
    )
    assert first.labels == {"a"}
    second, third = lister.sweep(), lister.sweep()
    seen = board.observation(clock.now())
    assert seen is not None and (seen.latest, seen.previous) == (third, second)


def test_a_failed_pass_publishes_nothing_and_the_last_sweep_stays_until_it_is_too_old(clock):
    board = SweepBoard()
    provider = Listed(clock, [[_remote("a")], ProviderUnavailable("502")])
    lister = Lister(provider, "aik-", clock, board, still_leading=lambda: True)  # type: ignore[arg-type]
    good = lister.sweep()
    assert lister.last_failure is None
    assert lister.sweep() is None and lister.last_failure == "502"
    seen = board.observation(clock.now())
    assert seen is not None and seen.latest == good and seen.previous is None
    clock.advance(MAX_SWEEP_AGE.total_seconds())
    assert board.observation(clock.now()) is None


def test_a_standby_lists_nothing_and_forgets_what_it_swept_as_leader(clock):
    board = SweepBoard()
    board.publish(Sweep(clock.now(), clock.now(), ()))
    provider = Listed(clock, [[]])
    lister = Lister(provider, "aik-", clock, board, still_leading=lambda: False)  # type: ignore[arg-type]
    assert lister.sweep() is None
    assert provider.calls == 0 and board.observation(clock.now()) is None


def test_run_sweeps_until_stopped(clock):
    board = SweepBoard()
    stop = threading.Event()
    provider = Listed(clock, [[], [], []], took_s=0)

    def leading() -> bool:
        if provider.calls == 2:
            stop.set()
        return True

    lister = Lister(provider, "aik-", clock, board, still_leading=leading)  # type: ignore[arg-type]
    lister.run(stop, gap_s=0)
    assert provider.calls == 2


def test_run_outlives_a_pass_that_crashed(clock):
    """A database fault in the lease check must not end the lister: every later tick would
    plan without a sweep."""
    board = SweepBoard()
    stop = threading.Event()
    provider = Listed(clock, [[], []], took_s=0)
    checks = [0]

    def leading() -> bool:
        checks[0] += 1
        if checks[0] == 1:
            raise OSError("the database went away")
        if provider.calls == 2:
            stop.set()
        return True

    lister = Lister(provider, "aik-", clock, board, still_leading=leading)  # type: ignore[arg-type]
    lister.run(stop, gap_s=0)
    assert provider.calls == 2 and board.observation(clock.now()) is not None
