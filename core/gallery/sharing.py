"""Share links: signed tokens that open one picture to anyone holding them, until revoked.

A link is `<token>.<hmac>`: a random token (only its sha256 is stored) and an HMAC-SHA256
over it under a key derived for sharing alone (`ShareSigner.from_secret`), never the key that
signs session cookies, so neither can stand in for the other. A forged link is refused before
any database lookup.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from core.errors import NotFound
from core.gallery.listing import owned_asset
from core.links import page_url
from core.models import Asset, Screening, ShareLink, Visibility

SHARE_PAGE = "share"
"""The web page's url path a share link opens (ui/navigation.py serves it there)."""
SHARE_KEY_SALT = b"aikings/gallery/share-link/v1"
"""Domain separation: the sharing key is HMAC(secret, this salt), so it is not the secret."""


@dataclass(frozen=True, repr=False)
class ShareSigner:
    """Signs share tokens and checks signed ones with the sharing key."""

    key: bytes

    @classmethod
    def from_secret(cls, secret: str) -> ShareSigner:
        """The signer whose key is derived from the deployment's `secret` for sharing only."""
        return cls(hmac.new(secret.encode(), SHARE_KEY_SALT, hashlib.sha256).digest())

    def sign(self, token: str) -> str:
        """The link value for `token`."""
        return f"{token}.{self._mac(token)}"

    def read(self, value: str) -> str | None:
        """The token inside a link we signed, or None for anything tampered with."""
        token, _, mac = value.rpartition(".")
        if not token or not mac:
            return None
        return token if hmac.compare_digest(self._mac(token), mac) else None

    def _mac(self, token: str) -> str:
        return hmac.new(self.key, token.encode(), hashlib.sha256).hexdigest()


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_link(signer: ShareSigner) -> tuple[str, str]:
    """A fresh random link: (the signed value handed out, the hash to store)."""
    token = secrets.token_urlsafe(18)
    return signer.sign(token), _token_hash(token)


def link_hash(signer: ShareSigner, value: str) -> str | None:
    """The stored hash of the token inside a link we signed; None for a forged or garbled
    link (so it costs no database lookup)."""
    raw = signer.read(value)
    return None if raw is None else _token_hash(raw)


def create_share_link(
    session: Session, *, owner_id: int, asset_id: int, signer: ShareSigner, now: datetime
) -> str:
    """A new signed share token for the owner's asset (only its hash is stored).

    Sharing a private picture makes it unlisted: anyone with a link may see it, nobody finds
    it in the gallery. The link works once screening passed (SECURITY.md: outputs are
    screened before they are shared) and stops working when revoked, hidden or made private.
    """
    asset = owned_asset(session, owner_id=owner_id, asset_id=asset_id)
    if asset.visibility is Visibility.PRIVATE:
        asset.visibility = Visibility.UNLISTED
        session.add(asset)
    link, token_sha256 = new_link(signer)
    session.add(
        ShareLink(asset_id=asset_id, token_sha256=token_sha256, created_by=owner_id, created_at=now)
    )
    return link


def share_url(base_url: str, link: str) -> str:
    """The address that opens the picture behind `link` (what `create_share_link` returned)."""
    return page_url(base_url, SHARE_PAGE, token=link)


def resolve_share(session: Session, *, token: str, signer: ShareSigner) -> Asset:
    """The shared asset; NotFound for forged, unknown, revoked, private or hidden links."""
    token_sha256 = link_hash(signer, token)
    if token_sha256 is None:  # not signed by us: no database lookup at all
        raise NotFound("This link is not valid.")
    link = session.exec(select(ShareLink).where(ShareLink.token_sha256 == token_sha256)).first()
    if link is None or link.revoked_at is not None:
        raise NotFound("This link is not valid.")
    asset = session.get(Asset, link.asset_id)
    if asset is None or asset.hidden or asset.visibility is Visibility.PRIVATE:
        raise NotFound("This link is not valid.")
    if asset.screening is not Screening.PASSED:
        raise NotFound("This picture is waiting for review; try the link again later.")
    return asset


def revoke_share(session: Session, *, owner_id: int, asset_id: int, now: datetime) -> int:
    """Revoke every share link of the owner's asset; how many."""
    owned_asset(session, owner_id=owner_id, asset_id=asset_id)
    links = session.exec(
        select(ShareLink).where(ShareLink.asset_id == asset_id, col(ShareLink.revoked_at).is_(None))
    ).all()
    for link in links:
        link.revoked_at = now
        session.add(link)
    return len(links)
