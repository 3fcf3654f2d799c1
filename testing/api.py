"""The HTTP API for tests and the benchmark: in a thread on loopback, or as the real
`python -m api` process; and users with tokens to call it."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
from sqlalchemy.engine import Engine

from api.app import create_app
from api.limits import RateLimiter
from api.main import services_from
from core.accounts import legal
from core.accounts.api_tokens import Scope, create_token
from core.clock import SystemClock
from core.config import get_settings
from core.db import session_scope
from core.models import User
from sim.server import ServerThread
from testing.factories import grant_credits, make_user
from testing.processes import free_port, python_module, stop

ALL_USER_SCOPES = frozenset({Scope.READ, Scope.GENERATE, Scope.MUSES})
_TEXTS = legal.load()
ACCEPTED = {"terms_version": _TEXTS.terms.version, "privacy_version": _TEXTS.privacy.version}
"""A user who accepted the legal texts in force (registration records them)."""
READY_TIMEOUT_S = 60.0


@dataclass
class Api:
    """A running API and a helper to mint tokens."""

    url: str
    engine: Engine

    def client(self, token: str | None) -> httpx.Client:
        """A client sending `token` as its bearer (none without one)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def user_with_token(
        self, scopes: frozenset[Scope] = ALL_USER_SCOPES, credits: int = 100, **fields: object
    ) -> tuple[User, str]:
        """A new user granted `credits`, and the secret of a token with `scopes`."""
        user = make_user(self.engine, **{**ACCEPTED, **fields})
        return user, token_for(self.engine, user, scopes=scopes, credits=credits)


def token_for(
    engine: Engine, user: User, *, scopes: frozenset[Scope] = ALL_USER_SCOPES, credits: int = 0
) -> str:
    """Grant `user` `credits` and return the secret of a new token with `scopes`."""
    now = SystemClock().now()
    if credits:
        grant_credits(engine, user, credits, now=now)
    with session_scope(engine) as session:
        made = create_token(session, user_id=user.id or 0, name="bot", scopes=scopes, now=now)
    return made.secret


@contextmanager
def api_thread(engine: Engine, *, per_minute: int = 10_000) -> Iterator[Api]:
    """The API app on `engine` served by uvicorn in a thread on loopback."""
    svc = replace(services_from(get_settings()), engine=engine, limiter=RateLimiter(per_minute))
    with ServerThread(create_app(svc)) as server:
        yield Api(server.url, engine)


@contextmanager
def api_process(engine: Engine, *, env: Mapping[str, str], cwd: Path) -> Iterator[Api]:
    """`python -m api` (what `aikings-api` runs) on a free loopback port over `engine`'s
    database, `env` over ours; ready once it serves its OpenAPI document, stopped at the end."""
    port = free_port()
    settings = {
        "DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "API_HOST": "127.0.0.1",
        "API_PORT": str(port),
        **env,
    }
    url = f"http://127.0.0.1:{port}"
    with python_module("api", env=settings, cwd=cwd) as proc:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the API exited at start: {stop(proc)[-2000:]}")
            try:
                if httpx.get(f"{url}/openapi.json", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the API did not start in {READY_TIMEOUT_S:.0f} s")
            time.sleep(0.1)
        yield Api(url, engine)
