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


def test_sim_process_takes_faults_from_the_environment(tmp_path):
    vast_port, comfy_port = _free_port(), _free_port()
    env = {
        **os.environ,
        "SIM_VAST_PORT": str(vast_port),
        "SIM_COMFY_PORT": str(comfy_port),
        "SIM_VAST_FAULTS": '{"rate_limit_p": 1.0, "retry_after_s": 3}',
        "SIM_COMFY_FAULTS": '{"unhealthy": true}',
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "sim"], env=env, cwd=tmp_path, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                limited = httpx.get(
                    f"http://127.0.0.1:{vast_port}/api/v1/instances/",
                    headers={"Authorization": "Bearer sim-key"},
                )
                stats = httpx.get(f"http://127.0.0.1:{comfy_port}/system_stats")
                break
            except httpx.ConnectError:
                time.sleep(0.2)
        assert (limited.status_code, limited.headers["retry-after"]) == (429, "3")
        assert stats.status_code == 503
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=20)


def test_sim_process_refuses_a_bad_fault_variable_naming_it(tmp_path):
    env = {**os.environ, "SIM_VAST_PORT": str(_free_port()), "SIM_VAST_FAULTS": '{"nope": 1}'}
    done = subprocess.run(
        [sys.executable, "-m", "sim"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode != 0 and "SIM_VAST_FAULTS" in done.stderr
