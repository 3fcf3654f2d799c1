"""The pool policy as tables: given rows, provider listing and time, exactly these actions."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from core.models import InstanceState
from core.pool.actions import (
    Adopt,
    ConfirmTerminated,
    DestroyOrphan,
    EnterSafeMode,
    ExpireLease,
    MarkLost,
    MarkReady,
    Rent,
    RetryDestroy,
    Terminate,
)
from core.pool.policy import (
    LIST_GRACE_S,
    UNSENT_GRACE_S,
    Expected,
    InstanceView,
    LeaseView,
    PoolSettings,
    PoolView,
    is_awake,
    plan,
    target_size,
)
from core.pool.provider import RemoteInstance, RemoteState
from core.pool.sweeps import Observation, Sweep

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
PREFIX = "aik-default-"
CONFIG = PoolSettings(
    desired_size=1,
    max_instances=3,
    idle_timeout_s=900,
    lease_max_s=1800,
    boot_timeout_s=600,
    safe_mode=False,
    daily_budget_usd=Decimal("20"),
    monthly_budget_usd=Decimal("200"),
)


def ago(seconds: float) -> datetime:
    return NOW - timedelta(seconds=seconds)


def row(id_: int, state: InstanceState, age_s: float = 3600, **kw) -> InstanceView:
    defaults = {"provider_id": f"p{id_}" if state is not InstanceState.REQUESTED else None}
    defaults.update(kw)
    return InstanceView(
        id=id_, label=f"{PREFIX}{id_}", state=state, created_at=ago(age_s), **defaults
    )


def remote(
    label: str,
    state: RemoteState = RemoteState.RUNNING,
    id_: str | None = None,
    status: str | None = None,
) -> RemoteInstance:
    return RemoteInstance(
        id=id_ or f"p{label.rsplit('-', 1)[-1]}",
        state=state,
        gpu_name="RTX 4090",
        num_gpus=1,
        price_per_hour_usd=Decimal("0.40"),
        comfy_url="http://127.0.0.1:1" if state is RemoteState.RUNNING else None,
        label=label,
        machine_id="m1",
        started_at=None,
        status_message=status,
    )


def swept(
    listed: list[RemoteInstance], previous: list[RemoteInstance] | None = None
) -> Observation:
    """The latest sweep begun at NOW listing `listed`, after one 30 s earlier listing
    `previous` (default: the same)."""
    before = ago(30)
    return Observation(
        Sweep(NOW, NOW, tuple(listed)),
        Sweep(before, before, tuple(listed if previous is None else previous)),
    )


def view(*instances: InstanceView, **kw) -> PoolView:
    return PoolView(label_prefix=PREFIX, instances=list(instances), **kw)


AWAKE = {"last_demand_at": ago(60)}


@pytest.mark.parametrize(
    ("name", "config", "pool", "observed", "health", "expected"),
    [
        ("asleep with nothing: nothing", CONFIG, view(), [], {}, []),
        (
            "awake and empty: rent to desired",
            CONFIG,
            view(**AWAKE),
            [],
            {},
            [Rent(1, "target 1, have 0")],
        ),
        (
            "a queued job wakes an empty pool even at desired 0",
            replace(CONFIG, desired_size=0),
            view(queued_jobs=1),
            [],
            {},
            [Rent(1, "target 1, have 0")],
        ),
        (
            "queued jobs scale up but never past max_instances",
            CONFIG,
            view(queued_jobs=9),
            [],
            {},
            [Rent(3, "target 3, have 0")],
        ),
        (
            "prewarm wakes the pool",
            CONFIG,
            view(prewarm_until=NOW + timedelta(minutes=5)),
            [],
            {},
            [Rent(1, "target 1, have 0")],
        ),
        (
            "requested row whose label is listed is adopted, not re-created",
            CONFIG,
            view(row(1, InstanceState.REQUESTED, age_s=20), **AWAKE),
            [remote(f"{PREFIX}1", RemoteState.PENDING, id_="v9")],
            {},
            [Adopt(1, "v9")],
        ),
        (
            "requested row not yet listed waits inside the grace window",
            CONFIG,
            view(row(1, InstanceState.REQUESTED, age_s=30, create_sent_at=ago(29)), **AWAKE),
            [],
            {},
            [],
        ),
        (
            "requested row never listed is closed after the grace window",
            CONFIG,
            view(
                row(1, InstanceState.REQUESTED, age_s=LIST_GRACE_S + 2, create_sent_at=ago(91)),
                **AWAKE,
            ),
            [],
            {},
            [
                ConfirmTerminated(1, "create never produced an instance"),
                Rent(1, "target 1, have 0"),
            ],
        ),
        (
            "booting + running + healthy becomes ready",
            CONFIG,
            view(row(1, InstanceState.BOOTING, age_s=200), **AWAKE),
            [remote(f"{PREFIX}1")],
            {1: True},
            [MarkReady(1)],
        ),
        (
            "booting + running but unhealthy keeps booting",
            CONFIG,
            view(row(1, InstanceState.BOOTING, age_s=200), **AWAKE),
            [remote(f"{PREFIX}1")],
            {1: False},
            [],
        ),
        (
            "booting past the boot timeout is terminated and its machine avoided",
            CONFIG,
            view(row(1, InstanceState.BOOTING, age_s=601, machine_id="m7"), **AWAKE),
            [remote(f"{PREFIX}1", RemoteState.PENDING)],
            {},
            [
                Terminate(1, "boot timeout", provider_id="p1", bad_machine="m7"),
                Rent(1, "target 1, have 0"),
            ],
        ),
        (
            "provider failure terminates (stops storage billing)",
            CONFIG,
            view(row(1, InstanceState.READY), **AWAKE),
            [remote(f"{PREFIX}1", RemoteState.FAILED, status="exited")],
            {},
            [
                Terminate(1, "provider reports failure: exited", provider_id="p1"),
                Rent(1, "target 1, have 0"),
            ],
        ),
        (
            "a young instance missing from the list is not yet suspicious",
            CONFIG,
            view(row(1, InstanceState.BOOTING, age_s=LIST_GRACE_S - 1), **AWAKE),
            [],
            {},
            [],
        ),
        (
            "absent from two sweeps means lost, and a replacement is rented",
            CONFIG,
            view(row(1, InstanceState.READY), **AWAKE),
            [],
            {},
            [MarkLost(1, "gone at the provider"), Rent(1, "target 1, have 0")],
        ),
        (
            "terminating and still listed: destroy again",
            CONFIG,
            view(row(1, InstanceState.TERMINATING)),
            [remote(f"{PREFIX}1")],
            {},
            [RetryDestroy(1, "p1")],
        ),
        (
            "terminating and gone: confirmed",
            CONFIG,
            view(row(1, InstanceState.TERMINATING)),
            [],
            {},
            [ConfirmTerminated(1, "no longer listed by the provider")],
        ),
        (
            "labelled instance with no live row is an orphan",
            CONFIG,
            view(),
            [remote(f"{PREFIX}77", id_="v77")],
            {},
            [DestroyOrphan("v77", f"{PREFIX}77")],
        ),
        (
            "instances of other pools and unlabelled ones are never touched",
            CONFIG,
            view(),
            [remote("aik-other-1", id_="x1"), remote("my-own-box", id_="x2")],
            {},
            [],
        ),
        (
            "idle pool past the timeout sleeps: ready instances terminated",
            CONFIG,
            view(row(1, InstanceState.READY), last_demand_at=ago(901)),
            [remote(f"{PREFIX}1")],
            {},
            [Terminate(1, "idle: pool asleep", provider_id="p1")],
        ),
        (
            "busy instances are never taken as surplus",
            replace(CONFIG, desired_size=0),
            view(
                row(1, InstanceState.BUSY), leases=[LeaseView(5, 1, 9, NOW + timedelta(minutes=9))]
            ),
            [remote(f"{PREFIX}1")],
            {},
            [],
        ),
        (
            "surplus goes idle-longest first",
            CONFIG,
            view(
                row(1, InstanceState.READY, last_used_at=ago(30)),
                row(2, InstanceState.READY, last_used_at=ago(1000)),
                **AWAKE,
            ),
            [remote(f"{PREFIX}1"), remote(f"{PREFIX}2")],
            {},
            [Terminate(2, "surplus over target 1", provider_id="p2")],
        ),
        (
            "an expired lease fails its job and takes the instance back",
            CONFIG,
            view(row(1, InstanceState.BUSY), leases=[LeaseView(5, 1, 9, ago(1))]),
            [remote(f"{PREFIX}1")],
            {},
            [
                ExpireLease(5, 1, 9),
                Terminate(1, "lease expired", provider_id="p1"),
                Rent(1, "target 1, have 0"),
            ],
        ),
    ],
)
def test_plan(name, config, pool, observed, health, expected):
    assert plan(config, pool, swept(observed), NOW, health) == expected, name


def test_without_an_observation_only_lease_expiry_is_decided():
    pool = view(
        row(1, InstanceState.READY),
        row(2, InstanceState.TERMINATING),
        leases=[LeaseView(5, 1, 9, ago(1))],
        queued_jobs=4,
    )
    assert plan(CONFIG, pool, None, NOW) == [ExpireLease(5, 1, 9)]


def test_budget_cap_switches_safe_mode_on_and_terminates_everything():
    pool = view(
        row(1, InstanceState.READY),
        row(2, InstanceState.BUSY),
        queued_jobs=2,
        spend_today_usd=Decimal("20.00"),
    )
    actions = plan(CONFIG, pool, swept([remote(f"{PREFIX}1"), remote(f"{PREFIX}2")]), NOW)
    assert actions == [
        EnterSafeMode("daily budget $20 reached"),
        Terminate(1, "safe mode", provider_id="p1"),
        Terminate(2, "safe mode", provider_id="p2"),
    ]


def test_monthly_cap_also_trips():
    pool = view(spend_month_usd=Decimal("250"))
    assert plan(CONFIG, pool, swept([]), NOW) == [EnterSafeMode("monthly budget $200 reached")]


def test_safe_mode_rents_nothing_and_destroys_late_arrivals():
    config = replace(CONFIG, safe_mode=True)
    pool = view(row(1, InstanceState.REQUESTED, age_s=10), queued_jobs=3)
    actions = plan(config, pool, swept([remote(f"{PREFIX}1", RemoteState.PENDING, id_="v1")]), NOW)
    assert actions == [Terminate(1, "safe mode", provider_id="v1")]


def test_plan_is_deterministic():
    pool = view(row(1, InstanceState.READY), row(2, InstanceState.BOOTING), queued_jobs=2)
    observed = [remote(f"{PREFIX}2", RemoteState.RUNNING), remote(f"{PREFIX}99", id_="o")]
    assert plan(CONFIG, pool, swept(observed), NOW, {2: True}) == plan(
        CONFIG, pool, swept(observed), NOW, {2: True}
    )


@pytest.mark.parametrize("seed", range(50))
def test_target_is_always_within_zero_and_max(seed):
    import random

    rng = random.Random(seed)
    config = replace(CONFIG, desired_size=rng.randint(0, 3), max_instances=3)
    states = [
        rng.choice([InstanceState.READY, InstanceState.BUSY]) for _ in range(rng.randint(0, 3))
    ]
    pool = view(
        *(row(i, s) for i, s in enumerate(states, 1)),
        queued_jobs=rng.randint(0, 10),
        last_demand_at=ago(rng.randint(0, 2000)),
    )
    assert 0 <= target_size(config, pool, NOW) <= config.max_instances


def test_awake_rules():
    assert not is_awake(CONFIG, view(), NOW)
    assert is_awake(CONFIG, view(last_demand_at=ago(899)), NOW)
    assert not is_awake(CONFIG, view(last_demand_at=ago(900)), NOW)
    assert is_awake(CONFIG, view(row(1, InstanceState.BUSY)), NOW)


COLD_CONFIG = replace(CONFIG, desired_size=0)


@pytest.mark.parametrize("idle_s", [0, 60, 450, 899])
def test_an_instance_that_served_a_job_stays_ready_through_the_idle_timeout_at_desired_0(idle_s):
    pool = view(row(1, InstanceState.READY, last_used_at=ago(idle_s)), last_demand_at=ago(idle_s))
    assert plan(COLD_CONFIG, pool, swept([remote(f"{PREFIX}1")]), NOW) == []
    assert target_size(COLD_CONFIG, pool, NOW) == 1


@pytest.mark.parametrize("idle_s", [900, 901, 3600])
def test_then_it_stops_once_the_idle_timeout_has_passed(idle_s):
    pool = view(row(1, InstanceState.READY, last_used_at=ago(idle_s)), last_demand_at=ago(idle_s))
    assert plan(COLD_CONFIG, pool, swept([remote(f"{PREFIX}1")]), NOW) == [
        Terminate(1, "idle: pool asleep", provider_id="p1")
    ]


def test_each_used_instance_keeps_its_own_idle_timeout():
    pool = view(
        row(1, InstanceState.READY, last_used_at=ago(100)),
        row(2, InstanceState.READY, last_used_at=ago(1000)),
        last_demand_at=ago(100),
    )
    actions = plan(COLD_CONFIG, pool, swept([remote(f"{PREFIX}1"), remote(f"{PREFIX}2")]), NOW)
    assert actions == [Terminate(2, "surplus over target 1", provider_id="p2")]


def test_an_extra_instance_goes_after_its_shorter_timeout_the_last_used_after_its_own():
    pool = view(
        row(1, InstanceState.READY, last_used_at=ago(100)),
        row(2, InstanceState.READY, last_used_at=ago(400)),
        row(3, InstanceState.READY, last_used_at=ago(200)),
        last_demand_at=ago(100),
    )
    listed = [remote(f"{PREFIX}{n}") for n in (1, 2, 3)]
    both = plan(replace(COLD_CONFIG, extra_idle_timeout_s=300), pool, swept(listed), NOW)
    assert both == [Terminate(2, "surplus over target 2", provider_id="p2")]
    # The most recently used one keeps idle_timeout_s even past the extra timeout.
    alone = view(row(1, InstanceState.READY, last_used_at=ago(400)), last_demand_at=ago(400))
    kept = plan(replace(COLD_CONFIG, extra_idle_timeout_s=300), alone, swept(listed[:1]), NOW)
    assert kept == []
    # An extra timeout longer than idle_timeout_s is capped at it; None is idle_timeout_s.
    longer = replace(COLD_CONFIG, idle_timeout_s=150, extra_idle_timeout_s=900)
    assert target_size(longer, pool, NOW) == 1
    assert target_size(COLD_CONFIG, pool, NOW) == 3


def test_desired_size_stays_a_floor_above_recent_use():
    pool = view(row(1, InstanceState.READY, last_used_at=ago(60)), **AWAKE)
    assert plan(replace(CONFIG, desired_size=2), pool, swept([remote(f"{PREFIX}1")]), NOW) == [
        Rent(1, "target 2, have 1")
    ]


@pytest.mark.parametrize("desired", [0, 1, 2])
def test_prewarm_rents_at_any_desired_size(desired):
    pool = view(prewarm_until=NOW + timedelta(minutes=10))
    expected = max(desired, 1)
    assert plan(replace(CONFIG, desired_size=desired), pool, swept([]), NOW) == [
        Rent(expected, f"target {expected}, have 0")
    ]


def test_a_prewarmed_instance_is_kept_until_the_prewarm_ends_then_stops():
    ready = row(1, InstanceState.READY, age_s=600, ready_at=ago(300))
    during = view(ready, prewarm_until=NOW + timedelta(minutes=1))
    after = view(ready, prewarm_until=ago(1))
    assert plan(COLD_CONFIG, during, swept([remote(f"{PREFIX}1")]), NOW) == []
    assert plan(COLD_CONFIG, after, swept([remote(f"{PREFIX}1")]), NOW) == [
        Terminate(1, "idle: pool asleep", provider_id="p1")
    ]


def test_a_requested_row_whose_create_was_never_sent_frees_its_capacity_at_once():
    """A crash between the row and the create call: nothing can exist under its label."""
    fresh = view(row(1, InstanceState.REQUESTED, age_s=UNSENT_GRACE_S - 1), **AWAKE)
    leftover = view(row(1, InstanceState.REQUESTED, age_s=UNSENT_GRACE_S + 1), **AWAKE)
    assert plan(CONFIG, fresh, swept([]), NOW) == []
    assert plan(CONFIG, leftover, swept([]), NOW) == [
        ConfirmTerminated(1, "create was never sent"),
        Rent(1, "target 1, have 0"),
    ]


def test_a_requested_row_whose_create_is_still_queued_holds_its_capacity_past_the_grace():
    """Its create waits its turn at the paced create sender: neither closed nor rented again."""
    queued = row(1, InstanceState.REQUESTED, age_s=10 * UNSENT_GRACE_S, create_queued=True)
    assert plan(CONFIG, view(queued, **AWAKE), swept([]), NOW) == []


def test_a_queued_destroy_is_not_decided_again_on_a_sweep_begun_before_it_returns():
    """The manager gives a pending destroy's return time as now: no sweep begun yet judges it."""
    leaving = row(1, InstanceState.TERMINATING, provider_id="9", destroy_sent_at=NOW)
    assert plan(CONFIG, view(leaving), swept([remote(f"{PREFIX}1", id_="9")]), NOW) == []


