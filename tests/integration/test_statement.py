"""The ledger as one readable line per job, from real ledger entries (SQLite and PostgreSQL)."""

from datetime import timedelta

from core.accounts import ledger
from core.accounts.statement import statement
from core.db import read_scope, session_scope
from testing.factories import make_job, make_user


def test_each_job_is_one_line_with_its_net_credits_and_no_none(engine, fake_clock):
    user = make_user(engine)
    charged, refunded, running = (make_job(engine, user) for _ in range(3))
    now = fake_clock.now()
    with session_scope(engine) as session:
        ledger.grant(session, user_id=user.id, credits=100, key="g", note="welcome", now=now)
        for job in (charged, refunded, running):
            ledger.hold_for_job(session, user_id=user.id, job_id=job.id, credits=5, now=now)
        later = now + timedelta(seconds=30)
        ledger.settle_job(session, job_id=charged.id, charged_credits=2, now=later)
        ledger.refund_job(session, job_id=refunded.id, now=later, reason="the GPU failed")
    with read_scope(engine) as session:
        lines = statement(ledger.history(session, user_id=user.id))
    rows = {(line.what, line.credits, line.detail) for line in lines}
    assert rows == {
        (f"Job #{charged.id}: charged 2 credits", -2, "5 held, 3 returned"),
        (f"Job #{refunded.id}: refunded", 0, "5 held, all returned: the GPU failed"),
        (f"Job #{running.id}: in progress", -5, "5 held until it finishes"),
        ("Credits granted", 100, "welcome"),
    }
    assert sum(line.credits for line in lines) == 93  # the balance, line by line
    assert lines[-1].what == "Credits granted"  # newest first
