"""The whole system as `make run` starts it (tools/run_all.py), on a fresh database and free ports.

Everything runs in one new process group, so the teardown can make sure that nothing is left
behind even when the test fails halfway or a process ignores SIGTERM.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from testing.processes import free_port

ROOT = Path(__file__).resolve().parents[2]
ADMIN_KEY = "e2e-admin-key"
STARTER_CREDITS = 100
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 25.0
START_ATTEMPTS = 3  # new ports each time, only when a port was taken while starting


@dataclass(frozen=True)
class System:
    """A running web + scheduler + simulator trio and how to reach it."""

    url: str
    env: dict[str, str]
    log_path: Path
    supervisor: _Supervisor

    def restart(self) -> None:
        """Stop every process and start them again on the same database and ports."""
        self.supervisor.stop()
        self.supervisor.start(self)

    def cli(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        """Run `python -m cli ARGS` against this system's database; raise if it fails."""
        done = subprocess.run(
            [sys.executable, "-m", "cli", *args],
            input=stdin,
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if done.returncode != 0:
            raise AssertionError(f"cli {' '.join(args)} failed: {done.stderr[-2000:]}")
        return done

    def log_tail(self, chars: int = 4000) -> str:
        """The end of the three processes' combined output, for failure messages."""
        return self.log_path.read_text(errors="replace")[-chars:]


def system_env(workdir: Path) -> dict[str, str]:
    """Environment for a private system: its own SQLite file, media, ports and fast timings.

    The pool ticks every second and the simulated sampler takes 0.25 s a step, so a cold
    start is a few seconds and the progress bar is visible for several page refreshes.
    """
    vast_port, comfy_port, web_port = free_port(), free_port(), free_port()
    return {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{workdir / 'aikings.db'}",
        "MEDIA_ROOT": str(workdir / "media"),
        "DATA_DIR": str(workdir),
        "BACKUP_DIR": str(workdir / "backups"),
        "PROVIDER": "sim",
        "SIM_VAST_PORT": str(vast_port),
        "SIM_COMFY_PORT": str(comfy_port),
        "SIM_VAST_URL": f"http://127.0.0.1:{vast_port}",
        "SIM_STEP_DELAY_S": "0.25",
        "WEB_PORT": str(web_port),
        "API_PORT": str(free_port()),
        "METRICS_PORT": "0",
        "POOL_POLL_INTERVAL_S": "1",
        "POOL_DESIRED_SIZE": "1",
        "ADMIN_API_KEY": ADMIN_KEY,
        "STARTER_CREDITS": str(STARTER_CREDITS),
        "LOG_LEVEL": "INFO",
    }


def _wait_until_up(proc: subprocess.Popen[bytes], system: System) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    probes = [
        f"{system.url}/_stcore/health",
        f"http://127.0.0.1:{system.env['SIM_COMFY_PORT']}/system_stats",
    ]
    if system.env.get("API_PORT", "0") != "0":
        probes.append(f"http://127.0.0.1:{system.env['API_PORT']}/openapi.json")
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = system.log_tail()
            taken = "address already in use" in tail.lower()
            error = PortTaken if taken else AssertionError
            raise error(f"the system exited while starting:\n{tail}")
        try:
            if all(httpx.get(url, timeout=2).status_code == 200 for url in probes):
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"the system did not answer in {START_TIMEOUT_S} s:\n{system.log_tail()}")


class PortTaken(AssertionError):
    """The system exited while starting because one of its ports was taken meanwhile."""


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the supervisor (it stops its three children), then SIGKILL the whole group."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass  # every process of the group has already exited
    proc.wait()


class _Supervisor:
    """Owns the tools/run_all.py process (and its process group) of one system."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, system: System) -> None:
        """Start run_all.py, appending to the log, and wait until the system answers."""
        with system.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, str(ROOT / "tools" / "run_all.py")],
                env=system.env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: one killpg reaches everything
            )
        _wait_until_up(self.proc, system)

    def stop(self) -> None:
        """Stop the system if it runs (see `_stop`)."""
        if self.proc is not None:
            _stop(self.proc)
            self.proc = None


@contextmanager
def running_system(
    tmp_path: Path, shots_folder: Path, overrides: dict[str, str] | None = None
) -> Iterator[System]:
    """Migrate a fresh database, start tools/run_all.py, wait until it answers, stop it after.

    Its files live in `tmp_path/system`, its log is `shots_folder/system.log` (next to the
    test's screenshots, where a failed test's report reads it); `overrides` replace settings
    of `system_env` (e.g. the warm pool's desired size)."""
    workdir = tmp_path / "system"
    log_path = shots_folder / "system.log"
    workdir.mkdir(parents=True, exist_ok=True)
    supervisor = _Supervisor()
    try:
        for attempt in range(1, START_ATTEMPTS + 1):
            env = system_env(workdir) | (overrides or {})
            system = System(
                url=f"http://127.0.0.1:{env['WEB_PORT']}",
                env=env,
                log_path=log_path,
                supervisor=supervisor,
            )
            if attempt == 1:
                system.cli("migrate")
            log_path.write_bytes(b"")
            try:
                supervisor.start(system)
                break
            except PortTaken:
                supervisor.stop()
                if attempt == START_ATTEMPTS:
                    raise
        yield system
    finally:
        supervisor.stop()
