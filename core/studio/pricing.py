"""What a request costs: GPU time turned into credits, the estimate shown, the hold taken."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from sqlmodel import Session

from core.comfy.presets import Preset, Presets
from core.comfy.tools import FACE_GUIDE_SIZE, Tools, final_size, output_size, tuned
from core.config import Settings
from core.pool import costs
from core.studio.compose import StudioRequest, model_of

HOLD_MARGIN = Decimal("1.5")
UPSCALE_S_PER_MEGAPIXEL = 0.6
"""GPU seconds an ESRGAN-class 4x model takes per output megapixel on an RTX 4090 (an
estimate to calibrate, like the presets' `expected_seconds`)."""


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
    """Credits and GPU time for `request` on `pool`: measured medians per preset/model (else
    the preset's expected seconds), scaled by the tools' workload (size, steps, hires,
    upscale); every pool is priced at the reference price today."""
    preset = presets.preset(request.preset, request.kind)
    per_item_s = costs.median_duration_s(
        session,
        preset=request.preset,
        model=model_of(request, presets),
        kind=request.kind.value,
        default_s=preset.expected_seconds,
    )
    gpu_s = workload_s(per_item_s, preset, request.tools, presets) * request.batch_size
    cost = costs.cost_for(pricing.reference_price_per_hour_usd, gpu_s)
    return Estimate(
        credits=costs.credits_for_cost(cost, pricing.credit_price_usd),
        gpu_seconds=gpu_s,
        cost_usd=cost,
    )


def workload_s(per_item_s: float, preset: Preset, tools: Tools, presets: Presets) -> float:
    """GPU seconds for one item with `tools`, `per_item_s` being what one plain item of
    `preset` takes: sampling scales with pixels times steps (times frames, for a clip
    longer or shorter than the preset's), a hires fix adds its second
    pass at the enlarged size (and the upscale model's pass), a face fix one face crop's
    pass at FaceDetailer's guide size (a standalone face fix that pass only), a standalone
    upscale is priced by its output megapixels only."""
    if tools.mode == "upscale":
        width, height = final_size(tools, preset, presets.catalogue)
        return UPSCALE_S_PER_MEGAPIXEL * width * height / 1e6
    plain = preset.width * preset.height * preset.steps
    sized = tuned(preset, tools)
    # One face per picture, its crop sampled at up to the guide size on each side.
    face_units = 0.0
    if tools.face_fix is not None:
        face_units = FACE_GUIDE_SIZE**2 * (tools.face_fix.steps or sized.steps) / plain
    if tools.mode == "facefix":
        return per_item_s * face_units
    first = output_size(replace(tools, hires=None), (sized.width, sized.height))
    units = first[0] * first[1] * sized.steps / plain * sized.length / preset.length
    seconds = per_item_s * (units + face_units)
    if tools.hires is not None:
        width, height = final_size(tools, preset, presets.catalogue)
        seconds += per_item_s * width * height * tools.hires.steps / plain
        if tools.hires.upscaler is not None:
            seconds += UPSCALE_S_PER_MEGAPIXEL * width * height / 1e6
    return seconds


def hold_for(quote: Estimate) -> int:
    """Credits held at submit for an estimate: a margin above it (at least 1), so a slow run
    is still covered; what the run does not use is refunded at settlement."""
    return int((Decimal(quote.credits) * HOLD_MARGIN).to_integral_value()) or 1


def charge_for(cost_usd: Decimal, *, pricing: Pricing, held: int) -> int:
    """Credits charged for a run that cost `cost_usd`: what the GPU time cost, never more
    than was held."""
    return min(costs.credits_for_cost(cost_usd, pricing.credit_price_usd), held)
