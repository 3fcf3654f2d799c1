"""Row builders for tests: each returns a committed row with sensible defaults."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import count
from typing import Any, TypeVar

from PIL import Image
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

from core.accounts import ledger, users
from core.comfy.presets import Presets
from core.comfy.workflows import GenerationRequest, build_graph
from core.db import run_transaction, session_scope
from core.gallery import store, takedown
from core.gallery.sharing import ShareSigner
from core.models import (
    Asset,
    GenerationJob,
    GpuInstance,
    JobStatus,
    Lease,
    MediaKind,
    Muse,
    MuseVariation,
    PoolConfig,
    ReferenceImage,
    Role,
    Screening,
    TakedownRequest,
    User,
    Visibility,
)
from core.muses import service as muses
from core.muses.fields import form_fields
from core.muses.schema import MuseProfile, validate_profile

_sequence = count(1)
_Row = TypeVar("_Row", bound=SQLModel)


def _saved(
    engine: Engine, model: type[_Row], defaults: dict[str, Any], fields: dict[str, Any]
) -> _Row:
    """A committed `model` row of `defaults` overridden by `fields`."""
    with session_scope(engine) as session:
        row = model(**(defaults | fields))
        session.add(row)
    return row


def make_user(engine: Engine, **fields: Any) -> User:
    """A user with a unique username and email."""
    n = next(_sequence)
    values: dict[str, Any] = {
        "username": f"user{n}",
        "email": f"user{n}@example.test",
        "display_name": f"User {n}",
        "password_hash": "not-a-real-hash",
    }
    return _saved(engine, User, values, fields)


ADULT_BIRTHDAY = date(1990, 1, 1)
"""The date of birth test accounts sign up with (an adult on every test date)."""


def account_fields(name: str, **fields: Any) -> dict[str, Any]:
    """The sign-up fields of an adult called `name` (`name@example.test`, display name
    `Name`); `fields` override or add to them."""
    values: dict[str, Any] = {
        "username": name,
        "email": f"{name}@example.test",
        "display_name": name.title(),
        "date_of_birth": ADULT_BIRTHDAY,
    }
    return values | fields


def register_user(
    session: Session,
    name: str,
    *,
    password: str,
    now: datetime,
    starter_credits: int = 0,
    role: Role = Role.USER,
    **fields: Any,
) -> User:
    """`name`'s account made through `users.register` (password hashed, credits granted,
    audited) in the caller's unit of work, then given `role` as an operator would; `fields`
    override `account_fields` or add `register`'s own (`accepted`, `ip`)."""
    user = users.register(
        session,
        **account_fields(name, **fields),
        password=password,
        now=now,
        starter_credits=starter_credits,
    )
    if role is not Role.USER:
        user.role = role
        session.add(user)
        session.flush()
    return user


def grant_credits(engine: Engine, user: User, credits: int, *, now: datetime) -> None:
    """Grant `user` `credits` (a ledger grant under a key of its own) and commit."""
    key = f"test-grant:{user.id}:{next(_sequence)}"
    with session_scope(engine) as session:
        ledger.grant(session, user_id=user.id or 0, credits=credits, key=key, note="test", now=now)


def make_funded_user(engine: Engine, credits: int, *, now: datetime, **fields: Any) -> User:
    """`make_user` granted `credits`."""
    user = make_user(engine, **fields)
    grant_credits(engine, user, credits, now=now)
    return user


def make_muse(engine: Engine, owner: User, **fields: Any) -> Muse:
    """An adult muse owned by `owner`."""
    values: dict[str, Any] = {"owner_id": owner.id, "name": "Ava", "age": 27}
    return _saved(engine, Muse, values, fields)


def make_variation(
    engine: Engine,
    owner: User,
    muse: Muse,
    name: str,
    overrides: dict[str, str],
    *,
    now: datetime | None = None,
) -> MuseVariation:
    """`owner`'s variation `name` of `muse`, through the variation checks
    (`add_variation`), made at `now` (the owner's creation time unless given)."""
    with session_scope(engine) as session:
        return muses.add_variation(
            session,
            owner_id=owner.id or 0,
            muse_id=muse.id or 0,
            name=name,
            overrides=overrides,
            now=now or owner.created_at,
        )


def make_instance(engine: Engine, **fields: Any) -> GpuInstance:
    """A pool instance row with a unique label."""
    n = next(_sequence)
    values: dict[str, Any] = {"pool": "default", "label": f"aik-default-t{n}"}
    return _saved(engine, GpuInstance, values, fields)


