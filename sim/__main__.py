"""`python -m sim`: the simulated Vast.ai API and the ComfyUI server its instances expose.

Defaults match the embedded settings: Vast on 127.0.0.1:8780 with key "sim-key", ComfyUI on
127.0.0.1:8188 (started with `--preview-method auto`, as our start script starts it). Instances
boot in about five seconds; sampling takes a visible moment per step.

Environment knobs (the simulator reads no app settings): `SIM_VAST_PORT`, `SIM_COMFY_PORT`,
`SIM_API_KEY`, and `SIM_STEP_DELAY_S` (seconds per sampler step, default 0.1; the browser test
slows it so progress is visible).

Faults and timings are switchable from the environment too, as JSON objects whose keys are
the fields of `sim.vast.Faults`, `sim.vast.Timings`, `sim.comfy.ComfySimConfig` and
`sim.fleet.StartModel`:

    SIM_VAST_FAULTS='{"rate_limit_p": 0.2, "retry_after_s": 2, "offer_vanish_p": 0.3}'
    SIM_VAST_TIMINGS='{"loading_s": 60}'         # a slow boot
    SIM_COMFY_FAULTS='{"fail_at_step": 5}'       # every sampler errors at step 5
    SIM_COMFY_PER_INSTANCE=1                     # each instance gets its own ComfyUI port,
                                                 # its token, and real-time model downloads
    SIM_FLEET='{"prebuilt_images": ["me/comfy-models:1"], "comfy_start_s": 5}'

A bad value stops the simulator with a message naming the variable.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from sim.comfy import ComfySimConfig
from sim.comfy import create_app as create_comfy_app
from sim.fleet import ComfyFleet, StartModel
from sim.server import ServerThread
from sim.vast import Faults, Timings, VastState, create_app

T = TypeVar("T")


def _json_env(name: str) -> dict[str, Any]:
    """The JSON object in env var `name` ({} when unset); exits naming `name` when invalid."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise SystemExit(f"sim: {name} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise SystemExit(f"sim: {name} must be a JSON object")
    return value


def _build(kind: Callable[..., T], name: str, **defaults: Any) -> T:
    """`kind(**defaults, **<the JSON in env var name>)`; exits naming `name` on unknown keys."""
    try:
        return kind(**{**defaults, **_json_env(name)})
    except TypeError as exc:
        raise SystemExit(f"sim: {name}: {exc}") from None


def main() -> None:
    """Serve both simulators until SIGTERM or Ctrl-C."""
    vast_port = int(os.environ.get("SIM_VAST_PORT", "8780"))
    comfy_port = int(os.environ.get("SIM_COMFY_PORT", "8188"))
    step_delay_s = float(os.environ.get("SIM_STEP_DELAY_S", "0.1"))

    def comfy_config() -> ComfySimConfig:
        return _build(
            ComfySimConfig, "SIM_COMFY_FAULTS", step_delay_s=step_delay_s, preview_method="auto"
        )

    fleet = None
    if os.environ.get("SIM_COMFY_PER_INSTANCE") == "1":
        start = _build(StartModel, "SIM_FLEET")
        start = StartModel(**{**vars(start), "prebuilt_images": frozenset(start.prebuilt_images)})
        fleet = ComfyFleet(comfy_config, start=start)
    state = VastState(
        api_key=os.environ.get("SIM_API_KEY", "sim-key"),
        comfy_port=comfy_port,
        timings=_build(Timings, "SIM_VAST_TIMINGS", null_s=1.0, created_s=1.0, loading_s=3.0),
        faults=_build(Faults, "SIM_VAST_FAULTS"),
        endpoints=fleet,
    )
    comfy = ServerThread(create_comfy_app(comfy_config()), port=comfy_port)
    vast = ServerThread(create_app(state), port=vast_port)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with comfy, vast:
        sys.stderr.write(f"sim: Vast.ai API on {vast.url}, ComfyUI on {comfy.url}\n")
        stop.wait()
    if fleet is not None:
        fleet.close_all()
    sys.stderr.write("sim: stopped\n")


if __name__ == "__main__":
    main()
