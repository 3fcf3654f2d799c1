"""`python -m sim` serves both simulators and stops cleanly on SIGTERM."""

import time

import httpx

from testing.processes import free_port, python_module, stop


def _sim_env(vast_port: int, comfy_port: int, **extra: str) -> dict[str, str]:
    return {"SIM_VAST_PORT": str(vast_port), "SIM_COMFY_PORT": str(comfy_port), **extra}


def _first_answers(
    vast_port: int, vast_path: str, comfy_port: int
) -> tuple[httpx.Response, httpx.Response]:
    """The simulated Vast's answer at `vast_path` and ComfyUI's `/system_stats`, once both
    listen (within 20 s)."""
    deadline = time.monotonic() + 20
    while True:
        try:
            vast = httpx.get(
                f"http://127.0.0.1:{vast_port}{vast_path}",
                headers={"Authorization": "Bearer sim-key"},
            )
            return vast, httpx.get(f"http://127.0.0.1:{comfy_port}/system_stats")
        except httpx.ConnectError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_sim_process_serves_vast_and_comfy(tmp_path):
    vast_port, comfy_port = free_port(), free_port()
    with python_module("sim", env=_sim_env(vast_port, comfy_port), cwd=tmp_path) as proc:
        user, stats = _first_answers(vast_port, "/api/v0/users/current/", comfy_port)
        assert user.json()["credit"] > 0
        assert stats.json()["devices"]
        err = stop(proc, timeout_s=20)
    assert proc.returncode == 0 and "sim: stopped" in err


def test_sim_process_takes_faults_from_the_environment(tmp_path):
    vast_port, comfy_port = free_port(), free_port()
    env = _sim_env(
        vast_port,
        comfy_port,
        SIM_VAST_FAULTS='{"rate_limit_p": 1.0, "retry_after_s": 3}',
        SIM_COMFY_FAULTS='{"unhealthy": true}',
    )
    with python_module("sim", env=env, cwd=tmp_path):
        limited, stats = _first_answers(vast_port, "/api/v1/instances/", comfy_port)
        assert (limited.status_code, limited.headers["retry-after"]) == (429, "3")
        assert stats.status_code == 502  # the proxy in front answers for a ComfyUI that is down
