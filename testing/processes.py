"""Our own processes (`python -m sim`, `python -m scheduler`) started by tests, always reaped."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
