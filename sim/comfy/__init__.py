"""Simulated ComfyUI server: HTTP + WebSocket in the shapes of the real one, fault switches."""

from sim.comfy.app import ComfySimConfig, create_app

__all__ = ["ComfySimConfig", "create_app"]
