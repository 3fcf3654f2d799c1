"""Registration, sign-in with lockout, password change and reset, roles.

Sign-in answers the same words, after the same work, for an unknown user and a wrong
password, so it does not reveal who has an account. Lockout is per account and temporary: an
attacker can delay a victim for `lockout_s`, never lock them out for good. Every attempt is
audited.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from core import audit
from core.accounts import ledger, passwords, sessions
from core.db import session_scope
from core.errors import NotFound, ValidationFailed
from core.models import AuditEntry, AuditOutcome, PasswordReset, Role, User

USERNAME = re.compile(r"^[a-z0-9_.-]{3,32}$")
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[a-z]{2,24}$")
WRONG_LOGIN = "Wrong username or password."
RESET_TTL = timedelta(hours=1)


def age_on(birth: date, today: date) -> int:
    """Whole years between `birth` and `today`."""
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def register(
    session: Session,
    *,
    username: str,
    email: str,
    display_name: str,
    password: str,
    date_of_birth: date,
    now: datetime,
    starter_credits: int,
) -> User:
    """Create an account (18+ only) with its starter credits."""
    username, email = username.strip().lower(), email.strip().lower()
    if age_on(date_of_birth, now.date()) < 18:
        raise ValidationFailed("You must be 18 or older to use AI KINGS.")
    if not USERNAME.match(username):
        raise ValidationFailed("Usernames are 3-32 characters: letters, digits, . _ or -.")
    if not EMAIL.match(email):
        raise ValidationFailed("Enter a valid email address.")
    display_name = display_name.strip()[:120] or username
    passwords.check_new_password(password, username=username, email=email)
    if session.exec(select(User.id).where(User.username == username)).first() is not None:
        raise ValidationFailed("That username is taken.")
    if session.exec(select(User.id).where(User.email == email)).first() is not None:
        # Not "that email is registered": the same words as any other refusal here.
        raise ValidationFailed("We could not create an account with these details.")
    user = User(
        username=username,
        email=email,
        display_name=display_name,
        password_hash=passwords.hash_password(password),
        date_of_birth=date_of_birth,
        age_confirmed_at=now,
        created_at=now,
    )
    session.add(user)
    try:
        session.flush()
    except IntegrityError as exc:
        raise ValidationFailed("We could not create an account with these details.") from exc
    if starter_credits:
        ledger.grant(
            session,
            user_id=user.id or 0,
            credits=starter_credits,
            key=f"starter:{user.id}",
            note="welcome credits",
            now=now,
        )
    _audit(session, now, f"user:{username}", "account.registered", f"user:{user.id}")
    return user


def authenticate(
    engine: Engine,
    *,
    username: str,
    password: str,
    now: datetime,
    max_failures: int = 5,
    lockout_s: int = 900,
    ip: str | None = None,
) -> User:
    """The user if the password is right; ValidationFailed otherwise (same words either way).

    Takes the engine, not a session: a failed attempt must be counted and audited in a unit
    of work that commits, even though the caller gets an exception.
    """
    with session_scope(engine) as session:
        user, problem = _attempt(session, username, password, now, max_failures, lockout_s, ip)
    if problem is not None:
        raise ValidationFailed(problem)
    assert user is not None
    return user


def _attempt(
    session: Session,
    username: str,
    password: str,
    now: datetime,
    max_failures: int,
    lockout_s: int,
    ip: str | None,
) -> tuple[User | None, str | None]:
    name = username.strip().lower()[:64]
    user = session.exec(select(User).where(User.username == name)).first()
    if user is None:
        refusal = _unknown_user_attempt(session, name, password, now, max_failures, lockout_s, ip)
        return None, refusal
    actor = f"user:{user.username}"
    if user.locked_until is not None and user.locked_until > now:
        _audit(session, now, actor, "login.locked", f"user:{user.id}", AuditOutcome.DENIED, ip)
        return None, _locked_message(user.locked_until, now)
    if not passwords.verify_password(user.password_hash, password) or user.disabled:
        user.failed_logins += 1
        if user.failed_logins >= max_failures:
            user.locked_until = now + timedelta(seconds=lockout_s)
            user.failed_logins = 0
            _audit(session, now, actor, "login.lockout", f"user:{user.id}", AuditOutcome.DENIED, ip)
        session.add(user)
        _audit(session, now, actor, "login.failed", f"user:{user.id}", AuditOutcome.DENIED, ip)
        return None, WRONG_LOGIN
    user.failed_logins = 0
    user.locked_until = None
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    session.add(user)
    _audit(session, now, actor, "login.ok", f"user:{user.id}", AuditOutcome.OK, ip)
    return user, None


def _unknown_user_attempt(
    session: Session,
    name: str,
    password: str,
    now: datetime,
    max_failures: int,
    lockout_s: int,
    ip: str | None,
) -> str:
    """Refuse a name with no account exactly as a known one is refused, lockout included.

    Were only real accounts ever locked, "Too many failed attempts" would tell an attacker
    which names exist. The audit log is the counter here: the same rule as `User.failed_logins`
    (failures since the last lockout; locked for `lockout_s` after it).
    """
    actor = f"user:{name}"
    last_lockout = session.exec(
        select(sa.func.max(AuditEntry.at)).where(
            AuditEntry.actor == actor, AuditEntry.action == "login.lockout"
        )
    ).one()
    if last_lockout is not None:
        locked_until = last_lockout + timedelta(seconds=lockout_s)
        if locked_until > now:
            _audit(session, now, actor, "login.locked", None, AuditOutcome.DENIED, ip)
            return _locked_message(locked_until, now)
    passwords.verify_password(passwords.DUMMY_HASH, password)
    failures_query = select(sa.func.count()).where(
        AuditEntry.actor == actor, AuditEntry.action == "login.failed"
    )
    if last_lockout is not None:
        failures_query = failures_query.where(AuditEntry.at > last_lockout)
    if session.exec(failures_query).one() + 1 >= max_failures:
        _audit(session, now, actor, "login.lockout", None, AuditOutcome.DENIED, ip)
    _audit(session, now, actor, "login.failed", None, AuditOutcome.DENIED, ip)
    return WRONG_LOGIN


def _locked_message(locked_until: datetime, now: datetime) -> str:
    minutes = max(1, int((locked_until - now).total_seconds() // 60) + 1)
    return f"Too many failed attempts. Try again in {minutes} minutes."


def update_details(
    session: Session, *, user_id: int, display_name: str, email: str, now: datetime
) -> User:
    """Change the display name and email (the email stays unique; audited)."""
    user = get_user(session, user_id)
    email = email.strip().lower()
    if not EMAIL.match(email):
        raise ValidationFailed("Enter a valid email address.")
    taken = session.exec(select(User.id).where(User.email == email, User.id != user_id)).first()
    if taken is not None:
        raise ValidationFailed("We could not use this email address.")
    user.display_name = display_name.strip()[:120] or user.username
    user.email = email
    session.add(user)
    _audit(session, now, f"user:{user.username}", "account.details", f"user:{user.id}")
    return user


def change_password(session: Session, *, user_id: int, old: str, new: str, now: datetime) -> None:
    """Replace the password after checking the old one; every session is signed out."""
    user = get_user(session, user_id)
    if not passwords.verify_password(user.password_hash, old):
        raise ValidationFailed("The current password is wrong.")
    passwords.check_new_password(new, username=user.username, email=user.email)
    _set_password(session, user, new, now, "password.changed")


@dataclass(frozen=True)
class ResetRequest:
    """A reset code to mail, and where to mail it (never shown on the page)."""

    token: str
    email: str


def request_password_reset(session: Session, *, login: str, now: datetime) -> ResetRequest | None:
    """A single-use reset code for a known username or email, else None.

    The page answers the same words either way; only the account's own mailbox learns more.
    """
    login = login.strip().lower()
    user = session.exec(
        select(User).where(sa.or_(col(User.email) == login, col(User.username) == login))
    ).first()
    if user is None or user.disabled:
        return None
    token = secrets.token_urlsafe(24)
    session.add(
        PasswordReset(
            user_id=user.id or 0,
            token_sha256=sessions.token_hash(token),
            created_at=now,
            expires_at=now + RESET_TTL,
        )
    )
    _audit(session, now, f"user:{user.username}", "password.reset_requested", f"user:{user.id}")
    return ResetRequest(token, user.email)


def reset_password(session: Session, *, token: str, new_password: str, now: datetime) -> None:
    """Set a new password with a valid reset token (used once, within the hour)."""
    reset = session.exec(
        select(PasswordReset).where(PasswordReset.token_sha256 == sessions.token_hash(token))
    ).first()
    if reset is None or reset.used_at is not None or reset.expires_at <= now:
        raise ValidationFailed("This reset code is not valid any more. Ask for a new one.")
    user = get_user(session, reset.user_id)
    passwords.check_new_password(new_password, username=user.username, email=user.email)
    reset.used_at = now
    session.add(reset)
    _set_password(session, user, new_password, now, "password.reset")


def set_role(session: Session, *, actor_id: int, user_id: int, role: Role, now: datetime) -> User:
    """An admin changes someone's role (audited)."""
    actor = require_admin(session, actor_id, doing="change roles")
    user = get_user(session, user_id)
    user.role = role
    session.add(user)
    _audit(
        session,
        now,
        f"user:{actor.username}",
        "account.role",
        f"user:{user_id}",
        details={"role": role.value},
    )
    return user


