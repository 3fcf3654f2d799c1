"""Fixtures for the browser tests: the running system, Chromium, and the screenshot folder."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from tests.e2e.browser import CHROMIUM, CHROMIUM_ARGS, STEP_TIMEOUT_MS, Screenshots
from tests.e2e.system import ROOT, System, running_system

SCREENSHOT_DIR = ROOT / "e2e-screenshots"
_CALL_FAILED = pytest.StashKey[bool]()
SYSTEM_LOG_TAIL_CHARS = 6000


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Iterator[pytest.TestReport]:
    """Remember whether the test body failed, so the browser fixture can photograph it; a
    failure's report carries the end of the system's log, whichever phase failed."""
    report: pytest.TestReport = yield
    if report.when == "call":
        item.stash[_CALL_FAILED] = report.failed
    log = SCREENSHOT_DIR / item.name / "system.log"
    if report.failed and log.exists():
        tail = log.read_text(errors="replace")[-SYSTEM_LOG_TAIL_CHARS:]
        report.sections.append((f"system log (last {SYSTEM_LOG_TAIL_CHARS} characters)", tail))
    return report


def _say(config: pytest.Config, line: str) -> None:
    """Print past pytest's output capture, so the line shows on success too."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line(line)


@pytest.fixture
def screenshots(request: pytest.FixtureRequest) -> Screenshots:
    """An emptied `e2e-screenshots/<test name>/` folder; its path is printed."""
    folder = SCREENSHOT_DIR / request.node.name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    _say(request.config, f"\ne2e screenshots: {folder}")
    return Screenshots(folder)


@pytest.fixture
def system(tmp_path: Path, screenshots: Screenshots) -> Iterator[System]:
    """Simulator, scheduler and web on a fresh database; stopped (all of it) afterwards."""
    with running_system(tmp_path, screenshots.folder) as running:
        yield running


@pytest.fixture
def browser(request: pytest.FixtureRequest, screenshots: Screenshots) -> Iterator[Browser]:
    """Debian's headless Chromium, driven by Playwright; open pages photographed on failure."""
    expect.set_options(timeout=STEP_TIMEOUT_MS)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
            if request.node.stash.get(_CALL_FAILED, False):
                pages = [page for context in chromium.contexts for page in context.pages]
                for number, page in enumerate(pages, start=1):
                    page.screenshot(path=screenshots.folder / f"failure_page{number}.png")
        finally:
            chromium.close()
