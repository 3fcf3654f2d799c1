"""The pool's `Sender`: one call per key at a time, sent only while leading, in order."""

from __future__ import annotations

import threading

from core.errors import ProviderUnavailable
from core.pool.sends import Sender


def test_a_key_is_queued_once_until_its_call_is_done():
    sender: Sender[str] = Sender("destroy", still_leading=lambda: True)
    sent: list[str] = []
    assert sender.put("a", lambda: sent.append("a"))
    assert not sender.put("a", lambda: sent.append("a again"))
    assert sender.put("b", lambda: sent.append("b"))
    assert sender.pending() == {"a", "b"} and len(sender) == 2
    assert sender.drain() == []
    assert sent == ["a", "b"] and sender.pending() == frozenset()
    assert sender.put("a", lambda: sent.append("a later"))


def test_a_key_stays_pending_while_its_call_is_in_flight():
    sender: Sender[int] = Sender("create", still_leading=lambda: True)
    seen: list[frozenset[int]] = []
    sender.put(1, lambda: seen.append(sender.pending()))
    sender.send_next()
    assert seen == [{1}] and sender.pending() == frozenset()


def test_a_failed_call_is_reported_and_the_next_is_still_sent():
    sender: Sender[int] = Sender("create", still_leading=lambda: True)
    sent: list[int] = []

    def fails() -> None:
        raise ProviderUnavailable("timed out")

    sender.put(1, fails)
    sender.put(2, lambda: sent.append(2))
    assert sender.drain() == ["create: timed out"]
    assert sent == [2] and sender.pending() == frozenset()


def test_nothing_is_sent_once_leadership_is_lost_and_the_queue_is_dropped():
    leading = threading.Event()
    leading.set()
    sender: Sender[int] = Sender("create", still_leading=leading.is_set)
    sent: list[int] = []
    for key in (1, 2, 3):
        sender.put(key, lambda key=key: sent.append(key))
    sender.send_next()
    leading.clear()
    assert sender.drain() == []
    assert sent == [1] and sender.pending() == frozenset() and len(sender) == 0


def test_a_worker_sends_until_stopped_then_drops_what_is_left():
    sender: Sender[int] = Sender("create", still_leading=lambda: True)
    stop, sent, gate = threading.Event(), [], threading.Event()

    def first() -> None:
        sent.append(1)
        stop.set()  # stopped while this call is in flight: it finishes, the rest is dropped
        gate.set()

    def fails() -> None:
        raise ProviderUnavailable("timed out")

    sender.put(0, fails)
    sender.put(1, first)
    sender.put(2, lambda: sent.append(2))
    worker = threading.Thread(target=sender.run, args=(stop,))
    worker.start()
    assert gate.wait(5)
    worker.join(5)
    assert not worker.is_alive()
    assert sent == [1] and sender.pending() == frozenset()
    assert sender.take_failures() == ["create: timed out"] and sender.take_failures() == []


def test_a_worker_stopped_with_flush_s_sends_what_it_holds_until_the_deadline():
    sender: Sender[int] = Sender("destroy", still_leading=lambda: True)
    stop, sent = threading.Event(), []
    stop.set()  # stopped before it sent anything

    def slow(key: int) -> None:
        sent.append(key)
        threading.Event().wait(0.15)

    for key in (1, 2, 3):
        sender.put(key, lambda key=key: slow(key))
    sender.run(stop, flush_s=0.2)  # 1 at 0 s, 2 at ~0.15 s, 3 not begun past 0.2 s
    assert sent == [1, 2] and sender.pending() == frozenset() and len(sender) == 0


def test_a_flush_sends_nothing_once_leadership_is_lost():
    sender: Sender[int] = Sender("destroy", still_leading=lambda: False)
    sent: list[int] = []
    sender.put(1, lambda: sent.append(1))
    stop = threading.Event()
    stop.set()
    sender.run(stop, flush_s=5)
    assert sent == [] and sender.pending() == frozenset()
