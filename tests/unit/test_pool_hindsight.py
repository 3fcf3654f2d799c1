"""The pool replayed in brief: what a timeout rule would have cost, both ways."""

from datetime import UTC, datetime, timedelta

from core.pool.hindsight import PoolModel, cost_usd

MONDAY = datetime(2026, 3, 2, tzinfo=UTC)


def model(*, idle: float, wait: float, max_instances: int = 4) -> PoolModel:
    return PoolModel(
        boot_s=240, tick_s=30, job_s=45, max_instances=max_instances, idle=idle, wait=wait
    )


def fixed(timeout_s: float):
    return lambda _idle_from_s: timeout_s


def every(seconds: float, count: int) -> list[datetime]:
    return [MONDAY + timedelta(seconds=seconds * k) for k in range(count)]


def test_one_job_bills_its_boot_and_run_and_waits_the_boot_and_the_ticks():
    # Rented at the next tick (15 s on average), ready a boot later, seen a tick later.
    assert cost_usd(every(1, 1), fixed(60), model(idle=0, wait=1)) == 270
    assert cost_usd(every(1, 1), fixed(60), model(idle=1, wait=0)) == 240 + 15 + 45


def test_jobs_ten_minutes_apart_wait_less_with_a_long_timeout_and_bill_less_with_a_short_one():
    jobs = every(600, 10)
    waits = model(idle=0, wait=1)
    gpu = model(idle=1, wait=0)
    assert cost_usd(jobs, fixed(900), waits) < cost_usd(jobs, fixed(60), waits)
    assert cost_usd(jobs, fixed(60), gpu) < cost_usd(jobs, fixed(900), gpu)


def test_a_burst_rents_up_to_the_cap_and_a_higher_cap_waits_less():
    burst = every(1, 8)
    one, four = model(idle=0, wait=1, max_instances=1), model(idle=0, wait=1, max_instances=4)
    assert cost_usd(burst, fixed(60), four) < cost_usd(burst, fixed(60), one)
    billed_one = cost_usd(burst, fixed(60), model(idle=1, wait=0, max_instances=1))
    assert billed_one == 240 + 15 + 8 * 45  # one instance, serving the eight in turn


def test_the_rule_is_asked_per_idle_period_so_a_timeout_can_depend_on_when_it_starts():
    jobs = every(600, 6)
    gpu = model(idle=1, wait=0)

    def early_only(idle_from_s: float) -> float:
        return 900 if idle_from_s < 1800 else 60

    assert cost_usd(jobs, fixed(60), gpu) < cost_usd(jobs, early_only, gpu)
    assert cost_usd(jobs, early_only, gpu) < cost_usd(jobs, fixed(900), gpu)
    assert cost_usd([], fixed(60), model(idle=1, wait=1)) == 0


def test_an_extra_instance_idles_only_its_own_timeout_while_the_last_used_keeps_the_long_one():
    # A pair at once (two instances), then one job every ten minutes: one instance suffices.
    jobs = every(1, 2) + [MONDAY + timedelta(seconds=600 * k) for k in range(1, 6)]
    gpu, waits = model(idle=1, wait=0), model(idle=0, wait=1)
    long_only = cost_usd(jobs, fixed(900), gpu)
    assert cost_usd(jobs, fixed(900), gpu, extra_s=None) == long_only
    assert cost_usd(jobs, fixed(900), gpu, extra_s=60) == long_only - (900 - 60)
    # The last used one kept its 900 s: no job met a cold GPU after the first pair.
    assert cost_usd(jobs, fixed(900), waits, extra_s=60) == cost_usd(jobs, fixed(900), waits)


def test_a_job_behind_a_busy_instance_that_frees_before_a_boot_waits_for_it_renting_nothing():
    # Warm after the first job; the third comes 10 s into the second's 45 s run.
    jobs = [MONDAY, MONDAY + timedelta(seconds=400), MONDAY + timedelta(seconds=410)]
    # One instance: rented at 15 s, serving to 490 s (the third job waits 35 s for it).
    assert cost_usd(jobs, fixed(900), model(idle=1, wait=0)) == 490 - 15
    assert cost_usd(jobs, fixed(900), model(idle=0, wait=1)) == 270 + 35


def test_a_job_behind_instances_freeing_later_than_a_boot_rents_another():
    # Six at once on one instance would wait 5 x 45 s behind the first: the sixth rents.
    burst = every(1, 6)
    billed_one = 240 + 15 + 6 * 45
    assert cost_usd(burst, fixed(60), model(idle=1, wait=0)) > billed_one
