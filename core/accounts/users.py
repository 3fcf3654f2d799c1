"""Registration, sign-in with lockout, password change and reset, roles.

Sign-in answers the same words, after the same work (one password-hash verification), for
an unknown user and a wrong password, so it does not reveal who has an account. Lockout is
per typed name and temporary (`core.accounts.throttle`): an attacker can delay a victim for
`lockout_s`, never lock them out for good. Every attempt is audited, with the client's IP.

Hashing and verifying passwords (tens of milliseconds of argon2id) happen outside any
transaction: on SQLite a write transaction holds the one write lock, so a flood of sign-ins
checked inside one would stall every other write. Each use case therefore reads, computes,
then writes in a short unit of work that re-checks what it read.
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
from core.accounts import ledger, legal, passwords, sessions, throttle
from core.accounts.inputs import has_control_characters, printable
from core.db import read_scope, session_scope
from core.errors import NotFound, ValidationFailed
from core.models import AuditOutcome, PasswordReset, Role, User

USERNAME = re.compile(r"^[a-z0-9_.-]{3,32}$")
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[a-z]{2,24}$")
WRONG_LOGIN = "Wrong username or password."
BAD_SIGN_IN_INPUT = "Usernames and passwords cannot contain control characters. Type them again."
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
    ip: str | None = None,
    accepted: legal.LegalTexts | None = None,
) -> User:
    """Create an account (18+ only) with its starter credits; `accepted` are the legal texts
    the registrant accepted (recorded with their versions).

    Every check and the password hash run before the first statement, so in a fresh session
    no transaction is open while they do (`sign_up` gives it one).
    """
    username, email = username.strip().lower(), email.strip().lower()
    if any(has_control_characters(text) for text in (username, email, display_name)):
        raise ValidationFailed("Names and email addresses cannot contain control characters.")
    if age_on(date_of_birth, now.date()) < 18:
        raise ValidationFailed("You must be 18 or older to use AI KINGS.")
    if not USERNAME.match(username):
        raise ValidationFailed("Usernames are 3-32 characters: letters, digits, . _ or -.")
    if not EMAIL.match(email):
        raise ValidationFailed("Enter a valid email address.")
    display_name = display_name.strip()[:120] or username
    passwords.check_new_password(password, username=username, email=email)
    password_hash = passwords.hash_password(password)
    if session.exec(select(User.id).where(User.username == username)).first() is not None:
        raise ValidationFailed("That username is taken.")
    if session.exec(select(User.id).where(User.email == email)).first() is not None:
        # Not "that email is registered": the same words as any other refusal here.
        raise ValidationFailed("We could not create an account with these details.")
    user = User(
        username=username,
        email=email,
        display_name=display_name,
        password_hash=password_hash,
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
    _audit(session, now, f"user:{username}", "account.registered", f"user:{user.id}", ip=ip)
    if accepted is not None:
        legal.record_acceptance(session, user=user, texts=accepted, now=now, ip=ip)
    return user


def sign_up(
    engine: Engine,
    *,
    username: str,
    email: str,
    display_name: str,
    password: str,
    date_of_birth: date,
    now: datetime,
    starter_credits: int,
    accepted: legal.LegalTexts | None,
    ip: str | None = None,
) -> User:
    """`register` in a unit of work of its own, for a registrant who accepted the legal texts
    (None: not accepted, refused); a refusal is audited, then raised."""
    try:
        if accepted is None:
            raise ValidationFailed(
                "Accept the terms of service and the privacy notice to create an account."
            )
        with session_scope(engine) as session:
            return register(
                session,
                username=username,
                email=email,
                display_name=display_name,
                password=password,
                date_of_birth=date_of_birth,
                now=now,
                starter_credits=starter_credits,
                ip=ip,
                accepted=accepted,
            )
    except ValidationFailed as refusal:
        with session_scope(engine) as session:
            _audit(
                session,
                now,
                f"user:{printable(username.strip().lower())}",
                "account.register_refused",
                None,
                AuditOutcome.DENIED,
                ip,
                details={"reason": str(refusal)},
            )
        raise


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

    Takes the engine, not a session: the attempt is claimed and audited in short units of
    work that commit even though the caller gets an exception, and the password is checked
    between them, outside any transaction.
    """
    name = username.strip().lower()[:64]
    if has_control_characters(name) or has_control_characters(password):
        with session_scope(engine) as session:
            actor = f"user:{printable(name)}"
            _audit(session, now, actor, "login.bad_input", None, AuditOutcome.DENIED, ip)
        raise ValidationFailed(BAD_SIGN_IN_INPUT)
    limits = throttle.Limits(max_failures=max_failures, lockout_s=lockout_s)
    with session_scope(engine) as session:
        refused_until = throttle.claim(session, name=name, now=now, limits=limits)
        user = session.exec(select(User).where(User.username == name)).first()
        if refused_until is not None:
            target = f"user:{user.id}" if user else None
            _audit(session, now, f"user:{name}", "login.locked", target, AuditOutcome.DENIED, ip)
    if refused_until is not None:
        raise ValidationFailed(_locked_message(refused_until, now))
    checked = _check_password(name, user, password)  # outside any transaction
    with session_scope(engine) as session:
        signed_in = _settle(session, checked, now=now, limits=limits, ip=ip)
    if signed_in is None:
        raise ValidationFailed(WRONG_LOGIN)
    return signed_in


