"""What the pool policy can decide: one frozen dataclass per action kind.

The manager executes them; `match` over `Action` is exhaustive, so a new kind cannot be
silently ignored.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rent:
    """Rent `count` new instances (each gets its row and label before the provider call)."""

    count: int
    reason: str


@dataclass(frozen=True)
class Adopt:
    """A requested row's instance showed up under its label: record it and start booting."""

    instance_id: int
    provider_id: str


@dataclass(frozen=True)
class MarkReady:
    """A booting instance is running and its ComfyUI passed the health check."""

    instance_id: int


@dataclass(frozen=True)
class Terminate:
    """Destroy an instance we own; `bad_machine` is remembered and avoided for a while.

    `provider_id` is None when the create never produced an instance we know of.
    """

    instance_id: int
    reason: str
    provider_id: str | None = None
    bad_machine: str | None = None


@dataclass(frozen=True)
class RetryDestroy:
    """A terminating instance is still listed: ask the provider to destroy it again."""

    instance_id: int
    provider_id: str


@dataclass(frozen=True)
class ConfirmTerminated:
    """The provider no longer lists a terminating instance (or a create never produced one)."""

    instance_id: int
    reason: str


@dataclass(frozen=True)
class NoteMissing:
    """A live instance is absent from the list this tick; lost only after repeated absence."""

    instance_id: int


@dataclass(frozen=True)
class MarkLost:
    """A live instance is gone at the provider without our asking; its jobs are retried."""

    instance_id: int
    reason: str


@dataclass(frozen=True)
class DestroyOrphan:
    """An instance carries our pool's label prefix but no live row claims it."""

    provider_id: str
    label: str


@dataclass(frozen=True)
class ExpireLease:
    """A job held its instance past the lease maximum: fail the job, take the instance back."""

    lease_id: int
    instance_id: int
    job_id: int


@dataclass(frozen=True)
class EnterSafeMode:
    """A budget cap was reached: stop renting and terminate everything."""

    reason: str


Action = (
    Rent
    | Adopt
    | MarkReady
    | Terminate
    | RetryDestroy
    | ConfirmTerminated
    | NoteMissing
    | MarkLost
    | DestroyOrphan
    | ExpireLease
    | EnterSafeMode
)