@pytest.mark.parametrize("sent_s_ago", [10, LIST_GRACE_S])
def test_a_sent_create_holds_capacity_only_for_the_list_grace(sent_s_ago):
    pool = view(row(1, InstanceState.REQUESTED, create_sent_at=ago(sent_s_ago)), **AWAKE)
    assert plan(CONFIG, pool, swept([]), NOW) == []


# ---- planning from sweeps older than the tick ------------------------------------------


def test_absent_from_the_latest_sweep_only_is_not_lost():
    pool = view(row(1, InstanceState.READY), **AWAKE)
    assert plan(CONFIG, pool, swept([], previous=[remote(f"{PREFIX}1")]), NOW) == []


@pytest.mark.parametrize(
    "when",
    [
        {"born_at": ago(100)},  # the create returned 100 s ago: the sweeps began too soon
        {"create_sent_at": ago(100)},  # after a restart only the send time is known
    ],
)
def test_an_instance_is_lost_only_after_two_sweeps_begun_a_grace_after_it_was_created(when):
    """A row created an hour ago whose create returned 100 s ago: the sweep begun 30 s ago
    started only 70 s after, inside the listing's lag: not lost, whatever the tick's time."""
    pool = view(row(1, InstanceState.BUSY, **when), **AWAKE)
    assert plan(CONFIG, pool, swept([]), NOW) == []
    older = view(row(1, InstanceState.BUSY, born_at=ago(30 + LIST_GRACE_S)), **AWAKE)
    assert plan(CONFIG, older, swept([]), NOW)[0] == MarkLost(1, "gone at the provider")


