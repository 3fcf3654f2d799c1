"""A rented instance as the scheduler's own wiring provisions it, against per-instance ComfyUIs.

The Vast simulator starts one ComfyUI per instance the way the launch asks: behind a proxy
wanting that instance's `OPEN_BUTTON_TOKEN`, fetching the presets' models over the offer's
link on the Vast clock, then reporting each file's check. The pool manager, its health check
and the job runner's client headers are `scheduler.wiring`'s, on a fake clock kept in step.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlmodel import select

from core.clock import FakeClock
from core.comfy.client import ComfyClient
from core.comfy.presets import Presets
from core.config import load_settings
from core.db import read_scope
from core.errors import ComfyUnavailable
from core.models import BadMachine, GpuInstance, InstanceState
from core.pool.launch import bearer, pool_token
from core.pool.vast import VastClient, VastProvider
from scheduler.wiring import build_manager, comfy_headers
from sim.comfy import ComfySimConfig
from sim.fleet import ComfyFleet
from sim.vast import Timings
from testing.factories import image_graph, make_pool
from testing.sims import SIM_KEY, vast_sim

PRESETS = Presets.load()
SDXL = "checkpoints/sdxl_base_1.0.safetensors"
DOWNLOADS_DONE_S = 3000  # the shipped ~27 GB at the slowest simulated offer (200 Mbit/s)


class Stack:
    """The wired manager on a fake clock that moves with the Vast simulator's."""

    def __init__(self, engine, sim, tmp_path, clock: FakeClock | None = None) -> None:
        self.sim = sim
        self.clock = clock or FakeClock(datetime.now(UTC))
        self.settings = load_settings(
            database_url=engine.url.render_as_string(hide_password=False),
            sim_vast_url=sim.url,
            media_root=tmp_path / "media",
            backup_dir=tmp_path / "backups",
        )
        self.client = VastClient(base_url=sim.url, api_key=SIM_KEY, sleep=lambda _s: None)
        self.manager = build_manager(
            self.settings, engine, self.clock, provider=VastProvider(self.client)
        )
        self.headers = comfy_headers(self.settings, engine)
        self.engine = engine

    def tick(self, seconds: float = 30) -> None:
        self.clock.advance(seconds)
        self.sim.advance(seconds)
        self.manager.reconcile()

    def rows(self) -> list[GpuInstance]:
        with read_scope(self.engine) as session:
            return list(session.exec(select(GpuInstance).order_by(GpuInstance.id)).all())


def _pool(engine, **fields) -> None:
    make_pool(
        engine,
        desired_size=fields.pop("desired_size", 1),
        max_instances=3,
        max_price_per_hour_usd=Decimal("5"),
        min_reliability=0.9,
        min_vram_gb=8,
        boot_timeout_s=fields.pop("boot_timeout_s", 4 * DOWNLOADS_DONE_S),
        prewarm_until=datetime.now(UTC) + timedelta(days=30),
        **fields,
    )


def _graph() -> dict:
    return image_graph(PRESETS, negative="", seed=3)


def test_each_instance_has_its_own_token_and_is_ready_only_once_its_files_verify(engine, tmp_path):
    _pool(engine, desired_size=2)
    fleet = ComfyFleet()
    with vast_sim(endpoints=fleet, timings=Timings(0, 0, 0)) as sim:
        stack = Stack(engine, sim, tmp_path)
        try:
            stack.tick()
            rows = stack.rows()
            assert [row.state for row in rows] == [InstanceState.BOOTING] * 2
            stack.tick()
            rows = stack.rows()
            assert {row.health_reason for row in rows} == {
                "provisioning: model files not verified yet"
            }
            tokens = {row.id: stack.headers(row.comfy_url or "") for row in rows}
            assert len({header["Authorization"] for header in tokens.values()}) == 2
            stored = " ".join(str(value) for row in rows for value in row.model_dump().values())
            assert not any(h["Authorization"].split()[1] in stored for h in tokens.values())
            stack.tick(DOWNLOADS_DONE_S)
            ready = stack.rows()
            assert [row.state for row in ready] == [InstanceState.READY] * 2
            url = ready[0].comfy_url or ""
            with ComfyClient(url, headers=stack.headers(url)) as client:
                assert client.run(_graph(), timeout_s=30).outputs
            old_token = bearer(
                pool_token(stack.settings.audit_hmac_secret.get_secret_value(), "default")
            )
            with ComfyClient(url, headers=old_token) as client:
                with pytest.raises(ComfyUnavailable, match="credentials"):
                    client.system_stats()
        finally:
            stack.client.close()
    fleet.close_all()