@dataclass(frozen=True)
class _Checked:
    """A sign-in attempt whose password was verified against `password_hash`."""

    name: str
    user_id: int | None
    password_hash: str
    matches: bool
    rehashed: str | None


def _check_password(name: str, user: User | None, password: str) -> _Checked:
    """The one slow step, the same for a name with no account: one verification."""
    password_hash = user.password_hash if user else passwords.DUMMY_HASH
    matches = passwords.verify_password(password_hash, password)
    stale = matches and passwords.needs_rehash(password_hash)
    return _Checked(
        name=name,
        user_id=user.id if user else None,
        password_hash=password_hash,
        matches=matches,
        rehashed=passwords.hash_password(password) if stale else None,
    )


def _settle(
    session: Session, checked: _Checked, *, now: datetime, limits: throttle.Limits, ip: str | None
) -> User | None:
    """Record a checked attempt: the signed-in user, or None after counting the failure.

    The account is read again, locked: a password changed or an account disabled while the
    check ran turns a match into a failure.
    """
    # Read by name on both paths (the same statement whether or not the name has an account).
    user = session.exec(select(User).where(User.username == checked.name).with_for_update()).first()
    actor, target = f"user:{checked.name}", f"user:{user.id}" if user else None
    verified = (checked.user_id, checked.password_hash)
    if user is not None and checked.matches and (user.id, user.password_hash) == verified:
        if not user.disabled:
            throttle.clear(session, name=checked.name, now=now)
            if checked.rehashed is not None:
                user.password_hash = checked.rehashed
                session.add(user)
            _audit(session, now, actor, "login.ok", target, AuditOutcome.OK, ip)
            return user
    if throttle.failed(session, name=checked.name, now=now, limits=limits):
        _audit(session, now, actor, "login.lockout", target, AuditOutcome.DENIED, ip)
    _audit(session, now, actor, "login.failed", target, AuditOutcome.DENIED, ip)
    return None


