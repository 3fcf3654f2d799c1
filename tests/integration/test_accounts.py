"""Registration, sign-in, lockout, sessions, password change and reset, roles."""

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import select

from core.accounts import ledger, sessions, users
from core.db import read_scope, session_scope
from core.errors import ValidationFailed
from core.models import AuditEntry, Role
from testing.factories import make_user, register_user

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
PASSWORD = "correct horse battery"


def register(engine, name="ava", *, born=date(1990, 5, 1), password=PASSWORD, now=NOW):
    with session_scope(engine) as session:
        return register_user(
            session, name, password=password, now=now, starter_credits=100, date_of_birth=born
        )


def login(engine, name="ava", password=PASSWORD, now=NOW):
    return users.authenticate(
        engine, username=name, password=password, now=now, max_failures=3, lockout_s=600
    )


def test_registration_grants_starter_credits_and_hashes_with_argon2(engine):
    user = register(engine)
    with read_scope(engine) as session:
        assert ledger.balance(session, user.id) == 100
    assert user.password_hash.startswith("$argon2id$")
    assert login(engine).id == user.id


@pytest.mark.parametrize(
    ("born", "allowed"),
    [(date(2008, 11, 24), True), (date(2008, 11, 25), False), (date(2015, 1, 1), False)],
)
def test_only_adults_can_register(engine, born, allowed):
    if allowed:
        register(engine, born=born)
    else:
        with pytest.raises(ValidationFailed, match="18 or older"):
            register(engine, born=born)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": "x"}, "Usernames"),
        ({"password": "short"}, "at least 12"),
        ({"password": "password1234"}, "too easy"),
    ],
)
def test_bad_registrations_get_clear_messages(engine, fields, message):
    with pytest.raises(ValidationFailed, match=message):
        register(engine, **fields)


def test_duplicates_are_refused_without_naming_the_email(engine):
    register(engine)
    with pytest.raises(ValidationFailed, match="taken"):
        register(engine)
    with session_scope(engine) as session, pytest.raises(ValidationFailed, match="could not"):
        register_user(session, "other", email="ava@example.test", password=PASSWORD, now=NOW)


def test_long_unicode_passwords_work():
    long_password = "é" * 40  # 80 bytes: bcrypt would refuse it
    from core.accounts import passwords

    assert passwords.verify_password(passwords.hash_password(long_password), long_password)
    assert not passwords.verify_password("not a hash", long_password)
    # Surrounding spaces are ignored on every path (the change-password widget trims them).
    assert passwords.verify_password(passwords.hash_password(" spaced out "), "spaced out")


def test_unknown_user_and_wrong_password_look_the_same(engine):
    register(engine)
    with pytest.raises(ValidationFailed) as unknown:
        login(engine, name="nobody")
    with pytest.raises(ValidationFailed) as wrong:
        login(engine, password="wrong password!!")
    assert str(unknown.value) == str(wrong.value) == users.WRONG_LOGIN


def test_lockout_is_temporary_and_every_attempt_is_audited(engine):
    register(engine)
    for _ in range(3):
        with pytest.raises(ValidationFailed, match="Wrong"):
            login(engine, password="wrong password!!")
    with pytest.raises(ValidationFailed, match="Too many"):
        login(engine)  # even the right password waits
    assert login(engine, now=NOW + timedelta(seconds=601)).username == "ava"
    with read_scope(engine) as session:
        actions = [e.action for e in session.exec(select(AuditEntry)).all()]
    assert actions.count("login.failed") == 3 and "login.lockout" in actions
    assert "login.locked" in actions and "login.ok" in actions


def cookie_token(engine, user_id, *, ttl_s=3600, now=NOW):
    """Sign a browser in: start its session and trade the handoff code for the cookie token."""
    with session_scope(engine) as session:
        started = sessions.start_browser_session(session, user_id=user_id, now=now, ttl_s=ttl_s)
    with session_scope(engine) as session:
        return sessions.redeem_handoff(session, code=started.handoff, now=now)