def test_a_terminating_instance_is_judged_only_by_a_sweep_begun_after_its_destroy():
    late = view(row(1, InstanceState.TERMINATING, destroy_sent_at=NOW + timedelta(seconds=1)))
    assert plan(CONFIG, late, swept([]), NOW) == []  # not confirmed gone
    assert plan(CONFIG, late, swept([remote(f"{PREFIX}1")]), NOW) == []  # not destroyed again
    done = view(row(1, InstanceState.TERMINATING, destroy_sent_at=ago(1)))
    assert plan(CONFIG, done, swept([]), NOW) == [
        ConfirmTerminated(1, "no longer listed by the provider")
    ]
    assert plan(CONFIG, done, swept([remote(f"{PREFIX}1")]), NOW) == [RetryDestroy(1, "p1")]


def test_an_orphan_destroyed_after_the_sweep_began_is_not_destroyed_again():
    orphan = [remote(f"{PREFIX}99", id_="v99")]
    assert plan(CONFIG, view(destroyed_at={"v99": NOW}), swept(orphan), NOW) == []
    assert plan(CONFIG, view(destroyed_at={"v99": ago(1)}), swept(orphan), NOW) == [
        DestroyOrphan("v99", f"{PREFIX}99")
    ]


def test_a_sent_create_is_given_up_only_by_a_sweep_begun_a_grace_after_it_was_sent():
    pool = view(row(1, InstanceState.REQUESTED, create_sent_at=ago(LIST_GRACE_S + 10)), **AWAKE)
    stale = Observation(Sweep(ago(20), ago(5), ()))  # begun 80 s after the create was sent
    assert plan(CONFIG, pool, stale, NOW) == []
    assert plan(CONFIG, pool, swept([]), NOW)[0] == ConfirmTerminated(
        1, "create never produced an instance"
    )


