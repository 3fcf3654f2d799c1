"""What a job submitted now meets, as a table: warm, booting, cold, queued and safe mode."""

from dataclasses import replace

import pytest

from core.pool.outlook import Meets, PoolSnapshot, outlook

JOB_S = 20.0
EMPTY = PoolSnapshot(
    safe_mode=False,
    safe_mode_reason=None,
    max_instances=3,
    ready=0,
    busy_left_s=(),
    booting_left_s=(),
    boot_s=40.0,
    tick_s=30.0,
    queued_ahead=0,
)


@pytest.mark.parametrize(
    ("name", "pool", "meets", "start_in_s"),
    [
        ("cold: nothing up, a rental at the next tick then a boot", EMPTY, Meets.COLD, 15 + 40),
        ("warm: a ready GPU starts it at once", replace(EMPTY, ready=1), Meets.WARM, 0.0),
        (
            "booting: a GPU already starting is waited for, not a new one",
            replace(EMPTY, booting_left_s=(25.0,)),
            Meets.BOOTING,
            25.0,
        ),
        (
            "a late boot counts as imminent, never negative",
            replace(EMPTY, booting_left_s=(0.0,)),
            Meets.BOOTING,
            0.0,
        ),
        (
            "queued: every GPU busy at the cap, the first to finish takes it",
            replace(EMPTY, max_instances=2, busy_left_s=(12.0, 5.0), queued_ahead=0),
            Meets.QUEUED,
            5.0,
        ),
        (
            "queued behind two jobs on one warm GPU: their GPU time first",
            replace(EMPTY, max_instances=1, ready=1, queued_ahead=2),
            Meets.QUEUED,
            2 * JOB_S,
        ),
        (
            "one job ahead on the warm GPU: waiting for it beats a 5-minute cold start",
            replace(EMPTY, ready=1, queued_ahead=1, boot_s=300.0),
            Meets.QUEUED,
            JOB_S,
        ),
        (
            "a long job ahead on the only GPU: the pool grows, a cold start wins",
            replace(EMPTY, busy_left_s=(600.0,)),
            Meets.COLD,
            15 + 40,
        ),
        (
            "warm beats booting when both exist",
            replace(EMPTY, ready=1, booting_left_s=(30.0,)),
            Meets.WARM,
            0.0,
        ),
    ],
)
def test_outlook(name, pool, meets, start_in_s):
    seen = outlook(pool, job_s=JOB_S)
    assert (seen.meets, seen.start_in_s) == (meets, start_in_s), name


def test_safe_mode_promises_no_gpu_and_says_why():
    pool = replace(EMPTY, safe_mode=True, safe_mode_reason="daily budget $20 reached", ready=1)
    seen = outlook(pool, job_s=JOB_S)
    assert (seen.meets, seen.start_in_s, seen.wait_s(JOB_S)) == (Meets.SAFE_MODE, None, None)
    assert "daily budget $20 reached" in seen.reason


def test_a_cap_of_zero_promises_nothing():
    seen = outlook(replace(EMPTY, max_instances=0), job_s=JOB_S)
    assert seen.start_in_s is None


@pytest.mark.parametrize("since_submit_s", [0, 10, 29, 45])
def test_a_queued_cold_start_counts_down_from_the_submission(since_submit_s):
    rent_in_s = EMPTY.tick_s - since_submit_s
    seen = outlook(EMPTY, job_s=JOB_S, rent_in_s=rent_in_s)
    assert seen.start_in_s == max(rent_in_s, 0) + EMPTY.boot_s


def test_the_wait_to_the_result_adds_the_gpu_time():
    assert outlook(replace(EMPTY, ready=1), job_s=JOB_S).wait_s(7.0) == 7.0
