"""Outgoing mail: over SMTP when a relay is configured, else as .eml files in an outbox.

A self-hosted studio rarely has a mail relay on day one. Without `SMTP_HOST`, messages land
in `<data_dir>/outbox` where an operator (or a relay such as `msmtp`/a cron job) can deliver
them; nothing is lost and no credentials are needed to run the app. With it, `send_mail`
hands each message to the relay (stdlib `smtplib`, STARTTLS or implicit TLS, certificates
verified); a relay that fails is logged and the message goes to the outbox instead.
"""

from __future__ import annotations

import logging
import os
import smtplib
import ssl
import tempfile
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path

from core.config import DEFAULT_SENDER, Settings, SmtpSecurity

DEFAULT_PORTS = {SmtpSecurity.STARTTLS: 587, SmtpSecurity.TLS: 465, SmtpSecurity.NONE: 25}

log = logging.getLogger(__name__)


def compose(*, sender: str, to: str, subject: str, body: str, now: datetime) -> EmailMessage:
    """One plain-text message with From, To, Subject, Date and a Message-ID at the sender's
    domain."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(now)
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    message["Message-ID"] = make_msgid(domain=domain)
    message.set_content(body)
    return message


def write_outbox(
    directory: Path,
    *,
    to: str,
    subject: str,
    body: str,
    now: datetime,
    sender: str = DEFAULT_SENDER,
) -> Path:
    """Write one message to `directory` atomically and return its path."""
    message = compose(sender=sender, to=to, subject=subject, body=body, now=now)
    return _write(directory, message, now)


def _write(directory: Path, message: EmailMessage, now: datetime) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=directory, suffix=".tmp")
    with os.fdopen(handle, "wb") as out:
        out.write(bytes(message))
    final = directory / f"{now.strftime('%Y%m%dT%H%M%S')}-{Path(temp).stem}.eml"
    os.replace(temp, final)
    return final


def send_smtp(settings: Settings, message: EmailMessage) -> None:
    """Hand `message` to the relay at `SMTP_HOST`; raise `smtplib.SMTPException` or
    `OSError` when it cannot be delivered there. TLS certificates are verified against the
    system's trust store (`SSL_CERT_FILE` points it elsewhere)."""
    host = settings.smtp_host
    if host is None:
        raise ValueError("send_smtp needs SMTP_HOST")
    security = settings.smtp_security
    port = settings.smtp_port or DEFAULT_PORTS[security]
    context = ssl.create_default_context()
    timeout = settings.smtp_timeout_s
    client: smtplib.SMTP
    if security is SmtpSecurity.TLS:
        client = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
    else:
        client = smtplib.SMTP(host, port, timeout=timeout)
    with client:
        if security is SmtpSecurity.STARTTLS:
            client.starttls(context=context)
        if settings.smtp_user is not None and settings.smtp_password is not None:
            client.login(settings.smtp_user, settings.smtp_password.get_secret_value())
        client.send_message(message)


def send_mail(
    settings: Settings, *, to: str, subject: str, body: str, now: datetime
) -> Path | None:
    """Send one message the configured way: to the SMTP relay when `SMTP_HOST` is set (None
    once it accepted it), otherwise, or when the relay fails (logged), into the outbox
    (its path)."""
    message = compose(sender=settings.smtp_sender, to=to, subject=subject, body=body, now=now)
    if settings.smtp_host is not None:
        try:
            send_smtp(settings, message)
        except (smtplib.SMTPException, OSError) as exc:
            log.error(
                "mail.smtp_failed",
                extra={"host": settings.smtp_host, "error": f"{type(exc).__name__}: {exc}"},
            )
        else:
            return None
    return _write(settings.data_dir / "outbox", message, now)
