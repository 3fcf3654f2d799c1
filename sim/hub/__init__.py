"""Civitai and Hugging Face metadata APIs, as real HTTP on loopback (see `sim.hub.app`)."""

from sim.hub.app import HubFile, HubState, HubVersion, create_app

__all__ = ["HubFile", "HubState", "HubVersion", "create_app"]
