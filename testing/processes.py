"""Our own processes (`python -m sim`, `python -m scheduler`) started by tests, always reaped."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

_BELOW_EPHEMERAL = range(20_000, 32_768)  # Linux hands out 32768-60999 as source ports
_handed_out: set[int] = set()


def free_port() -> int:
    """A loopback port nobody is bound to right now, not handed out before by this process.

    It is taken below the kernel's ephemeral range: a port the kernel picked (bind to 0) is
    free only until the next outgoing connection on a busy machine takes it as its source
    port, and then the server started on it cannot bind."""
    while True:
        port = random.choice(_BELOW_EPHEMERAL)
        if port in _handed_out:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port


@contextmanager
def python_module(
    module: str, *, env: Mapping[str, str], cwd: Path, args: Sequence[str] = ()
) -> Iterator[subprocess.Popen[str]]:
    """`python -m module *args` with `env` over ours and stderr piped as text; stopped when
    the block ends, however it ends, so no test leaves a process behind."""
    proc = subprocess.Popen(
        [sys.executable, "-m", module, *args],
        env={**os.environ, **env},
        cwd=cwd,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield proc
    finally:
        if proc.returncode is None:
            stop(proc)


def stop(proc: subprocess.Popen[str], timeout_s: float = 30) -> str:
    """SIGTERM, then wait (kill if it will not exit in time); the rest of its stderr."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        _, rest = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, rest = proc.communicate()
    return rest or ""


def wait_for(predicate: Callable[[], object], timeout_s: float = 60.0, poll_s: float = 0.1) -> bool:
    """Ask `predicate` every `poll_s` seconds until it is truthy or `timeout_s` has passed;
    whether it became truthy (for another process to have done something)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(poll_s)
    return False
