"""Structured logging: every record is an event name plus fields.

Call sites log `log.info("pool.instance_created", extra={"instance_id": 7})`; the formatter
renders `event key=value ...` for people, or one JSON object per line for machines.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

QUIET_LIBRARIES = ("httpx", "httpcore")
"""Libraries whose INFO records are one line per HTTP request (the scheduler sweeps the
provider's instance list every second): they log at WARNING unless DEBUG is asked for."""

_STANDARD_ATTRS = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime"}
)


def event_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The custom fields a call site passed through `extra=`."""
    return {k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRS}


class EventFormatter(logging.Formatter):
    """Formats records as `time level logger event key=value ...` or as JSON lines."""

    def __init__(self, *, as_json: bool = False) -> None:
        super().__init__()
        self.as_json = as_json

    def format(self, record: logging.LogRecord) -> str:
        """Render one record; exceptions are appended, never swallowed."""
        fields = event_fields(record)
        stamp = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        if self.as_json:
            payload = {
                "ts": stamp,
                "level": record.levelname,
                "logger": record.name,
                "event": record.getMessage(),
                **fields,
            }
            if record.exc_info:
                payload["exc"] = self.formatException(record.exc_info)
            return json.dumps(payload, default=str)
        rendered = " ".join(f"{key}={value!r}" for key, value in fields.items())
        line = f"{stamp} {record.levelname:<7} {record.name} {record.getMessage()} {rendered}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line.rstrip()


def configure_logging(level: str = "INFO", *, as_json: bool = False) -> None:
    """Send all logs to stderr through `EventFormatter`, `QUIET_LIBRARIES` at WARNING unless
    `level` is DEBUG; safe to call more than once."""
    handler = logging.StreamHandler()
    handler.setFormatter(EventFormatter(as_json=as_json))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.NOTSET if level == "DEBUG" else logging.WARNING)
