"""Simulated Vast.ai REST API with a realistic instance lifecycle and fault switches."""

from sim.vast.app import create_app
from sim.vast.faults import Faults
from sim.vast.instance import Timings
from sim.vast.state import VastState

__all__ = ["Faults", "Timings", "VastState", "create_app"]
