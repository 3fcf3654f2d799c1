"""One process's SQLite writers take turns first come, first served; an ending wakes the next
writer only, not every waiting one."""

from __future__ import annotations

import threading
import time

from core.db import _WriterQueue


def test_writers_take_turns_in_order_and_each_is_woken_once():
    writers = _WriterQueue()
    first = object()
    writers.wait_for_turn(first)
    order: list[int] = []
    holding = threading.Semaphore(0)
    inside = []

    def write(number: int) -> None:
        connection = object()
        writers.wait_for_turn(connection)
        inside.append(number)
        assert len(inside) == 1  # one writer at a time
        order.append(number)
        inside.remove(number)
        writers.finished(connection)
        holding.release()

    threads = []
    for number in range(6):
        thread = threading.Thread(target=write, args=(number,))
        thread.start()
        threads.append(thread)
        deadline = time.monotonic() + 5
        while len(writers._waiting) < number + 1 and time.monotonic() < deadline:
            time.sleep(0.001)  # queued in this order
    writers.finished(first)
    for thread in threads:
        thread.join(timeout=5)
    assert order == list(range(6))
    assert writers.wakeups == 6  # each waiter woken once: no thundering herd


def test_a_writer_with_the_turn_free_takes_it_at_once_and_a_foreign_ending_passes_nothing():
    writers = _WriterQueue()
    mine, other = object(), object()
    writers.wait_for_turn(mine)
    writers.finished(other)  # not the holder's: nothing passes on
    got = threading.Event()

    def wait() -> None:
        writers.wait_for_turn(other)
        got.set()

    thread = threading.Thread(target=wait)
    thread.start()
    assert not got.wait(0.1)
    writers.finished(mine)
    assert got.wait(5)
    thread.join(timeout=5)
    writers.finished(other)
    writers.wait_for_turn(mine)  # free again: taken at once, no wake-up
    assert writers.wakeups == 1
