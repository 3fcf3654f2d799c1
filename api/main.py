"""`aikings-api`: serve the HTTP API on `API_PORT` with uvicorn."""

from __future__ import annotations

import uvicorn

from api.app import create_app
from api.deps import Services
from api.limits import RateLimiter
from core.clock import SystemClock
from core.comfy.presets import Presets
from core.config import Settings, get_settings
from core.db import make_engine
from core.logs import configure_logging
from core.studio.pricing import pricing_from


def services_from(settings: Settings) -> Services:
    """The API's services for a deployment's settings."""
    return Services(
        engine=make_engine(settings.database_url),
        settings=settings,
        presets=Presets.load(),
        pricing=pricing_from(settings),
        clock=SystemClock(),
        limiter=RateLimiter(settings.api_rate_per_minute),
    )


def main() -> None:
    """Serve until SIGINT/SIGTERM (uvicorn's handlers stop it cleanly)."""
    settings = get_settings()
    configure_logging(settings.log_level, as_json=settings.log_json)
    uvicorn.run(
        create_app(services_from(settings)),
        host=settings.api_host,
        port=settings.api_port,
        log_level="warning",
        proxy_headers=False,
    )


if __name__ == "__main__":
    main()
