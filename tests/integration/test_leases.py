"""Leases on every backend: one job per instance, atomically, even under contention."""

import threading
from datetime import timedelta

from sqlmodel import select

from core.db import read_scope, session_scope
from core.models import GpuInstance, InstanceState, Lease, PoolConfig
from core.pool import leases
from testing.factories import make_instance, make_job, make_pool, make_user
from testing.statements import flat, statements_sent


def _ready(engine, n, **kw):
    return [
        make_instance(
            engine, state=InstanceState.READY, comfy_url=f"http://127.0.0.1:{9000 + i}", **kw
        )
        for i in range(n)
    ]


def _acquire(engine, job_id, clock):
    with session_scope(engine) as session:
        return leases.acquire(session, pool="default", job_id=job_id, now=clock.now())


def test_a_job_claims_a_ready_instance_which_becomes_busy(engine, fake_clock):
    make_pool(engine)
    user = make_user(engine)
    (instance,) = _ready(engine, 1)
    job = make_job(engine, user)
    claim = _acquire(engine, job.id, fake_clock)
    assert claim.instance_id == instance.id and claim.comfy_url == "http://127.0.0.1:9000"
    with read_scope(engine) as session:
        assert session.get(GpuInstance, instance.id).state is InstanceState.BUSY
        lease = session.get(Lease, claim.lease_id)
    assert lease.expires_at == fake_clock.now() + timedelta(seconds=1800)


def test_a_lease_runs_for_the_pools_configured_length_read_by_the_winning_update(
    engine, fake_clock
):
    make_pool(engine, lease_max_s=900)
    user = make_user(engine)
    _ready(engine, 1)
    job = make_job(engine, user)
    with statements_sent(engine) as seen:
        claim = _acquire(engine, job.id, fake_clock)
    with read_scope(engine) as session:
        lease = session.get(Lease, claim.lease_id)
    assert lease.expires_at == fake_clock.now() + timedelta(seconds=900)
    sent = [flat(s) for s, _ in seen if not flat(s).startswith("BEGIN")]
    # The free instances read, one won by an UPDATE that reads the lease length too, the
    # lease inserted: no statement of its own reads the pool's config.
    assert len(sent) == 3, sent
    assert sent[1].startswith("UPDATE gpuinstance") and "poolconfig" in sent[1], sent


def test_a_pool_without_a_config_row_leases_for_the_default_length(engine, fake_clock):
    user = make_user(engine)
    _ready(engine, 1)
    claim = _acquire(engine, make_job(engine, user).id, fake_clock)
    with read_scope(engine) as session:
        lease = session.get(Lease, claim.lease_id)
    assert lease.expires_at == fake_clock.now() + timedelta(seconds=leases.DEFAULT_LEASE_MAX_S)


def test_demand_within_a_second_leaves_the_pool_row_unwritten_and_never_moves_back(
    engine, fake_clock
):
    make_pool(engine)
    start = fake_clock.now()
    for offset_s, recorded_s in ((0, 0), (0.6, 0), (-5, 0), (1.5, 1.5), (2.2, 1.5), (3, 3)):
        with session_scope(engine) as session:
            leases.note_demand(session, pool="default", now=start + timedelta(seconds=offset_s))
        with read_scope(engine) as session:
            config = session.get(PoolConfig, "default")
        assert config.last_demand_at == start + timedelta(seconds=recorded_s), offset_s


def test_no_ready_instance_means_no_claim(engine, fake_clock):
    make_pool(engine)
    user = make_user(engine)
    make_instance(engine, state=InstanceState.BOOTING)
    assert _acquire(engine, make_job(engine, user).id, fake_clock) is None


def test_the_warmest_instance_is_claimed_first(engine, fake_clock):
    make_pool(engine)
    user = make_user(engine)
    cold, warm = _ready(engine, 2)
    with session_scope(engine) as session:
        for row, age in ((cold, 600), (warm, 10)):
            stored = session.get(GpuInstance, row.id)
            stored.last_used_at = fake_clock.now() - timedelta(seconds=age)
            session.add(stored)
    assert _acquire(engine, make_job(engine, user).id, fake_clock).instance_id == warm.id


def test_contending_dispatchers_never_share_an_instance(engine, fake_clock):
    make_pool(engine)
    user = make_user(engine)
    _ready(engine, 3)
    jobs = [make_job(engine, user) for _ in range(8)]
    claims, errors = [], []
    barrier = threading.Barrier(len(jobs))

    def claim(job_id):
        try:
            barrier.wait(timeout=10)
            result = _acquire(engine, job_id, fake_clock)
            if result is not None:
                claims.append(result)
        except Exception as exc:  # noqa: BLE001 - asserted below
            errors.append(exc)

    threads = [threading.Thread(target=claim, args=(job.id,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert len(claims) == 3
    assert len({c.instance_id for c in claims}) == 3


def test_release_returns_the_instance_stamps_use_and_wakes_the_pool(engine, fake_clock):
    make_pool(engine)
    user = make_user(engine)
    (instance,) = _ready(engine, 1)
    claim = _acquire(engine, make_job(engine, user).id, fake_clock)
    fake_clock.advance(40)
    with session_scope(engine) as session:
        assert leases.release(session, lease_id=claim.lease_id, now=fake_clock.now(), outcome="ok")
        assert not leases.release(
            session, lease_id=claim.lease_id, now=fake_clock.now(), outcome="ok"
        )
    with read_scope(engine) as session:
        stored = session.get(GpuInstance, instance.id)
        config = session.get(PoolConfig, "default")
        assert leases.open_leases(session, pool="default") == []
    assert stored.state is InstanceState.READY
    assert stored.last_used_at == fake_clock.now()
    assert config.last_demand_at == fake_clock.now()


def test_release_does_not_revive_an_instance_being_terminated(engine, fake_clock):
    make_pool(engine)
    user = make_user(engine)
    (instance,) = _ready(engine, 1)
    claim = _acquire(engine, make_job(engine, user).id, fake_clock)
    with session_scope(engine) as session:
        row = session.get(GpuInstance, instance.id)
        row.state = InstanceState.TERMINATING
        session.add(row)
    with session_scope(engine) as session:
        leases.release(session, lease_id=claim.lease_id, now=fake_clock.now(), outcome="ok")
    with read_scope(engine) as session:
        assert session.get(GpuInstance, instance.id).state is InstanceState.TERMINATING
        assert session.exec(select(Lease)).one().outcome == "ok"
