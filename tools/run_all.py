"""Start the whole system for `make run`: simulator, scheduler, web and API, supervised together.

If any process exits, the others are stopped, so a half-running system never lingers.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from core.config import get_settings

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


def main() -> int:
    """Run until Ctrl-C / SIGTERM or until one process dies; return its exit status."""
    settings = get_settings()
    port = str(settings.web_port)
    comfy_port = os.environ.get("SIM_COMFY_PORT", "8188")  # a simulator knob, not a setting
    commands = {
        "simulator": [PYTHON, "-m", "sim"],
        "scheduler": [PYTHON, "-m", "scheduler"],
        "web": [PYTHON, "-m", "streamlit", "run", "web.py", "--server.port", port],
    }
    if settings.api_port:
        commands["api"] = [PYTHON, "-m", "api"]
    procs = {name: subprocess.Popen(cmd, cwd=ROOT) for name, cmd in commands.items()}
    metrics_port = settings.metrics_port
    api = (
        f"http://{settings.api_host}:{settings.api_port}/docs"
        if settings.api_port
        else "off (API_PORT=0)"
    )
    metrics = f"http://127.0.0.1:{metrics_port}/metrics" if metrics_port else "off (METRICS_PORT=0)"
    sys.stdout.write(
        f"\nAI KINGS is starting: open http://localhost:{port}\n"
        f"  simulated Vast.ai API: {settings.sim_vast_url}"
        f"   simulated ComfyUI: http://127.0.0.1:{comfy_port}\n"
        f"  scheduler metrics: {metrics}\n"
        f"  HTTP API: {api}\n"
        "  Ctrl-C stops everything.\n\n"
    )
    sys.stdout.flush()
    stopping = False

    def _stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    status = 0
    while not stopping:
        for name, proc in procs.items():
            code = proc.poll()
            if code is not None:
                sys.stderr.write(f"{name} exited with status {code}; stopping the rest\n")
                status, stopping = code or 1, True
                break
        time.sleep(0.5)
    for proc in procs.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs.values():
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
    return status


if __name__ == "__main__":
    sys.exit(main())
