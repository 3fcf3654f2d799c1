"""What an idle-timeout rule would have cost on past submissions: the pool replayed in brief.

Pure and fast: `cost_usd` walks the submissions once with at most `max_instances` instances,
following the rules of `core.pool.policy` closely enough to rank timeouts:

- A job takes a free ready instance at once (the most recently used). Without one, it is
  served by whichever instance frees first, and a new instance is rented at the next tick,
  up to the cap: with `hold_rentals`, only if every instance up or booting frees later than
  a boot after it (`core.pool.policy.queue_needs`: a job behind one that frees sooner waits
  for it); without, whenever the jobs waiting outnumber the instances still booting (target
  = busy + queued). A rental becomes ready a boot after the next tick, seen at the tick
  after that.
- An instance is let go `timeout` seconds after its last job ends (the timeout chosen for an
  idle period starting then), or `extra_s` after it while another instance was used later
  (`core.pool.policy.PoolSettings.extra_idle_timeout_s`); one rented for a queue that another
  instance served first is let go as soon as it is ready. Each bills from its rental to its release.
- GPU seconds cost `idle` dollars each; each second a job waits for a GPU costs `wait`.

It is a ranking model, not a ledger: what it cannot see (health checks, provider lag, the
minimum of `desired_size` warm) shifts every timeout alike.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime


@dataclass
class _Instance:
    rented_s: float
    ready_s: float
    free_s: float
    """When it can take its next job (its ready time until it has served one)."""
    used: bool = False


@dataclass(frozen=True)
class PoolModel:
    """The pool's physics: boot, tick, cap, a job's GPU time, and the two prices."""

    boot_s: float
    tick_s: float
    job_s: float
    max_instances: int
    idle: float
    """Dollars per GPU second."""
    wait: float
    """Dollars per second a job waits."""


def cost_usd(
    times: Sequence[datetime],
    timeout_of: Callable[[float], float],
    model: PoolModel,
    extra_s: float | None = None,
    *,
    hold_rentals: bool = True,
) -> float:
    """GPU plus waiting dollars of serving the sorted `times` with `timeout_of(idle_start_s)`
    seconds of idling after each job (seconds counted from `times[0]`), at most `extra_s` for
    an instance while another one's last job ended later, up to the last submission's end.
    `hold_rentals`: a queued job rents only if it would wait longer than a boot; else every
    job finding no free instance rents one (while fewer are booting than wait)."""
    if not times:
        return 0.0
    origin = times[0]
    up: list[_Instance] = []
    billed_s = waited_s = 0.0
    queue_starts: list[float] = []  # start times of the jobs that queued, as seen at arrivals

    def release(instance: _Instance, at_s: float) -> None:
        nonlocal billed_s
        billed_s += max(0.0, at_s - instance.rented_s)
        up.remove(instance)

    for when in times:
        at_s = (when - origin).total_seconds()
        for instance, end_s in _releases(up, timeout_of, extra_s):
            if end_s <= at_s:
                release(instance, end_s)
        free = [i for i in up if i.free_s <= at_s]
        if free:
            chosen = max(free, key=lambda i: i.free_s)
            start_s = at_s
        else:
            rent_s = at_s + model.tick_s / 2
            soonest_s = min((i.free_s for i in up), default=float("inf"))
            queue_starts = [s for s in queue_starts if s > at_s]
            booting = sum(1 for i in up if i.ready_s > at_s)
            waiting = len(queue_starts) + 1
            needed = soonest_s - rent_s > model.boot_s if hold_rentals else waiting > booting
            if needed and len(up) < model.max_instances:
                ready_s = rent_s + model.boot_s + model.tick_s / 2
                up.append(_Instance(rent_s, ready_s, ready_s))
            chosen = min(up, key=lambda i: i.free_s)
            start_s = max(at_s, chosen.free_s)
            queue_starts.append(start_s)
        waited_s += start_s - at_s
        chosen.free_s = start_s + model.job_s
        chosen.used = True
    last_s = (times[-1] - origin).total_seconds() + model.job_s
    for instance, end_s in _releases(up, timeout_of, extra_s):
        release(instance, min(end_s, max(last_s, instance.free_s)))
    return billed_s * model.idle + waited_s * model.wait


def _releases(
    up: Sequence[_Instance], timeout_of: Callable[[float], float], extra_s: float | None
) -> list[tuple[_Instance, float]]:
    """Each up instance with when it is let go if no job comes first: a boot for one never
    used, else its timeout after its last job (`extra_s` at most unless it ends last)."""
    latest_s = max((i.free_s for i in up if i.used), default=0.0)
    releases = []
    for instance in up:
        if not instance.used:
            releases.append((instance, instance.ready_s))
            continue
        timeout_s = timeout_of(instance.free_s)
        if extra_s is not None and instance.free_s < latest_s:
            timeout_s = min(timeout_s, extra_s)
        releases.append((instance, instance.free_s + timeout_s))
    return releases
