"""The dispatcher's claim rounds: a finishing job asks for one without waiting for one under
way, and no round asked for is lost."""

import threading
from types import SimpleNamespace

import sqlalchemy as sa

from core.clock import FakeClock
from scheduler.dispatcher import Dispatcher


def _dispatcher() -> Dispatcher:
    return Dispatcher(
        sa.create_engine("sqlite://"),
        FakeClock(),
        pool="default",
        run_context=SimpleNamespace(presets=None),  # type: ignore[arg-type]
        threads=2,
        may_claim=lambda: True,
    )


def test_a_finishing_job_asks_for_a_round_without_waiting_for_the_one_under_way():
    dispatcher = _dispatcher()
    entered, release = threading.Event(), threading.Event()
    rounds: list[str] = []

    def claim_all() -> int:
        rounds.append(threading.current_thread().name)
        if len(rounds) == 1:
            entered.set()
            release.wait(10)
        return 0

    dispatcher._claim_all = claim_all  # type: ignore[method-assign]
    first = threading.Thread(target=dispatcher.dispatch, name="loop")
    first.start()
    assert entered.wait(10)
    finished = threading.Thread(target=dispatcher._dispatch_after_job, name="job")
    finished.start()
    finished.join(5)
    assert not finished.is_alive()  # it did not wait for the round under way
    assert rounds == ["loop"]
    release.set()
    first.join(10)
    # The round the finishing job asked for ran once the first ended, on the first's thread.
    assert rounds == ["loop", "loop"]


def test_a_round_asked_for_when_none_is_under_way_runs_at_once():
    dispatcher = _dispatcher()
    rounds: list[str] = []
    dispatcher._claim_all = lambda: rounds.append("round") or 0  # type: ignore[method-assign]
    dispatcher._dispatch_after_job()
    dispatcher._dispatch_after_job()
    assert rounds == ["round", "round"]