def make_job(engine: Engine, user: User, **fields: Any) -> GenerationJob:
    """A queued image job for `user`."""
    values: dict[str, Any] = {
        "user_id": user.id,
        "prompt": "a lighthouse at dusk",
        "model": "sdxl-base",
        "preset": "low",
        "seed": 1,
    }
    return _saved(engine, GenerationJob, values, fields)


def add_finished_job(session: Session, owner: User, prompt: str, **fields: Any) -> GenerationJob:
    """`owner`'s succeeded picture job for `prompt` on the SDXL base model, added and flushed
    in the caller's unit of work (its outputs are the caller's to store); `fields` override."""
    values: dict[str, Any] = {
        "user_id": owner.id,
        "prompt": prompt,
        "model": "sdxl_base_1.0.safetensors",
        "preset": "low",
        "seed": 1,
        "status": JobStatus.SUCCEEDED,
    }
    job = GenerationJob(**(values | fields))
    session.add(job)
    session.flush()
    return job


def make_leased_job(
    engine: Engine, instance: GpuInstance, *, acquired_at: datetime, lease_s: float
) -> GenerationJob:
    """A new user's job (as `make_job` makes it) holding an open lease on `instance` of
    `lease_s` seconds, taken at `acquired_at`."""
    job = make_job(engine, make_user(engine))
    with session_scope(engine) as session:
        session.add(
            Lease(
                instance_id=instance.id or 0,
                job_id=job.id or 0,
                acquired_at=acquired_at,
                expires_at=acquired_at + timedelta(seconds=lease_s),
            )
        )
    return job


def close_lease_unsucceeded(
    engine: Engine, *, lease_id: int, job_id: int, outcome: str, reason: str, now: datetime
) -> None:
    """Close a claimed job's lease as a run that did not succeed closes it
    (`outcomes.close_lease`, not retried: the job fails and is refunded), in a transaction of
    its own; nothing happens if the lease was already released."""
    from core.studio import outcomes

    run_transaction(
        engine,
        lambda session: outcomes.close_lease(
            session,
            lease_id=lease_id,
            job_id=job_id,
            outcome=outcome,
            retry=False,
            reason=reason,
            now=now,
        ),
        name="test.close_lease",
    )


def make_pool(engine: Engine, **fields: Any) -> PoolConfig:
    """The default pool's config row."""
    values: dict[str, Any] = {"name": "default"}
    return _saved(engine, PoolConfig, values, fields)


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
    return _saved(engine, Asset, values, fields)


RENTABLE_FILTERS: dict[str, Any] = {
    "max_price_per_hour_usd": Decimal("5"),
    "min_reliability": 0.9,
    "min_vram_gb": 8,
}
"""Machine filters every offer of the Vast simulator passes."""


def make_rentable_pool(engine: Engine, **fields: Any) -> PoolConfig:
    """The default pool, with machine filters the Vast simulator's offers pass."""
    return make_pool(engine, **(RENTABLE_FILTERS | fields))


def generation_request(presets: Presets, **fields: Any) -> GenerationRequest:
    """A small picture request ("a lighthouse at dusk", negative "blurry", preset low, seed 11,
    the default image model); `fields` change it."""
    values: dict[str, Any] = {
        "positive": "a lighthouse at dusk",
        "negative": "blurry",
        "model": presets.default_model("image"),
        "preset": "low",
        "seed": 11,
    }
    return GenerationRequest(**(values | fields))


def unsaved_job(presets: Presets, **fields: Any) -> GenerationJob:
    """A picture job row that is not stored (user 1, "a lighthouse at dusk", negative
    "blurry", preset medium, seed 77, the default image model), for reading its settings
    back; `fields` change it."""
    values: dict[str, Any] = {
        "user_id": 1,
        "prompt": "a lighthouse at dusk",
        "negative_prompt": "blurry",
        "model": presets.default_model("image"),
        "preset": "medium",
        "seed": 77,
        "kind": MediaKind.IMAGE,
    }
    return GenerationJob(**(values | fields))


def image_graph(presets: Presets, **fields: Any) -> dict[str, Any]:
    """The ComfyUI graph of `generation_request(presets, **fields)`."""
    return build_graph(generation_request(presets, **fields), presets)