def set_disabled(
    session: Session, *, actor_id: int, user_id: int, disabled: bool, now: datetime
) -> User:
    """An admin disables or re-enables an account; disabling signs it out everywhere."""
    actor = require_admin(session, actor_id, doing="disable accounts")
    user = get_user(session, user_id)
    user.disabled = disabled
    session.add(user)
    if disabled:
        sessions.revoke_all(session, user_id=user_id, now=now)
    _audit(
        session,
        now,
        f"user:{actor.username}",
        "account.disabled" if disabled else "account.enabled",
        f"user:{user_id}",
    )
    return user


def grant_credits(
    session: Session,
    *,
    actor_id: int,
    user_id: int,
    credits: int,
    note: str,
    now: datetime,
    request_key: str,
) -> bool:
    """An admin gives a user credits, audited, once per `request_key` (one per form shown,
    so a double submit grants once); False if that request was already granted."""
    actor = require_admin(session, actor_id, doing="grant credits")
    if not 1 <= credits <= 1_000_000:
        raise ValidationFailed("Grant between 1 and 1,000,000 credits.")
    get_user(session, user_id)
    granted = ledger.grant(
        session,
        user_id=user_id,
        credits=credits,
        key=f"admin:{request_key}",
        note=note[:200] or f"granted by {actor.username}",
        now=now,
    )
    if not granted:
        return False
    _audit(
        session,
        now,
        f"user:{actor.username}",
        "credits.granted",
        f"user:{user_id}",
        details={"credits": credits},
    )
    return True


