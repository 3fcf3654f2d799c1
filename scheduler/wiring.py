"""Builds the scheduler's collaborators from Settings: provider, pool manager, job runner."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial

from sqlalchemy.engine import Engine

from core.alerts import Alerter
from core.clock import Clock
from core.comfy import health
from core.comfy.client import ComfyClient
from core.comfy.clients import ComfyClients
from core.comfy.presets import ModelDownload, Presets
from core.comfy.workflows import required_nodes
from core.config import ProviderKind, Settings
from core.gallery.media import open_media_store
from core.pool.launch import (
    WANT_FILE,
    bearer,
    headers_by_url,
    instance_headers,
    launch_spec,
    pool_token,
    want_file,
)
from core.pool.manager import PoolManager
from core.pool.provider import Provider
from core.pool.static import StaticProvider
from core.pool.vast import MIN_INTERVAL_S, VastClient, VastProvider
from core.studio import needs, outcomes, queue
from core.studio.pricing import pricing_from
from core.studio.runner import RunContext


def build_provider(settings: Settings) -> Provider:
    """The provider `settings.provider` names: the simulator, Vast.ai, or fixed URLs."""
    match settings.provider:
        case ProviderKind.SIM:
            client = VastClient(
                base_url=settings.sim_vast_url, api_key=settings.sim_api_key.get_secret_value()
            )
            return VastProvider(client)
        case ProviderKind.VAST:
            assert settings.vast_api_key is not None  # guaranteed by Settings validation
            client = VastClient(
                base_url=settings.vast_url,
                api_key=settings.vast_api_key.get_secret_value(),
                pacing=MIN_INTERVAL_S,
            )
            return VastProvider(client)
        case ProviderKind.STATIC:
            return StaticProvider(
                list(settings.static_comfy_urls), state_file=settings.data_dir / "static_slots.json"
            )


def claim_credentials(settings: Settings) -> Callable[[str | None], dict[str, str]]:
    """A claimed instance's token nonce -> the headers that authenticate us at its ComfyUI
    (`comfy_headers` without the look-up: the claim read the nonce with the instance)."""
    secret = settings.audit_hmac_secret.get_secret_value()
    if settings.provider is ProviderKind.STATIC:
        headers = bearer(pool_token(secret, settings.pool_name))
        return lambda _nonce: headers
    pool = settings.pool_name
    return lambda nonce: instance_headers(secret, pool=pool, nonce=nonce)


def comfy_headers(settings: Settings, engine: Engine) -> Callable[[str], dict[str, str]]:
    """ComfyUI URL -> the headers that authenticate us there: a rented instance's own token,
    or for the static provider's servers the pool-wide one."""
    if settings.provider is ProviderKind.STATIC:
        static = claim_credentials(settings)(None)
        return lambda _url: static
    secret = settings.audit_hmac_secret.get_secret_value()
    return headers_by_url(engine, pool=settings.pool_name, secret=secret)


def model_tokens(settings: Settings) -> dict[str, str]:
    """The model download tokens rented instances get in their environment."""
    tokens = {"HF_TOKEN": settings.hf_token, "CIVITAI_TOKEN": settings.civitai_token}
    return {name: value.get_secret_value() for name, value in tokens.items() if value is not None}


def build_manager(
    settings: Settings,
    engine: Engine,
    clock: Clock,
    *,
    provider: Provider | None = None,
    still_leading: Callable[[], bool] = lambda: True,
) -> PoolManager:
    """The pool manager for `settings.pool_name`, health-checking the presets' models (and,
    on instances our start script provisioned, its verification of every file) and acting
    only while `still_leading()` says this process holds the leader lease."""
    presets = Presets.load()
    secret = settings.audit_hmac_secret.get_secret_value()
    headers = comfy_headers(settings, engine)
    required, nodes = presets.required_models(), required_nodes(presets)
    # The static provider's servers are the operator's own: no start script verified them.
    downloads = None if settings.provider is ProviderKind.STATIC else presets.downloads()
    return PoolManager(
        engine,
        provider or build_provider(settings),
        clock,
        pool=settings.pool_name,
        health_check=lambda url: health.examine(
            url, required, headers=headers(url), nodes=nodes, downloads=downloads
        ),
        job_hooks=outcomes.OUTCOMES,
        launch=partial(launch_spec, secret=secret, model_tokens=model_tokens(settings)),
        queued_jobs=queue.count_queued,
        alert=Alerter(settings.alert_webhook_url, clock=clock),
        still_leading=still_leading,
        ask_for_downloads=ask_for_downloads(headers, presets.downloads()),
        job_needs=partial(needs.job_files, presets=presets),
    )


def ask_for_downloads(
    headers: Callable[[str], dict[str, str]], downloads: Mapping[str, ModelDownload]
) -> Callable[[str, frozenset[str]], None]:
    """Ask a running instance for downloads it started without: the want file its start
    script watches (`core.pool.launch.want_file`), uploaded through ComfyUI's own
    `/upload/image` behind that instance's token, so nothing but our proxy is exposed."""

    def ask(url: str, paths: frozenset[str]) -> None:
        wanted = want_file({path: downloads[path] for path in paths})
        with ComfyClient(url, headers=headers(url)) as client:
            client.upload_image(wanted, WANT_FILE)

    return ask


def build_run_context(settings: Settings, engine: Engine, clock: Clock) -> RunContext:
    """What running a job needs: presets, pricing, the media store and authenticated clients."""
    return RunContext(
        engine=engine,
        clock=clock,
        presets=Presets.load(),
        pricing=pricing_from(settings),
        media=open_media_store(settings),
        comfy=ComfyClients(),
        credentials=claim_credentials(settings),
    )