# ---- queued jobs behind instances that free sooner than a boot -----------------------------

EXPECTED = Expected(boot_s=240, job_s=45)
HOLDING = replace(CONFIG, expected=EXPECTED)


def busy_for(id_: int, ran_s: float | None) -> tuple[InstanceView, LeaseView]:
    """A busy instance whose job took it `ran_s` seconds ago (None: unknown)."""
    started = None if ran_s is None else ago(ran_s)
    lease = LeaseView(id_ + 100, id_, id_ + 200, NOW + timedelta(minutes=20), started)
    return row(id_, InstanceState.BUSY, last_used_at=ago(300)), lease


def queued_behind(*instances: tuple[InstanceView, LeaseView] | InstanceView, queued: int):
    rows = [i[0] if isinstance(i, tuple) else i for i in instances]
    leases = [i[1] for i in instances if isinstance(i, tuple)]
    return view(*rows, leases=leases, queued_jobs=queued, **AWAKE)


def listed(pool: PoolView) -> Observation:
    return swept([remote(r.label) for r in pool.instances])


def test_a_job_queued_behind_a_gpu_that_frees_before_a_boot_waits_for_it():
    pool = queued_behind(busy_for(1, ran_s=10), queued=1)
    assert plan(HOLDING, pool, listed(pool), NOW) == []
    # Without expected times, as before: every queued job rents.
    assert plan(CONFIG, pool, listed(pool), NOW) == [Rent(1, "target 2, have 1")]