def test_an_instance_whose_file_fails_its_check_is_replaced_and_its_machine_avoided(
    engine, tmp_path
):
    _pool(engine, boot_timeout_s=DOWNLOADS_DONE_S + 600)
    fleet = ComfyFleet(lambda: ComfySimConfig(bad_files={SDXL: "corrupt"}))
    with vast_sim(endpoints=fleet, timings=Timings(0, 0, 0)) as sim:
        stack = Stack(engine, sim, tmp_path)
        try:
            stack.tick()
            stack.tick(DOWNLOADS_DONE_S)
            (row,) = stack.rows()
            assert row.state is InstanceState.BOOTING
            assert (row.health_reason or "").startswith(
                f"provisioning: {SDXL} failed its check after 2 downloads"
            )
            stack.tick(900)  # past the boot timeout: the existing boot-failure path
            stack.tick()
            first, *replacements = stack.rows()
            assert first.state in (InstanceState.TERMINATING, InstanceState.TERMINATED)
            assert first.terminate_reason == "boot timeout"
            assert [r.state for r in replacements] == [InstanceState.BOOTING]
            with read_scope(engine) as session:
                avoided = session.exec(select(BadMachine.machine_id)).all()
            assert avoided == [first.machine_id]
            assert replacements[0].machine_id != first.machine_id
        finally:
            stack.client.close()
    fleet.close_all()


VIDEO_VAE = "vae/wan_2.1_vae.safetensors"


def _at_link(sim, mbps: float) -> None:
    for offer in sim.state.offers.values():
        offer["inet_down"] = mbps


def test_an_instance_serves_a_first_image_while_its_other_models_still_download(engine, tmp_path):
    _pool(engine)
    fleet = ComfyFleet()
    with vast_sim(endpoints=fleet, timings=Timings(0, 0, 0)) as sim:
        _at_link(sim, 1000.0)
        stack = Stack(engine, sim, tmp_path)
        try:
            stack.tick()  # rents
            stack.tick(90)  # the first image's checkpoint: ~56 s at 1 Gbit/s, then its hash
            (row,) = stack.rows()
            assert row.state is InstanceState.READY
            assert row.models_pending == sorted(set(PRESETS.downloads()) - {SDXL})
            url = row.comfy_url or ""
            with ComfyClient(url, headers=stack.headers(url)) as client:
                assert client.run(_graph(), timeout_s=30).outputs
                assert "realvis_xl_4.0.safetensors" not in client.models("checkpoints")
            stack.tick(300)  # the other ~20 GB
            (row,) = stack.rows()
            assert (row.state, row.models_pending) == (InstanceState.READY, [])
        finally:
            stack.client.close()
    fleet.close_all()


def test_a_background_file_that_fails_its_check_has_the_ready_instance_replaced(engine, tmp_path):
    _pool(engine)
    fleet = ComfyFleet(lambda: ComfySimConfig(bad_files={VIDEO_VAE: "short"}))
    with vast_sim(endpoints=fleet, timings=Timings(0, 0, 0)) as sim:
        _at_link(sim, 1000.0)
        stack = Stack(engine, sim, tmp_path)
        try:
            stack.tick()
            stack.tick(90)
            assert [row.state for row in stack.rows()] == [InstanceState.READY]
            stack.tick(300)  # the report now says the video VAE failed after its retry
            first, *replacements = stack.rows()
            assert first.state in (InstanceState.TERMINATING, InstanceState.TERMINATED)
            assert first.terminate_reason == "a model file failed its check"
            assert VIDEO_VAE in (first.health_reason or "")
            assert [r.state for r in replacements] == [InstanceState.BOOTING]
            with read_scope(engine) as session:
                assert session.exec(select(BadMachine.machine_id)).all() == [first.machine_id]
        finally:
            stack.client.close()
    fleet.close_all()