def require_admin(session: Session, user_id: int, *, doing: str) -> User:
    """The user if they are an administrator; ValidationFailed saying what they may not do."""
    actor = get_user(session, user_id)
    if actor.role is not Role.ADMIN or actor.disabled:
        raise ValidationFailed(f"Only administrators can {doing}.")
    return actor


def get_user(session: Session, user_id: int) -> User:
    """The user, or NotFound."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


def list_users(session: Session, *, limit: int = 100, offset: int = 0) -> list[User]:
    """Users by id, for the admin page."""
    return list(session.exec(select(User).order_by(col(User.id)).offset(offset).limit(limit)).all())


def _set_password(session: Session, user: User, new: str, now: datetime, action: str) -> None:
    user.password_hash = passwords.hash_password(new)
    user.failed_logins = 0
    user.locked_until = None
    session.add(user)
    sessions.revoke_all(session, user_id=user.id or 0, now=now)
    _audit(session, now, f"user:{user.username}", action, f"user:{user.id}")


def _audit(
    session: Session,
    now: datetime,
    actor: str,
    action: str,
    target: str | None,
    outcome: AuditOutcome = AuditOutcome.OK,
    ip: str | None = None,
    details: dict[str, object] | None = None,
) -> None:
    audit.record(
        session,
        at=now,
        actor=actor,
        action=action,
        target=target,
        outcome=outcome,
        ip=ip,
        details=details or {},
    )
