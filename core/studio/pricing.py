"""What a request costs: GPU time turned into credits, the estimate shown, the hold taken."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlmodel import Session

from core.comfy.presets import Presets
from core.config import Settings
from core.pool import costs
from core.studio.compose import StudioRequest

HOLD_MARGIN = Decimal("1.5")


@dataclass(frozen=True)
class Estimate:
    """What a request should cost and how much GPU time it should take (the wait before it
    starts is `core.studio.progress.request_outlook`'s)."""

    credits: int
    gpu_seconds: float
    cost_usd: Decimal


@dataclass(frozen=True)
class Pricing:
    """How GPU time turns into credits."""

    credit_price_usd: Decimal
    reference_price_per_hour_usd: Decimal
    typical_boot_s: float = 240.0
    """A cold boot before the pool measured one."""
    typical_job_s: float = 30.0
    """A job's GPU time before any like it was measured."""
    tick_s: float = 30.0
    """The scheduler's reconcile interval: a rental waits for its next tick."""


def pricing_from(settings: Settings) -> Pricing:
    """The deployment's pricing, from its settings."""
    return Pricing(
        credit_price_usd=settings.credit_price_usd,
        reference_price_per_hour_usd=settings.reference_price_per_hour_usd,
        tick_s=float(settings.pool_poll_interval_s),
    )


def estimate(
    session: Session, request: StudioRequest, *, presets: Presets, pricing: Pricing, pool: str
) -> Estimate:
    """Credits and GPU time for `request` on `pool`: measured medians per preset/model, else
    preset defaults (every pool is priced at the reference price today)."""
    preset = presets.preset(request.preset, request.kind)
    per_item_s = costs.median_duration_s(
        session,
        preset=request.preset,
        model=request.model or presets.default_model(request.kind),
        kind=request.kind.value,
        default_s=preset.expected_seconds,
    )
    gpu_s = per_item_s * request.batch_size
    cost = costs.cost_for(pricing.reference_price_per_hour_usd, gpu_s)
    return Estimate(
        credits=costs.credits_for_cost(cost, pricing.credit_price_usd),
        gpu_seconds=gpu_s,
        cost_usd=cost,
    )


def hold_for(quote: Estimate) -> int:
    """Credits held at submit for an estimate: a margin above it (at least 1), so a slow run
    is still covered; what the run does not use is refunded at settlement."""
    return int((Decimal(quote.credits) * HOLD_MARGIN).to_integral_value()) or 1


def charge_for(cost_usd: Decimal, *, pricing: Pricing, held: int) -> int:
    """Credits charged for a run that cost `cost_usd`: what the GPU time cost, never more
    than was held."""
    return min(costs.credits_for_cost(cost_usd, pricing.credit_price_usd), held)
