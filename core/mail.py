"""Outgoing mail, written as .eml files to an outbox directory.

A self-hosted studio rarely has a mail relay on day one. Messages land in `<data_dir>/outbox`
where an operator (or a relay such as `msmtp`/a cron job) can deliver them; nothing is lost
and no credentials are needed to run the app.
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path

SENDER = "AI KINGS <no-reply@localhost>"


def write_outbox(directory: Path, *, to: str, subject: str, body: str, now: datetime) -> Path:
    """Write one message to `directory` atomically and return its path."""
    directory.mkdir(parents=True, exist_ok=True)
    message = EmailMessage()
    message["From"] = SENDER
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = now.strftime("%a, %d %b %Y %H:%M:%S +0000")
    message.set_content(body)
    handle, temp = tempfile.mkstemp(dir=directory, suffix=".tmp")
    with os.fdopen(handle, "wb") as out:
        out.write(bytes(message))
    final = directory / f"{now.strftime('%Y%m%dT%H%M%S')}-{Path(temp).stem}.eml"
    os.replace(temp, final)
    return final
