"""Email verification: a link mailed through a real SMTP relay on loopback verifies once;
expired, forged and out-of-date links are refused with their own words; "send again" is
rate-limited, also under parallel clicks (both databases)."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlmodel import select

from core.accounts import users, verification
from core.config import load_settings
from core.db import read_scope, session_scope
from core.models import AuditEntry, User
from testing.factories import make_user
from tests.smtp import smtp_server

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
SECRET = "an-operator-cookie-key"


@pytest.fixture
def relay():
    with smtp_server() as (port, inbox):
        yield port, inbox


def settings_for(port, tmp_path):
    return load_settings(
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_security="none",
        cookie_key=SECRET,
        public_base_url="https://studio.example.test",
        data_dir=tmp_path / "data",
    )


def link_in(message):
    body = message.get_payload(decode=True).decode()
    [link] = [word for word in body.split() if word.startswith("https://")]
    return link


def token_of(link):
    return parse_qs(urlsplit(link).query)["token"][0]


def audits(engine, action):
    with read_scope(engine) as session:
        return session.exec(select(AuditEntry).where(AuditEntry.action == action)).all()


def test_the_mailed_link_verifies_the_address_once(engine, relay, tmp_path):
    port, inbox = relay
    user = make_user(engine, email="ava@example.test", display_name="Ava")
    assert verification.send_link(settings_for(port, tmp_path), engine, user_id=user.id, now=NOW)
    [message] = inbox.messages
    assert message["To"] == "ava@example.test"
    link = link_in(message)
    assert link.startswith("https://studio.example.test/verify?token=")

    later = NOW + timedelta(hours=1)
    token = token_of(link)
    assert verification.confirm(engine, SECRET, token=token, now=later) == "verified"
    assert verification.confirm(engine, SECRET, token=token, now=later) == "already"
    with read_scope(engine) as session:
        assert session.get(User, user.id).verified_at == later
    assert len(audits(engine, "account.email_verified")) == 1


def test_an_expired_link_says_so(engine):
    user = make_user(engine)
    token = verification.make_token(SECRET, user_id=user.id, email=user.email, now=NOW)
    after = NOW + verification.LINK_TTL + timedelta(seconds=1)
    with pytest.raises(verification.LinkRefused) as refused:
        verification.confirm(engine, SECRET, token=token, now=after)
    assert str(refused.value) == verification.LINK_EXPIRED


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: "",
        lambda t: "not a token",
        lambda t: t[:-2],  # cut short
        lambda t: "999." + t.split(".", 1)[1],  # someone else's id
        lambda t: t.split(".")[0] + f".{int(t.split('.')[1]) + 86400}." + t.split(".")[2],
        lambda t: t + "x" * 300,
        # Before, these stopped the verify page with an unexpected error: a digit to
        # str.isdigit that int() refuses (ValueError), and an id past the id column
        # (OverflowError on SQLite, integer out of range on PostgreSQL).
        lambda t: "\u00b2." + t.split(".", 1)[1],
        lambda t: t.split(".")[0] + ".\u00b2." + t.split(".")[2],
        lambda t: "9" * 20 + "." + t.split(".", 1)[1],
    ],
)
def test_forged_or_broken_links_are_invalid(engine, tamper):
    user = make_user(engine)
    token = verification.make_token(SECRET, user_id=user.id, email=user.email, now=NOW)
    with pytest.raises(verification.LinkRefused, match="not valid"):
        verification.confirm(engine, SECRET, token=tamper(token), now=NOW)
    with pytest.raises(verification.LinkRefused, match="not valid"):  # another deployment's key
        verification.confirm(engine, "another-key", token=token, now=NOW)


def test_changing_the_address_unverifies_it_and_voids_earlier_links(engine):
    user = make_user(engine, email="old@example.test")
    old_link = verification.make_token(SECRET, user_id=user.id, email=user.email, now=NOW)
    assert verification.confirm(engine, SECRET, token=old_link, now=NOW) == "verified"
    with session_scope(engine) as session:
        users.update_details(
            session, user_id=user.id, display_name="New", email="new@example.test", now=NOW
        )
    with read_scope(engine) as session:
        assert session.get(User, user.id).verified_at is None
    with pytest.raises(verification.LinkRefused, match="earlier email"):
        verification.confirm(engine, SECRET, token=old_link, now=NOW)


def test_a_disabled_account_is_not_verified(engine):
    user = make_user(engine, disabled=True)
    token = verification.make_token(SECRET, user_id=user.id, email=user.email, now=NOW)
    with pytest.raises(verification.LinkRefused, match="not valid"):
        verification.confirm(engine, SECRET, token=token, now=NOW)


def test_send_again_waits_between_links_and_stops_once_verified(engine, relay, tmp_path):
    port, inbox = relay
    settings = settings_for(port, tmp_path)
    user = make_user(engine)
    assert verification.send_link(settings, engine, user_id=user.id, now=NOW)
    soon = NOW + verification.RESEND_INTERVAL - timedelta(seconds=1)
    assert not verification.send_link(settings, engine, user_id=user.id, now=soon)
    later = NOW + verification.RESEND_INTERVAL
    assert verification.send_link(settings, engine, user_id=user.id, now=later)
    assert len(inbox.messages) == 2
    verification.confirm(engine, SECRET, token=token_of(link_in(inbox.messages[1])), now=later)
    assert not verification.send_link(settings, engine, user_id=user.id, now=later + timedelta(1))
    assert len(inbox.messages) == 2


CLICKS = 8


def test_parallel_send_again_clicks_mail_one_link(engine, relay, tmp_path):
    port, inbox = relay
    settings = settings_for(port, tmp_path)
    user = make_user(engine)
    start = threading.Barrier(CLICKS)

    def click(_):
        start.wait()
        return verification.send_link(settings, engine, user_id=user.id, now=NOW)

    with ThreadPoolExecutor(max_workers=CLICKS) as pool:
        sent = list(pool.map(click, range(CLICKS)))
    assert sent.count(True) == 1
    assert len(inbox.messages) == 1


def test_parallel_clicks_on_one_link_verify_once(engine):
    user = make_user(engine)
    token = verification.make_token(SECRET, user_id=user.id, email=user.email, now=NOW)
    start = threading.Barrier(CLICKS)

    def click(_):
        start.wait()
        return verification.confirm(engine, SECRET, token=token, now=NOW)

    with ThreadPoolExecutor(max_workers=CLICKS) as pool:
        outcomes = list(pool.map(click, range(CLICKS)))
    assert outcomes.count(verification.Confirmed.VERIFIED) == 1
    assert outcomes.count(verification.Confirmed.ALREADY) == CLICKS - 1
    assert len(audits(engine, "account.email_verified")) == 1