def _locked_message(locked_until: datetime, now: datetime) -> str:
    minutes = max(1, int((locked_until - now).total_seconds() // 60) + 1)
    return f"Too many failed attempts. Try again in {minutes} minutes."


def update_details(
    session: Session, *, user_id: int, display_name: str, email: str, now: datetime
) -> User:
    """Change the display name and email (the email stays unique; audited). A changed
    email is no longer verified (core.accounts.verification)."""
    user = get_user(session, user_id)
    email = email.strip().lower()
    if has_control_characters(display_name) or has_control_characters(email):
        raise ValidationFailed("Names and email addresses cannot contain control characters.")
    if not EMAIL.match(email):
        raise ValidationFailed("Enter a valid email address.")
    taken = session.exec(select(User.id).where(User.email == email, User.id != user_id)).first()
    if taken is not None:
        raise ValidationFailed("We could not use this email address.")
    user.display_name = display_name.strip()[:120] or user.username
    if email != user.email:  # a new address is unproven; its own link may go out at once
        user.verified_at = user.verification_sent_at = None
    user.email = email
    session.add(user)
    _audit(session, now, f"user:{user.username}", "account.details", f"user:{user.id}")
    return user


def change_password(
    engine: Engine, *, user_id: int, old: str, new: str, now: datetime, ip: str | None = None
) -> None:
    """Replace the password after checking the old one; every session is signed out.

    Both hashes are computed outside any transaction; the write then checks that the
    password is still the one verified.
    """
    with read_scope(engine) as session:
        user = get_user(session, user_id)
    if has_control_characters(old) or not passwords.verify_password(user.password_hash, old):
        raise ValidationFailed("The current password is wrong.")
    passwords.check_new_password(new, username=user.username, email=user.email)
    new_hash = passwords.hash_password(new)
    with session_scope(engine) as session:
        current = session.get(User, user_id, with_for_update=True)
        if current is None or current.password_hash != user.password_hash:
            raise ValidationFailed("Your password was just changed elsewhere. Sign in again.")
        _set_password(session, current, new_hash, now, "password.changed", ip)


@dataclass(frozen=True)
class ResetRequest:
    """A reset code to mail, and where to mail it (never shown on the page)."""

    token: str
    email: str


def request_password_reset(
    engine: Engine, *, login: str, now: datetime, ip: str | None = None
) -> ResetRequest | None:
    """A single-use reset code for a known username or email, else None; always audited.

    The page answers the same words either way; only the account's own mailbox learns more.
    """
    login = login.strip().lower()[:254]
    if has_control_characters(login):
        with session_scope(engine) as session:
            actor = f"user:{printable(login)}"
            _audit(session, now, actor, "password.reset_bad_input", None, AuditOutcome.DENIED, ip)
        raise ValidationFailed("Usernames and email addresses cannot contain control characters.")
    with session_scope(engine) as session:
        user = session.exec(
            select(User).where(sa.or_(col(User.email) == login, col(User.username) == login))
        ).first()
        if user is None or user.disabled:
            actor = f"user:{login}"
            _audit(session, now, actor, "password.reset_requested", None, AuditOutcome.DENIED, ip)
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
        actor, target = f"user:{user.username}", f"user:{user.id}"
        _audit(session, now, actor, "password.reset_requested", target, ip=ip)
        return ResetRequest(token, user.email)


RESET_CODE_WRONG = "That reset code is not right. Check the code in the email and type it again."
RESET_CODE_USED = "This reset code was already used. Ask for a new one if you still need it."
RESET_CODE_REVOKED = (
    "This reset code no longer works: the password was changed after it was sent. "
    "Ask for a new one if you still need it."
)
RESET_CODE_EXPIRED = "This reset code has expired (codes work for one hour). Ask for a new one."


def reset_password(
    engine: Engine, *, token: str, new_password: str, now: datetime, ip: str | None = None
) -> None:
    """Set a new password with a reset code: once, within the hour, and only if the password
    has not changed since the code was sent. Each refusal says which of these it was."""
    code = token.strip()
    if not code or has_control_characters(code):
        raise ValidationFailed(RESET_CODE_WRONG)
    by_code = col(PasswordReset.token_sha256) == sessions.token_hash(code)
    with read_scope(engine) as session:
        reset = session.exec(select(PasswordReset).where(by_code)).first()
        user = get_user(session, reset.user_id) if reset is not None else None
    if reset is None or user is None:
        raise ValidationFailed(RESET_CODE_WRONG)
    _refuse_spent_code(reset, now)
    passwords.check_new_password(new_password, username=user.username, email=user.email)
    new_hash = passwords.hash_password(new_password)
    with session_scope(engine) as session:
        consumed = session.execute(
            sa.update(PasswordReset)
            .where(
                by_code,
                col(PasswordReset.used_at).is_(None),
                col(PasswordReset.revoked_at).is_(None),
                col(PasswordReset.expires_at) > now,
            )
            .values(used_at=now)
        )
        if consumed.rowcount != 1:  # type: ignore[attr-defined]
            raise ValidationFailed(RESET_CODE_USED)  # used by a submit racing this one
        current = session.get(User, user.id, with_for_update=True)
        assert current is not None  # users are disabled, never deleted
        _set_password(session, current, new_hash, now, "password.reset", ip)


def _refuse_spent_code(reset: PasswordReset, now: datetime) -> None:
    if reset.used_at is not None:
        raise ValidationFailed(RESET_CODE_USED)
    if reset.revoked_at is not None:
        raise ValidationFailed(RESET_CODE_REVOKED)
    if reset.expires_at <= now:
        raise ValidationFailed(RESET_CODE_EXPIRED)


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


def _set_password(
    session: Session, user: User, new_hash: str, now: datetime, action: str, ip: str | None
) -> None:
    """Store a new password hash: sessions end, outstanding reset codes stop working, and
    any lockout of the name is lifted."""
    user.password_hash = new_hash
    session.add(user)
    sessions.revoke_all(session, user_id=user.id or 0, now=now)
    session.execute(
        sa.update(PasswordReset)
        .where(
            col(PasswordReset.user_id) == user.id,
            col(PasswordReset.used_at).is_(None),
            col(PasswordReset.revoked_at).is_(None),
        )
        .values(revoked_at=now)
    )
    throttle.clear(session, name=user.username, now=now)
    _audit(session, now, f"user:{user.username}", action, f"user:{user.id}", ip=ip)


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
