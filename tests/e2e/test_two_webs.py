"""Two web processes on one PostgreSQL database, in a real browser: a job submitted on one is
followed to its end on the other.

The layout of `deploy/README.md` ("Beyond one machine") on one host: the simulator, a leader
in `DISPATCH_MODE=workers`, one worker process, and two `streamlit run web.py` processes on
their own ports. Cookies do not tell ports apart, so the browser carries one session to both,
as it would through one address in front of them; nothing about the job lives in either
process.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from playwright.sync_api import Browser, Page, expect

from testing.processes import free_port, stop
from tests.e2e.browser import (
    BROWSER_TEST,
    Screenshots,
    enter_prompt,
    new_context,
    open_page,
    signed_up,
    watch_to_done,
)
from tests.e2e.system import ROOT, START_TIMEOUT_S, System, running_system

PG_URL = os.environ.get("TEST_DATABASE_URL")

pytestmark = [
    *BROWSER_TEST,
    pytest.mark.skipif(
        PG_URL is None, reason="two web hosts share PostgreSQL: set TEST_DATABASE_URL"
    ),
]


def _admin(statement: str) -> None:
    assert PG_URL is not None
    admin = sa.create_engine(
        sa.make_url(PG_URL).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
    )
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(statement))
    finally:
        admin.dispose()


@pytest.fixture
def database() -> Iterator[str]:
    """A database of its own on TEST_DATABASE_URL's server, dropped afterwards."""
    assert PG_URL is not None
    name = f"aikings_webs_{uuid.uuid4().hex[:8]}"
    _admin(f'CREATE DATABASE "{name}"')
    try:
        yield sa.make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def layout(tmp_path: Path, screenshots: Screenshots, database: str) -> Iterator[System]:
    """Simulator, leader (workers mode) and web A as `make run` starts them, on PostgreSQL."""
    overrides = {"DATABASE_URL": database, "DISPATCH_MODE": "workers"}
    with running_system(tmp_path, screenshots.folder, overrides) as running:
        yield running


def _process(system: System, args: list[str], **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, *args],
        env={**system.env, **env},
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_healthy(url: str, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the second web process exited while starting"
        try:
            if httpx.get(f"{url}/_stcore/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"the second web process did not answer in {START_TIMEOUT_S} s")


def _submit(page: Page, prompt: str) -> None:
    open_page(page, "Studio")
    enter_prompt(page, prompt)
    page.get_by_role("button", name="Generate").click()
    expect(page.get_by_text("Waiting for a GPU")).to_be_visible()


def test_a_job_submitted_on_one_web_process_is_followed_on_the_other(
    layout: System, browser: Browser, screenshots: Screenshots
) -> None:
    port_b = str(free_port())
    web_b = _process(
        layout,
        ["-m", "streamlit", "run", "web.py", "--server.port", port_b, "--server.headless", "true"],
        WEB_PORT=port_b,
    )
    worker: subprocess.Popen[str] | None = None
    try:
        url_b = f"http://127.0.0.1:{port_b}"
        _wait_healthy(url_b, web_b)
        context = new_context(browser, 1400, 1300)
        on_a = context.new_page()
        signed_up(on_a, layout.url, "mira", ("1990", "04", "12"))
        _submit(on_a, "a lighthouse on a cliff at dusk")
        screenshots.take(on_a, "submitted_on_a")

        on_b = context.new_page()  # the same browser, the other web process
        on_b.goto(f"{url_b}/studio")
        expect(on_b.get_by_role("heading", name="Studio", exact=True).first).to_be_visible()
        # Web B finds the queued job in the database before anything runs it: only then does
        # the worker start, so B follows the whole run however slowly the machine opens B.
        expect(on_b.get_by_text("Waiting for a GPU")).to_be_visible()
        worker = _process(layout, ["-m", "scheduler", "worker"])
        watch_to_done(on_b, screenshots, suffix="_on_b")
        # Web A reads the same row: the job it took is done there too.
        on_a.reload()
        expect(on_a.get_by_text(re.compile(r"#\d+ · succeeded · a lighthouse"))).to_be_visible()
    finally:
        if worker is not None:
            stop(worker)
        stop(web_b)
