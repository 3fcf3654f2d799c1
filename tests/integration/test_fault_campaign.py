"""Money is safe: seeded fault campaigns never leave a rented GPU that nobody knows about.

Each run mixes 429/5xx storms, list outages and lag, lost create replies, failing and
lingering destroys, stuck boots, vanishing and dying instances, orphans, safe-mode flips and
scheduler restarts, then calms the provider and checks every instance alive at the simulator
belongs to a live row (and vice versa) within a few ticks. `make bench` runs 1,000 seeds.
"""

import pytest

from testing.factories import make_rentable_pool
from testing.pool_harness import PoolHarness, run_campaign
from testing.sims import vast_sim

SEEDS = range(20)


@pytest.mark.parametrize("seed", SEEDS)
def test_no_instance_is_leaked_or_rented_twice(engine, fake_clock, seed):
    make_rentable_pool(
        engine,
        boot_timeout_s=600,
    )
    with vast_sim(seed=seed) as sim:
        harness = PoolHarness(engine, sim, fake_clock)
        try:
            result = run_campaign(harness, seed)
        finally:
            harness.close()
    assert result.leaked == 0, f"seed {seed}: leaked instances"
    assert result.duplicate_labels == 0, f"seed {seed}: an instance rented twice"
    assert result.ghosts == 0, f"seed {seed}: rows for instances that are gone"
    assert result.max_alive <= 3 + 2, f"seed {seed}: ran far over max_instances"


@pytest.mark.parametrize("seed", range(100, 108))
def test_with_jobs_no_job_is_lost_and_every_hold_closes_once(engine, fake_clock, seed):
    make_rentable_pool(
        engine,
        boot_timeout_s=600,
    )
    with vast_sim(seed=seed) as sim:
        harness = PoolHarness(engine, sim, fake_clock)
        try:
            result = run_campaign(harness, seed, with_jobs=True)
        finally:
            harness.close()
    assert result.jobs > 0
    assert result.leaked == 0 and result.duplicate_labels == 0 and result.ghosts == 0
    assert result.jobs_lost == 0, f"seed {seed}: jobs neither finished nor refunded"
    assert result.double_settlements == 0, f"seed {seed}: a hold closed twice or never"
    assert result.ledger_drift == 0, f"seed {seed}: credits unaccounted for"
