"""`python -m sim`: the simulated Vast.ai API and the ComfyUI server its instances expose.

Defaults match the embedded settings: Vast on 127.0.0.1:8780 with key "sim-key", ComfyUI on
127.0.0.1:8188. Instances boot in about five seconds; sampling takes a visible moment per step.
"""

from __future__ import annotations

import os
import signal
import sys
import threading

from sim.comfy import ComfySimConfig
from sim.comfy import create_app as create_comfy_app
from sim.server import ServerThread
from sim.vast import Timings, VastState, create_app


def main() -> None:
    """Serve both simulators until SIGTERM or Ctrl-C."""
    vast_port = int(os.environ.get("SIM_VAST_PORT", "8780"))
    comfy_port = int(os.environ.get("SIM_COMFY_PORT", "8188"))
    state = VastState(
        api_key=os.environ.get("SIM_API_KEY", "sim-key"),
        comfy_port=comfy_port,
        timings=Timings(null_s=1.0, created_s=1.0, loading_s=3.0),
    )
    comfy = ServerThread(create_comfy_app(ComfySimConfig(step_delay_s=0.1)), port=comfy_port)
    vast = ServerThread(create_app(state), port=vast_port)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with comfy, vast:
        sys.stderr.write(f"sim: Vast.ai API on {vast.url}, ComfyUI on {comfy.url}\n")
        stop.wait()
    sys.stderr.write("sim: stopped\n")


if __name__ == "__main__":
    main()