def test_a_queue_longer_than_a_boot_behind_one_gpu_rents_for_the_jobs_past_the_boot():
    # Free in 35 s, then 80, 125, 170, 215, 260 s: the sixth queued job is served sooner
    # by a rental (ready in 240 s), and the jobs after it share the two.
    pool = queued_behind(busy_for(1, ran_s=10), queued=5)
    assert plan(HOLDING, pool, listed(pool), NOW) == []
    pool = queued_behind(busy_for(1, ran_s=10), queued=6)
    assert plan(HOLDING, pool, listed(pool), NOW) == [Rent(1, "target 2, have 1")]


def test_jobs_queued_behind_a_booting_gpu_share_it_when_it_is_ready_before_a_new_one():
    # Ready in 40 s: the second job starts at 85 s on it, long before a rental's 240 s.
    pool = queued_behind(row(1, InstanceState.BOOTING, age_s=200), queued=2)
    assert plan(HOLDING, pool, listed(pool), NOW) == []
    assert plan(CONFIG, pool, listed(pool), NOW) == [Rent(1, "target 2, have 1")]


@pytest.mark.parametrize("ran_s", [2 * EXPECTED.job_s, 600, None])
def test_a_job_long_overdue_or_of_unknown_start_no_longer_holds_the_queue_back(ran_s):
    pool = queued_behind(busy_for(1, ran_s=ran_s), queued=1)
    assert plan(HOLDING, pool, listed(pool), NOW) == [Rent(1, "target 2, have 1")]


def test_an_overdue_job_just_past_its_expected_time_is_expected_to_end_any_moment():
    pool = queued_behind(busy_for(1, ran_s=EXPECTED.job_s + 30), queued=1)
    assert plan(HOLDING, pool, listed(pool), NOW) == []


def test_held_back_rentals_never_exceed_the_cap_and_a_booting_one_late_is_still_counted():
    pool = queued_behind(busy_for(1, ran_s=10), busy_for(2, ran_s=None), queued=50)
    assert plan(HOLDING, pool, listed(pool), NOW) == [Rent(1, "target 3, have 2")]
    late = queued_behind(row(1, InstanceState.BOOTING, age_s=500), queued=1)
    assert plan(HOLDING, late, listed(late), NOW) == []


def test_a_booting_gpu_terminated_for_its_boot_timeout_is_replaced_for_its_queued_job():
    pool = queued_behind(row(1, InstanceState.BOOTING, age_s=601, machine_id="m7"), queued=1)
    observed = swept([remote(f"{PREFIX}1", RemoteState.PENDING)])
    assert plan(HOLDING, pool, observed, NOW) == [
        Terminate(1, "boot timeout", provider_id="p1", bad_machine="m7"),
        Rent(1, "target 1, have 0"),
    ]
