"""Simulated ComfyUI server: HTTP + WebSocket in the shapes of the real one, fault switches.

`schema` holds the real server's node facts, `validate` checks a prompt against them,
`execute` queues and runs prompts, `render` writes the files, `provision` models an
instance's start, `app` serves it all.
"""

from sim.comfy.app import create_app
from sim.comfy.config import ComfySimConfig

__all__ = ["ComfySimConfig", "create_app"]
