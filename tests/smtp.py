"""A real SMTP server on loopback (aiosmtpd) for the mail tests: plain, STARTTLS or TLS,
optionally with AUTH, and a self-signed certificate the client is made to trust."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from testing.processes import free_port


@dataclass
class Inbox:
    """What the server accepted: each message with its envelope."""

    messages: list[Message] = field(default_factory=list)
    recipients: list[list[str]] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.messages.append(message_from_bytes(envelope.original_content or envelope.content))
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 OK"


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@contextmanager
def smtp_server(
    *,
    security: str = "none",
    cert: tuple[Path, Path] | None = None,
    login: tuple[str, str] | None = None,
) -> Iterator[tuple[int, Inbox]]:
    """Serve SMTP on 127.0.0.1 (port, inbox) until the block ends.

    `security`: "none" (plain), "starttls" (STARTTLS required) or "tls" (TLS from the first
    byte); both TLS kinds need `cert`. `login` requires AUTH with that user and password.
    """
    inbox = Inbox()
    context = None
    if cert is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*cert)
    kwargs: dict[str, object] = {}
    if security == "starttls":
        kwargs |= {"tls_context": context, "require_starttls": True}
    elif security == "tls":
        kwargs |= {"ssl_context": context}
    if login is not None:

        def authenticate(server, session, envelope, mechanism, data):
            ok = (
                isinstance(data, LoginPassword)
                and (data.login.decode(), data.password.decode()) == login
            )
            if ok:
                inbox.logins.append(data.login.decode())
            return AuthResult(success=ok, handled=False)  # aiosmtpd then answers 535

        # aiosmtpd only knows of TLS it upgraded to itself (STARTTLS): under implicit TLS it
        # would hide AUTH although the connection is encrypted, and it warns when AUTH is
        # required without TLS. So AUTH is required under STARTTLS and offered otherwise
        # (`Inbox.logins` shows it was used).
        kwargs |= {
            "authenticator": authenticate,
            "auth_required": security == "starttls",
            "auth_require_tls": security == "starttls",
        }
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        yield port, inbox
    finally:
        controller.stop()
