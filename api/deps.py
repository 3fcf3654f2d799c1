"""What every route needs: the shared services, and the token's principal checked for scope."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy.engine import Engine

from api.limits import RateLimiter
from core.accounts import legal
from core.accounts.api_tokens import Principal, Scope, resolve_token
from core.clock import Clock
from core.comfy.presets import Presets
from core.config import Settings
from core.db import session_scope
from core.gallery.media import MediaStore, open_media_store
from core.gallery.sharing import ShareSigner
from core.studio.pricing import Pricing


@dataclass(frozen=True)
class Services:
    """The process-wide parts the routes use."""

    engine: Engine
    settings: Settings
    presets: Presets
    pricing: Pricing
    clock: Clock
    limiter: RateLimiter
    legal_texts: legal.LegalTexts = field(default_factory=legal.load)
    """The terms of service and privacy notice in force (`data/legal/`)."""

    @cached_property
    def media(self) -> MediaStore:
        """The media store `MEDIA_STORE` names (built once)."""
        return open_media_store(self.settings)

    @property
    def share_signer(self) -> ShareSigner:
        """Signs share links with the key the web app's share page checks them with."""
        return ShareSigner.from_secret(self.settings.cookie_key.get_secret_value())


TERMS_CHANGED = (
    "The terms of service or the privacy notice changed since you accepted them: sign in on "
    "the website and accept them, then use this token again."
)


def services(request: Request) -> Services:
    """The app's services (set by `api.app.create_app`)."""
    found: Services = request.app.state.services
    return found


def principal(request: Request, svc: Annotated[Services, Depends(services)]) -> Principal:
    """The principal of the request's `Authorization: Bearer <token>`, rate-limited per token.

    401 without a valid token, 403 until its user accepted the legal texts in force (the web
    asks again whenever their version changes), 429 with `Retry-After` once the token's rate
    is spent.
    """
    scheme, _, secret = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise HTTPException(401, "Send an API token: Authorization: Bearer <token>.")
    with session_scope(svc.engine) as session:
        found = resolve_token(session, secret=secret.strip(), now=svc.clock.now())
    if found is None:
        raise HTTPException(401, "This API token is not valid (unknown, revoked or disabled).")
    if legal.needs_acceptance(found.user, svc.legal_texts):
        raise HTTPException(403, TERMS_CHANGED)
    wait_s = svc.limiter.take(found.token_id, now=svc.clock.monotonic())
    if wait_s is not None:
        raise HTTPException(
            429,
            "Too many requests for this token; slow down.",
            headers={"Retry-After": str(max(1, round(wait_s + 0.5)))},
        )
    return found


def needs(scope: Scope) -> Callable[[Principal], Principal]:
    """A dependency giving the principal if its token has `scope`, else 403."""

    def _check(who: Annotated[Principal, Depends(principal)]) -> Principal:
        if scope not in who.scopes:
            raise HTTPException(403, f"This token lacks the '{scope.value}' scope.")
        return who

    return _check


Svc = Annotated[Services, Depends(services)]
Reader = Annotated[Principal, Depends(needs(Scope.READ))]
"""A principal whose token may read."""
Generator = Annotated[Principal, Depends(needs(Scope.GENERATE))]
"""A principal whose token may generate (spend credits) and act on its pictures."""
MuseWriter = Annotated[Principal, Depends(needs(Scope.MUSES))]
"""A principal whose token may create, change, import and export muses."""
