"""`python -m sim` serves both simulators and stops cleanly on SIGTERM."""

import os
import signal
import socket
import subprocess
import sys
import time

import httpx


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_sim_process_serves_vast_and_comfy(tmp_path):
    vast_port, comfy_port = _free_port(), _free_port()
    env = {**os.environ, "SIM_VAST_PORT": str(vast_port), "SIM_COMFY_PORT": str(comfy_port)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sim"], env=env, cwd=tmp_path, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                user = httpx.get(
                    f"http://127.0.0.1:{vast_port}/api/v0/users/current/",
                    headers={"Authorization": "Bearer sim-key"},
                )
                stats = httpx.get(f"http://127.0.0.1:{comfy_port}/system_stats")
                break
            except httpx.ConnectError:
                time.sleep(0.2)
        assert user.json()["credit"] > 0
        assert stats.json()["devices"]
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0 and "sim: stopped" in err
