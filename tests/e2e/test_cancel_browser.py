"""Stopping a running job in a real browser: the simulated sampler is slowed so the job is
still generating when Stop is pressed; the run is interrupted, the unused credits refunded.

Runs the whole system as `make run` starts it, with Debian's headless Chromium.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.browser import (
    BROWSER_TEST,
    JOB_TIMEOUT_MS,
    Screenshots,
    enter_prompt,
    signed_up_page,
)
from tests.e2e.system import STARTER_CREDITS, System, running_system

pytestmark = BROWSER_TEST


@pytest.fixture
def slow_system(tmp_path: Path, screenshots: Screenshots) -> Iterator[System]:
    """The system with a sampler slow enough (2 s a step) to press Stop mid-run."""
    with running_system(tmp_path, screenshots.folder, {"SIM_STEP_DELAY_S": "2"}) as running:
        yield running


def test_a_running_job_is_stopped_and_what_it_did_not_use_refunded(
    slow_system: System, browser: Browser, screenshots: Screenshots
) -> None:
    page = signed_up_page(browser, slow_system.url, "nora", ("1990", "03", "04"))
    enter_prompt(page, "a lighthouse at dusk")
    hold = int(page.get_by_test_id("stMetricValue").first.inner_text())
    page.get_by_role("button", name="Generate").click()
    expect(page.get_by_text(re.compile(r"Generating: step [1-9]\d* of"))).to_be_visible(
        timeout=JOB_TIMEOUT_MS
    )
    screenshots.take(page, "running")
    page.get_by_role("button", name="Stop", exact=True).click()
    stopped = page.get_by_text(re.compile(r"^#\d+ · cancelled"))
    expect(stopped).to_be_visible(timeout=JOB_TIMEOUT_MS)
    screenshots.take(page, "stopped", focus=stopped)
    balance = page.get_by_text(re.compile(r"Balance: \d+ credits"))
    found = re.search(r"Balance: (\d+)", balance.inner_text())
    assert found is not None
    charged = STARTER_CREDITS - int(found.group(1))
    assert 0 < charged < hold  # the GPU time used is charged, the rest of the hold refunded
