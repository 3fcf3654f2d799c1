"""The fault campaign's own power: with a sender or provider bug injected, it reports one.

A campaign that passes proves little unless it fails when the code is wrong. Each test here
breaks one thing the way a plausible change would, runs a short seeded campaign
(`testing.pool_harness.run_campaign`) and asserts the campaign reports the damage: a key a
sender keeps pending that no call will clear (`stranded_keys`), an instance billing behind a
row being destroyed (`lingering`), one no row knows (`leaked`), or an instance rented twice
under one row's label (`rented_twice`).
"""

from __future__ import annotations

from typing import Any

from core.pool.sends import Sender
from core.pool.vast import VastProvider
from testing.pool_harness import campaign_on_sim as _campaign

DROP_SEED = 5
"""A seed whose campaign hands leadership over while the senders hold calls and the same
leader takes it back (`ThreadedPool.lose_leadership`): the broken drop has work to break."""


def _drop_keeping_keys_pending(self: Sender[Any]) -> int:
    """`Sender.drop` that forgets the queued calls but leaves their keys pending: the plan
    never decides those creates and destroys again while this leader lives."""
    with self._lock:
        dropped = len(self._queue)
        self._queue.clear()
    return dropped


def test_a_drop_that_keeps_the_dropped_keys_pending_is_reported(engine, fake_clock, monkeypatch):
    monkeypatch.setattr(Sender, "drop", _drop_keeping_keys_pending)
    result = _campaign(engine, fake_clock, DROP_SEED, threaded_sends=True)
    assert result.leadership_losses > 0
    assert result.stranded_keys > 0


def test_a_destroy_taken_off_the_queue_and_never_sent_is_reported(engine, fake_clock, monkeypatch):
    send_next = Sender.send_next

    def losing_destroys(self: Sender[Any]) -> str | None:
        if self.kind == "destroy":
            with self._lock:
                if self._queue:
                    self._queue.popleft()  # gone, its key still pending: never sent
                    return None
        return send_next(self)

    monkeypatch.setattr(Sender, "send_next", losing_destroys)
    result = _campaign(engine, fake_clock, 0, threaded_sends=True, steps=20)
    assert result.stranded_keys > 0
    assert result.lingering + result.leaked > 0, "the instances it kept billing were not seen"


def test_a_create_sent_twice_to_vast_is_reported_as_a_double_rental(
    engine, fake_clock, monkeypatch
):
    create = VastProvider.create

    def creating_twice(self: VastProvider, *args: Any, **kwargs: Any) -> Any:
        create(self, *args, **kwargs)
        return create(self, *args, **kwargs)

    monkeypatch.setattr(VastProvider, "create", creating_twice)
    result = _campaign(engine, fake_clock, 2, steps=12)
    assert result.rented_twice > 0
