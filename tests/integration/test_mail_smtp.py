"""Mail reaches a real SMTP server on loopback (aiosmtpd) by every security mode; without
SMTP_HOST, or when the relay fails, it lands in the outbox."""

from datetime import UTC, datetime

import pytest

from core.config import load_settings
from core.mail import send_mail
from testing.processes import free_port
from tests.smtp import self_signed, smtp_server

NOW = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)


@pytest.fixture
def cert(tmp_path, monkeypatch):
    """A self-signed certificate for 127.0.0.1 that the client's default context trusts."""
    pair = self_signed(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(pair[0]))
    return pair


def settings_for(port, tmp_path, **extra):
    return load_settings(
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_sender="Studio <mail@studio.example.test>",
        data_dir=tmp_path / "data",
        **extra,
    )


def send(settings, to="ava@example.test"):
    return send_mail(settings, to=to, subject="Hello", body="Line one\nLine two", now=NOW)


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_mail_is_delivered_over_tls_with_a_login(tmp_path, cert, security):
    with smtp_server(security=security, cert=cert, login=("studio", "relay pw")) as (port, inbox):
        settings = settings_for(
            port, tmp_path, smtp_security=security, smtp_user="studio", smtp_password="relay pw"
        )
        assert send(settings) is None
    [message] = inbox.messages
    assert inbox.recipients == [["ava@example.test"]]
    assert inbox.logins == ["studio"]
    assert message["From"] == "Studio <mail@studio.example.test>"
    assert message["Subject"] == "Hello"
    assert message["Message-ID"].endswith("@studio.example.test>")
    assert message.get_payload(decode=True).decode().splitlines() == ["Line one", "Line two"]
    assert not (tmp_path / "data" / "outbox").exists()


def test_plain_smtp_without_login_for_a_relay_on_a_closed_network(tmp_path):
    with smtp_server() as (port, inbox):
        assert send(settings_for(port, tmp_path, smtp_security="none")) is None
    assert [m["To"] for m in inbox.messages] == ["ava@example.test"]


def test_an_untrusted_certificate_is_refused_and_the_message_kept_in_the_outbox(tmp_path, caplog):
    cert = self_signed(tmp_path)  # not made trusted: SSL_CERT_FILE is not set
    with smtp_server(security="starttls", cert=cert) as (port, inbox):
        kept = send(settings_for(port, tmp_path, smtp_security="starttls"))
    assert inbox.messages == []
    assert kept is not None and kept.parent == tmp_path / "data" / "outbox"
    assert any(r.message == "mail.smtp_failed" for r in caplog.records)


def test_a_wrong_relay_password_keeps_the_message_in_the_outbox(tmp_path, cert):
    with smtp_server(security="starttls", cert=cert, login=("studio", "relay pw")) as (port, inbox):
        settings = settings_for(port, tmp_path, smtp_user="studio", smtp_password="wrong")
        kept = send(settings)
    assert inbox.messages == [] and kept is not None and kept.exists()


def test_a_relay_that_is_down_keeps_the_message_in_the_outbox(tmp_path):
    kept = send(settings_for(free_port(), tmp_path, smtp_security="none"))
    assert kept is not None and b"Line one" in kept.read_bytes()


def test_without_smtp_host_mail_goes_to_the_outbox(tmp_path):
    kept = send_mail(
        load_settings(data_dir=tmp_path / "data"),
        to="a@example.test",
        subject="s",
        body="b",
        now=NOW,
    )
    assert kept is not None and kept.parent == tmp_path / "data" / "outbox"


def test_relay_user_and_password_go_together():
    from core.errors import ConfigError

    with pytest.raises(ConfigError, match="SMTP_USER and SMTP_PASSWORD"):
        load_settings(smtp_host="relay.example.test", smtp_user="studio")