def test_sessions_resolve_until_revoked_expired_or_disabled(engine):
    user = register(engine)
    admin = make_user(engine, role=Role.ADMIN)
    token, short = cookie_token(engine, user.id), cookie_token(engine, user.id, ttl_s=300)
    with read_scope(engine) as session:
        assert sessions.resolve_session(session, token=token, now=NOW).id == user.id
        assert (
            sessions.resolve_session(session, token=short, now=NOW + timedelta(seconds=301)) is None
        )
        assert sessions.resolve_session(session, token="forged", now=NOW) is None
    with session_scope(engine) as session:
        users.set_disabled(session, actor_id=admin.id, user_id=user.id, disabled=True, now=NOW)
    with read_scope(engine) as session:
        assert sessions.resolve_session(session, token=token, now=NOW) is None


def test_password_change_signs_out_everywhere(engine):
    user = register(engine)
    token = cookie_token(engine, user.id)
    with pytest.raises(ValidationFailed, match="wrong"):
        users.change_password(
            engine, user_id=user.id, old="nope nope nope", new="a new passphrase", now=NOW
        )
    users.change_password(engine, user_id=user.id, old=PASSWORD, new="a new passphrase", now=NOW)
    with read_scope(engine) as session:
        assert sessions.resolve_session(session, token=token, now=NOW) is None
    assert login(engine, password="a new passphrase").id == user.id


def request_code(engine, login_name="ava", now=NOW):
    request = users.request_password_reset(engine, login=login_name, now=now)
    return request.token if request else None


def test_reset_codes_work_once_within_the_hour_and_each_refusal_says_why(engine):
    user = register(engine)
    assert request_code(engine, "nobody@example.test") is None
    assert request_code(engine, "nobody") is None
    request = users.request_password_reset(engine, login="AVA@example.test", now=NOW)
    assert request.email == "ava@example.test"
    earlier = request_code(engine)  # also mailed, never used
    users.reset_password(engine, token=request.token, new_password="brand new phrase", now=NOW)
    later = request_code(engine, now=NOW + timedelta(minutes=1))
    refusals = [
        (request.token, NOW, users.RESET_CODE_USED),
        (earlier, NOW, users.RESET_CODE_REVOKED),  # issued before the reset
        (later, NOW + timedelta(hours=2), users.RESET_CODE_EXPIRED),
        (later[:-1] + ("A" if later[-1] != "A" else "B"), NOW, users.RESET_CODE_WRONG),  # mistyped
        ("", NOW, users.RESET_CODE_WRONG),
        ("code\x00with nul", NOW, users.RESET_CODE_WRONG),
    ]
    for code, when, message in refusals:
        with pytest.raises(ValidationFailed) as refused:
            users.reset_password(engine, token=code, new_password="another new one", now=when)
        assert str(refused.value) == message, code
    assert login(engine, password="brand new phrase").id == user.id


def test_a_password_change_also_voids_reset_codes_mailed_before_it(engine):
    user = register(engine)
    code = request_code(engine)
    users.change_password(engine, user_id=user.id, old=PASSWORD, new="a new passphrase", now=NOW)
    with pytest.raises(ValidationFailed) as refused:
        users.reset_password(engine, token=code, new_password="the attacker's choice", now=NOW)
    assert str(refused.value) == users.RESET_CODE_REVOKED
    assert login(engine, password="a new passphrase").id == user.id


def test_a_handoff_code_gives_one_cookie_once_within_a_minute_of_a_live_session(engine):
    user = register(engine)
    with session_scope(engine) as session:
        fresh = sessions.start_browser_session(session, user_id=user.id, now=NOW, ttl_s=3600)
        stale = sessions.start_browser_session(session, user_id=user.id, now=NOW, ttl_s=3600)
        ended = sessions.start_browser_session(session, user_id=user.id, now=NOW, ttl_s=3600)
        sessions.revoke_session(session, session_id=ended.id, now=NOW)
    with session_scope(engine) as session:
        assert sessions.handoff_pending(session, session_id=fresh.id, now=NOW)
        token = sessions.redeem_handoff(session, code=fresh.handoff, now=NOW)
        assert token is not None
        assert not sessions.handoff_pending(session, session_id=fresh.id, now=NOW)
        assert sessions.redeem_handoff(session, code=fresh.handoff, now=NOW) is None  # once
        late = NOW + sessions.HANDOFF_TTL
        assert sessions.redeem_handoff(session, code=stale.handoff, now=late) is None
        assert sessions.redeem_handoff(session, code=ended.handoff, now=NOW) is None
        assert sessions.redeem_handoff(session, code="made up", now=NOW) is None
    with read_scope(engine) as session:
        by_cookie = sessions.resolve(session, now=NOW, token=token)
        by_id = sessions.resolve(session, now=NOW, session_id=fresh.id)
        assert by_cookie.id == by_id.id == fresh.id and by_cookie.user.id == user.id
        assert sessions.resolve(session, now=NOW, session_id=stale.id).id == stale.id
        assert sessions.resolve(session, now=NOW, session_id=ended.id) is None
        assert sessions.resolve(session, now=NOW) is None


