"""ComfyUI: HTTP + WebSocket client, typed events, workflow graphs, health checks."""
