"""Simulators for Vast.ai and ComfyUI: real HTTP/WebSocket servers on loopback.

Nothing here imports `core`: the simulators are independent implementations of the
wire protocols, so a bug in our clients cannot hide in a helper both sides share.
"""