def test_parallel_redeems_of_one_code_mint_one_token(engine):
    from concurrent.futures import ThreadPoolExecutor

    user = register(engine)
    with session_scope(engine) as session:
        started = sessions.start_browser_session(session, user_id=user.id, now=NOW, ttl_s=3600)

    def redeem(_):
        with session_scope(engine) as session:
            return sessions.redeem_handoff(session, code=started.handoff, now=NOW)

    with ThreadPoolExecutor(max_workers=8) as pool:
        tokens = [token for token in pool.map(redeem, range(8)) if token is not None]
    assert len(tokens) == 1


def test_only_admins_change_roles(engine):
    user = register(engine)
    admin = make_user(engine, role=Role.ADMIN)
    with session_scope(engine) as session, pytest.raises(ValidationFailed):
        users.set_role(session, actor_id=user.id, user_id=user.id, role=Role.ADMIN, now=NOW)
    with session_scope(engine) as session:
        users.set_role(session, actor_id=admin.id, user_id=user.id, role=Role.ADMIN, now=NOW)
    with read_scope(engine) as session:
        assert users.get_user(session, user.id).role is Role.ADMIN
        assert [u.id for u in users.list_users(session)] == [user.id, admin.id]


def test_only_admins_grant_credits(engine):
    user = register(engine)
    admin = make_user(engine, role=Role.ADMIN)
    grant = {"user_id": user.id, "note": "", "now": NOW}
    with session_scope(engine) as session, pytest.raises(ValidationFailed, match="Only"):
        users.grant_credits(session, actor_id=user.id, credits=5, request_key="a", **grant)
    with session_scope(engine) as session, pytest.raises(ValidationFailed, match="between"):
        users.grant_credits(session, actor_id=admin.id, credits=0, request_key="b", **grant)
    with session_scope(engine) as session:
        assert users.grant_credits(session, actor_id=admin.id, credits=5, request_key="c", **grant)
        assert users.grant_credits(session, actor_id=admin.id, credits=5, request_key="d", **grant)
    with read_scope(engine) as session:
        assert ledger.balance(session, user.id) == 110


def test_a_double_submitted_grant_is_granted_and_audited_once(engine):
    user = register(engine)
    admin = make_user(engine, role=Role.ADMIN)
    for _ in range(2):
        with session_scope(engine) as session:
            users.grant_credits(
                session,
                actor_id=admin.id,
                user_id=user.id,
                credits=7,
                note="",
                now=NOW,
                request_key="form-1",
            )
    with read_scope(engine) as session:
        assert ledger.balance(session, user.id) == 107
        grants = session.exec(
            select(AuditEntry).where(AuditEntry.action == "credits.granted")
        ).all()
    assert len(grants) == 1


def test_a_disabled_admin_can_no_longer_act_as_one(engine):
    admin = make_user(engine, role=Role.ADMIN, disabled=True)
    user = register(engine)
    with session_scope(engine) as session, pytest.raises(ValidationFailed, match="Only"):
        users.set_role(session, actor_id=admin.id, user_id=user.id, role=Role.ADMIN, now=NOW)


def test_update_details_keeps_emails_unique(engine):
    user = register(engine)
    register(engine, name="zoe")
    with session_scope(engine) as session:
        users.update_details(
            session, user_id=user.id, display_name="Ava R", email="AVA2@example.test", now=NOW
        )
    for email, message in (("zoe@example.test", "could not use"), ("nope", "valid email")):
        with session_scope(engine) as session, pytest.raises(ValidationFailed, match=message):
            users.update_details(session, user_id=user.id, display_name="x", email=email, now=NOW)
    with read_scope(engine) as session:
        stored = users.get_user(session, user.id)
    assert (stored.display_name, stored.email) == ("Ava R", "ava2@example.test")