def png_bytes(colour: tuple[int, int, int] | str = "teal", size: int = 24) -> bytes:
    """A small PNG of one colour (different colours, different content hashes)."""
    out = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(out, format="PNG")
    return out.getvalue()


def store_png(
    session: Session,
    *,
    media: store.Media,
    owner_id: int,
    title: str,
    now: datetime,
    colour: tuple[int, int, int] | str = "teal",
    job_id: int | None = None,
    **extra: Any,
) -> Asset:
    """A small PNG stored as `owner_id`'s output through the media store (private, pending
    review, like a fresh generation); `extra` goes to `store.save_output` (tags, metadata)."""
    return store_output(
        session,
        media=media,
        owner_id=owner_id,
        data=png_bytes(colour),
        title=title,
        now=now,
        job_id=job_id,
        **extra,
    )


def store_output(
    session: Session,
    *,
    media: store.Media,
    owner_id: int,
    data: bytes,
    title: str,
    now: datetime,
    mime: str = "image/png",
    kind: MediaKind = MediaKind.IMAGE,
    job_id: int | None = None,
    **extra: Any,
) -> Asset:
    """`data` stored as `owner_id`'s output of `job_id` (no muse) through the media store
    (private, pending review, like a fresh generation); `extra` goes to `store.save_output`."""
    return store.save_output(
        session,
        media=media,
        owner_id=owner_id,
        job_id=job_id,
        muse_id=None,
        data=data,
        kind=kind,
        mime=mime,
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
            value = int(spec.minimum or 0) + 8  # a multiple of 8 over a size's minimum
        elif spec.widget == "loras":
            value = [{"name": "plain.safetensors", "weight": 0.5}]
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


def mp4_bytes(
    *,
    width: int = 320,
    height: int = 240,
    title: str = "holiday clip",
    frames: int = 12,
    colour: str = "teal",
) -> bytes:
    """A real H.264 MP4 of `frames` frames (even sides; none: no video track at all), a
    title in its `udta` metadata as a phone or editor writes one, and a silent AAC track."""
    import av  # here only: PyAV loads FFmpeg, which most tests never need
    import numpy as np

    out = io.BytesIO()
    with av.open(out, mode="w", format="mp4") as box:
        box.metadata["title"] = title
        sound = box.add_stream("aac", rate=8000)
        if frames:
            stream = box.add_stream("libx264", rate=12)
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            stream.options = {"preset": "ultrafast"}
            for index in range(frames):
                picture = Image.new("RGB", (width, height), colour)
                picture.paste("white", (index * 4 % width, 0, index * 4 % width + 8, height))
                frame = av.VideoFrame.from_ndarray(np.asarray(picture), format="rgb24")
                for packet in stream.encode(frame):
                    box.mux(packet)
            for packet in stream.encode():
                box.mux(packet)
        silence = av.AudioFrame(format="fltp", layout="mono", samples=1024)
        for plane in silence.planes:
            plane.update(bytes(plane.buffer_size))
        silence.sample_rate, silence.pts = 8000, 0
        for packet in [*sound.encode(silence), *sound.encode()]:
            box.mux(packet)
    return out.getvalue()


def file_takedown(
    session: Session, *, location: str, signer: ShareSigner, now: datetime, description: str = ""
) -> TakedownRequest:
    """A takedown request A. Person files for themself in good faith, naming `location`."""
    return takedown.file_request(
        session,
        location=location,
        description=description,
        requester_name="A. Person",
        requester_email="person@example.test",
        relationship="self",
        signature="A. Person",
        good_faith=True,
        signer=signer,
        now=now,
    )


def attach_outside_reference(
    engine: Engine,
    owner: User,
    media: store.Media,
    *,
    muse_id: int | None = None,
    size: tuple[int, int] = (640, 960),
    colour: tuple[int, int, int] | str = (10, 20, 30),
    consent_given: bool = True,
    now: datetime | None = None,
) -> ReferenceImage:
    """A plain outside picture of `size` attached as `owner`'s reference (on `muse_id`, or
    loose for one studio job) through the reference-upload checks; the stored reference."""
    picture = io.BytesIO()
    Image.new("RGB", size, colour).save(picture, format="PNG")
    with session_scope(engine) as session:
        return muses.attach_reference(
            session,
            owner_id=owner.id or 0,
            muse_id=muse_id,
            data=picture.getvalue(),
            consent_given=consent_given,
            media=media,
            max_bytes=10**7,
            max_pixels=40_000_000,
            now=now or datetime.now(UTC),
        )
