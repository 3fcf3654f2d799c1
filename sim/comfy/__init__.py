"""Simulated ComfyUI server: HTTP + WebSocket in ComfyUI's own shapes."""
