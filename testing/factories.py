"""Row builders for tests: each returns a committed row with sensible defaults."""

from __future__ import annotations

import io
from datetime import datetime
from decimal import Decimal
from itertools import count
from pathlib import Path
from typing import Any

from PIL import Image
from sqlalchemy.engine import Engine
from sqlmodel import Session

from core.db import session_scope
from core.gallery import store
from core.models import (
    Asset,
    GenerationJob,
    GpuInstance,
    MediaKind,
    Muse,
    PoolConfig,
    Screening,
    User,
    Visibility,
)
from core.muses.fields import form_fields
from core.muses.schema import MuseProfile, validate_profile

_sequence = count(1)


def make_user(engine: Engine, **fields: Any) -> User:
    """A user with a unique username and email."""
    n = next(_sequence)
    values: dict[str, Any] = {
        "username": f"user{n}",
        "email": f"user{n}@example.test",
        "display_name": f"User {n}",
        "password_hash": "not-a-real-hash",
    }
    values.update(fields)
    with session_scope(engine) as session:
        user = User(**values)
        session.add(user)
    return user


def make_muse(engine: Engine, owner: User, **fields: Any) -> Muse:
    """An adult muse owned by `owner`."""
    values: dict[str, Any] = {"owner_id": owner.id, "name": "Ava", "age": 27}
    values.update(fields)
    with session_scope(engine) as session:
        muse = Muse(**values)
        session.add(muse)
    return muse


def make_instance(engine: Engine, **fields: Any) -> GpuInstance:
    """A pool instance row with a unique label."""
    n = next(_sequence)
    values: dict[str, Any] = {"pool": "default", "label": f"aik-default-t{n}"}
    values.update(fields)
    with session_scope(engine) as session:
        instance = GpuInstance(**values)
        session.add(instance)
    return instance


def make_job(engine: Engine, user: User, **fields: Any) -> GenerationJob:
    """A queued image job for `user`."""
    values: dict[str, Any] = {
        "user_id": user.id,
        "prompt": "a lighthouse at dusk",
        "model": "sdxl-base",
        "preset": "low",
        "seed": 1,
    }
    values.update(fields)
    with session_scope(engine) as session:
        job = GenerationJob(**values)
        session.add(job)
    return job


def make_pool(engine: Engine, **fields: Any) -> PoolConfig:
    """The default pool's config row."""
    values: dict[str, Any] = {"name": "default"}
    values.update(fields)
    with session_scope(engine) as session:
        config = PoolConfig(**values)
        session.add(config)
    return config


def make_asset(engine: Engine, owner: User, **fields: Any) -> Asset:
    """A public, screened image row of `owner` (no file in a media store) with a unique hash."""
    n = next(_sequence)
    values: dict[str, Any] = {
        "owner_id": owner.id,
        "sha256": f"{n:064x}",
        "kind": MediaKind.IMAGE,
        "mime": "image/png",
        "width": 64,
        "height": 64,
        "size_bytes": 100,
        "title": f"picture {n}",
        "visibility": Visibility.PUBLIC,
        "screening": Screening.PASSED,
    }
    values.update(fields)
    with session_scope(engine) as session:
        asset = Asset(**values)
        session.add(asset)
    return asset


RENTABLE_FILTERS: dict[str, Any] = {
    "max_price_per_hour_usd": Decimal("5"),
    "min_reliability": 0.9,
    "min_vram_gb": 8,
}
"""Machine filters every offer of the Vast simulator passes."""


def make_rentable_pool(engine: Engine, **fields: Any) -> PoolConfig:
    """The default pool, with machine filters the Vast simulator's offers pass."""
    return make_pool(engine, **(RENTABLE_FILTERS | fields))


def png_bytes(colour: tuple[int, int, int] | str = "teal", size: int = 24) -> bytes:
    """A small PNG of one colour (different colours, different content hashes)."""
    out = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(out, format="PNG")
    return out.getvalue()


def store_png(
    session: Session,
    *,
    media_root: Path,
    owner_id: int,
    title: str,
    now: datetime,
    colour: tuple[int, int, int] | str = "teal",
    job_id: int | None = None,
    **extra: Any,
) -> Asset:
    """A small PNG stored as `owner_id`'s output through the media store (private, pending
    review, like a fresh generation); `extra` goes to `store.save_output` (tags, metadata)."""
    return store.save_output(
        session,
        media_root=media_root,
        owner_id=owner_id,
        job_id=job_id,
        muse_id=None,
        data=png_bytes(colour),
        kind=MediaKind.IMAGE,
        mime="image/png",
        title=title,
        now=now,
        **extra,
    )


def every_field_profile(name: str = "Ava") -> MuseProfile:
    """A profile with every field of the schema set to a non-default value."""
    data: dict[str, Any] = {}
    for spec in form_fields():
        if spec.widget in ("choice", "suggest"):
            value: Any = spec.choices[-1] if spec.choices else "plain"
        elif spec.widget == "number":
            value = int(spec.minimum or 0) + 1
        elif spec.widget == "slider":
            value = 0.5
        elif spec.widget == "toggle":
            value = True
        elif spec.widget == "tags":
            value = ["calm", "witty"]
        else:
            value = f"plain {spec.path[-1].replace('_', ' ')}"
        node = data
        for part in spec.path[:-1]:
            node = node.setdefault(part, {})
        node[spec.path[-1]] = value
    data["basic"] |= {"name": name, "age": 31}
    return validate_profile(data)
