"""Leader election through the database: one leader, takeover on expiry, fencing by epoch."""

import threading

from core.clock import FakeClock
from scheduler.leader import LeaderLease


def test_first_process_leads_and_a_second_waits(engine, fake_clock):
    first = LeaderLease(engine, fake_clock, "a", ttl_s=90)
    second = LeaderLease(engine, fake_clock, "b", ttl_s=90)
    assert first.acquire_or_renew()
    assert not second.acquire_or_renew()
    assert first.is_leader and not second.is_leader


def test_leader_renews_and_keeps_its_epoch(engine, fake_clock):
    lease = LeaderLease(engine, fake_clock, "a", ttl_s=90)
    assert lease.acquire_or_renew()
    epoch = lease.epoch
    for _ in range(5):
        fake_clock.advance(30)
        assert lease.acquire_or_renew()
    assert lease.epoch == epoch


def test_standby_takes_over_when_the_leader_stops_renewing(engine, fake_clock):
    leader = LeaderLease(engine, fake_clock, "a", ttl_s=90)
    standby = LeaderLease(engine, fake_clock, "b", ttl_s=90)
    assert leader.acquire_or_renew()
    fake_clock.advance(60)
    assert not standby.acquire_or_renew()
    fake_clock.advance(31)
    assert standby.acquire_or_renew()
    assert standby.epoch == leader.epoch + 1


def test_a_paused_leader_is_fenced_out_and_steps_down(engine, fake_clock):
    leader = LeaderLease(engine, fake_clock, "a", ttl_s=90)
    standby = LeaderLease(engine, fake_clock, "b", ttl_s=90)
    assert leader.acquire_or_renew()
    fake_clock.advance(120)  # the leader was paused (SIGSTOP) past its TTL
    assert standby.acquire_or_renew()
    assert not leader.acquire_or_renew()  # resumes, finds a newer epoch, does not act
    assert not leader.is_leader
    assert standby.acquire_or_renew()


def test_clean_step_down_lets_the_standby_lead_at_once(engine, fake_clock):
    leader = LeaderLease(engine, fake_clock, "a", ttl_s=90)
    standby = LeaderLease(engine, fake_clock, "b", ttl_s=90)
    assert leader.acquire_or_renew()
    leader.step_down()
    leader.step_down()  # idempotent
    assert standby.acquire_or_renew()


def test_many_contenders_at_once_elect_exactly_one(engine):
    clock = FakeClock()
    contenders = [LeaderLease(engine, clock, f"p{i}", ttl_s=90) for i in range(8)]
    results: list[bool] = []
    barrier = threading.Barrier(len(contenders))

    def contend(lease: LeaderLease) -> None:
        barrier.wait(timeout=10)
        results.append(lease.acquire_or_renew())

    threads = [threading.Thread(target=contend, args=(c,)) for c in contenders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert results.count(True) == 1
