"""Operator alerts: always logged at ERROR, and POSTed as JSON to a webhook when configured.

A failing webhook never breaks the caller: the alert is already in the log.
"""

from __future__ import annotations

import logging

import httpx

from core.clock import Clock, SystemClock

log = logging.getLogger(__name__)


class Alerter:
    """Sends `kind` + message + details to the log and to `webhook_url`."""

    def __init__(
        self,
        webhook_url: str | None,
        *,
        timeout_s: float = 5.0,
        transport: httpx.BaseTransport | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.webhook_url = webhook_url
        self.timeout_s = timeout_s
        self.transport = transport
        self.clock = clock or SystemClock()

    def __call__(self, kind: str, message: str, **details: object) -> None:
        """Raise one alert (e.g. `budget_cap`, `orphan`, `boot_failed`, `leader_lost`)."""
        log.error("alert.%s", kind, extra={"alert": message, **details})
        if not self.webhook_url:
            return
        payload = {
            "kind": kind,
            "message": message,
            "details": {k: str(v) for k, v in details.items()},
            "at": self.clock.now().isoformat(),
            "source": "aikings",
        }
        try:
            with httpx.Client(timeout=self.timeout_s, transport=self.transport) as http:
                http.post(self.webhook_url, json=payload).raise_for_status()
        except httpx.HTTPError as exc:
            log.warning("alert.webhook_failed", extra={"kind": kind, "error": str(exc)})


def no_alerts(kind: str, message: str, **details: object) -> None:
    """An alerter that only logs (the default where none is wired)."""
    log.error("alert.%s", kind, extra={"alert": message, **details})
