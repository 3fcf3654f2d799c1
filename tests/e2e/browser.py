"""Driving the Streamlit app in Debian's Chromium through Playwright: waits, steps, screenshots.

No browser is downloaded: Playwright launches the system's `chromium` binary with the flags a
closed network needs (without them Chromium stalls on update and sync requests).
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STEP_TIMEOUT_MS = 30_000
"""A Streamlit rerun on a shared 2-core machine can take a few seconds; be generous."""
JOB_TIMEOUT_MS = 90_000
"""From submit to a stored picture on a cold (simulated) pool."""
PASSWORD = "correct horse battery staple"
PROGRESS = re.compile(r"Generating: step \d+ of \d+")
"""The Studio's line while a job runs."""
DONE = re.compile(r"Done: \d+ credits? charged")
"""The Studio's line once a job succeeded."""


def chromium_present() -> bool:
    """Whether the Debian `chromium` package is installed."""
    return Path(CHROMIUM).is_file()


BROWSER_TEST = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not chromium_present(),
        reason="needs Debian's chromium (apt-get install chromium chromium-driver); "
        ".ci/run installs it",
    ),
]
"""The marks of every browser test module: `pytestmark = BROWSER_TEST`."""


def new_context(browser: Browser, width: int, height: int, **options: bool) -> BrowserContext:
    """A fresh browser profile with a `width` × `height` viewport and the step timeout."""
    context = browser.new_context(viewport={"width": width, "height": height}, **options)
    context.set_default_timeout(STEP_TIMEOUT_MS)
    return context


def wait_idle(page: Page) -> None:
    """Wait until the script run ended and no placeholder is left; fail on a page exception."""
    page.wait_for_selector(
        '[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=STEP_TIMEOUT_MS
    )
    expect(page.get_by_test_id("stSkeleton")).to_have_count(0)
    expect(page.get_by_test_id("stException")).to_have_count(0)


def open_page(page: Page, title: str) -> None:
    """Follow the sidebar link `title` and wait for that page's heading."""
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title, exact=True).click()
    expect(page.get_by_role("heading", name=title, exact=True).first).to_be_visible()
    wait_idle(page)


def open_site(page: Page, url: str) -> None:
    """Open the site: a first visit meets the age gate."""
    page.goto(url)
    expect(page.get_by_role("heading", name="Adults only")).to_be_visible()
    wait_idle(page)


def confirm_age(page: Page) -> None:
    """Confirm being 18 or older and wait for the sign-in forms."""
    page.get_by_role("button", name="I am 18 or older").click()
    expect(page.get_by_role("heading", name="Welcome to AI KINGS")).to_be_visible()
    wait_idle(page)


def _field(scope: Locator, label: str) -> Locator:
    """The text box labelled exactly `label` (help and show-password buttons share labels)."""
    return scope.get_by_role("textbox", name=label, exact=True)


def fill_registration(page: Page, username: str, birth: tuple[str, str, str]) -> Locator:
    """Fill the "Create account" tab; return the tab so the caller can submit it."""
    page.get_by_role("tab", name="Create account").click()
    tab = page.get_by_role("tabpanel", name="Create account")
    _field(tab, "Username").fill(username)
    _field(tab, "Display name").fill(username.title())
    _field(tab, "Email").fill(f"{username}@example.com")
    for part, digits in zip(("year", "month", "day"), birth, strict=True):
        tab.get_by_role("spinbutton", name=f"{part}, Date of birth").click()
        page.keyboard.type(digits)
    _field(tab, "Password (12+ characters)").fill(PASSWORD)
    _field(tab, "Repeat password").fill(PASSWORD)
    tab.get_by_text("I accept the terms of service and the privacy notice.").click()
    expect(tab.get_by_role("checkbox", name="I accept the terms")).to_be_checked()
    return tab


def submit_registration(tab: Locator) -> None:
    """Press "Create account" and wait for the signed-in Studio."""
    tab.get_by_role("button", name="Create account").click()
    expect(tab.page.get_by_role("heading", name="Studio", exact=True)).to_be_visible()
    wait_idle(tab.page)


def signed_up(page: Page, url: str, username: str, birth: tuple[str, str, str]) -> None:
    """A newcomer's first visit to `url`: the age gate confirmed, an account for `username`
    (born `birth`: year, month, day) created, the signed-in Studio shown."""
    open_site(page, url)
    registered(page, username, birth)


def signed_up_page(
    browser: Browser, url: str, username: str, birth: tuple[str, str, str], height: int = 1400
) -> Page:
    """A new 1400 px wide profile's page, `signed_up` as `username` (the Studio showing)."""
    page = new_context(browser, 1400, height).new_page()
    signed_up(page, url, username, birth)
    return page


def registered(page: Page, username: str, birth: tuple[str, str, str]) -> None:
    """`signed_up` once the site is open (the age gate showing)."""
    confirm_age(page)
    submit_registration(fill_registration(page, username, birth))


def sign_out(page: Page) -> None:
    """Sign out from the Account page and wait for the sign-in forms."""
    open_page(page, "Account")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Welcome to AI KINGS")).to_be_visible()
    wait_idle(page)


def fill_sign_in(page: Page, username: str) -> Locator:
    """Fill the "Sign in" tab; return it."""
    page.get_by_role("tab", name="Sign in").click()
    tab = page.get_by_role("tabpanel", name="Sign in")
    _field(tab, "Username").fill(username)
    _field(tab, "Password").fill(PASSWORD)
    return tab


def submit_sign_in(tab: Locator) -> None:
    """Press "Sign in" and wait for the Studio."""
    tab.get_by_role("button", name="Sign in").click()
    expect(tab.page.get_by_role("heading", name="Studio", exact=True)).to_be_visible()
    wait_idle(tab.page)


def signed_in_again(page: Page, username: str) -> None:
    """Sign out and in again as `username` (a new role shows once signed in anew)."""
    sign_out(page)
    submit_sign_in(fill_sign_in(page, username))


def enter_prompt(page: Page, prompt: str) -> None:
    """Type `prompt` into the Studio's prompt and send it (Ctrl+Enter), then wait for the rerun."""
    field = page.get_by_label("Prompt", exact=True)
    field.fill(prompt)
    field.press("Control+Enter")  # a text area sends its value on Ctrl+Enter or blur
    wait_idle(page)


def wait_done(page: Page, timeout_ms: float = JOB_TIMEOUT_MS) -> Locator:
    """Wait for the Studio's Done line and the note that the picture is in the gallery;
    return the Done line."""
    done = page.get_by_text(DONE)
    expect(done).to_be_visible(timeout=timeout_ms)
    expect(page.get_by_text("Saved privately to your gallery.").first).to_be_visible()
    return done


def watch_to_done(page: Page, shots: Screenshots, suffix: str = "") -> Locator:
    """Follow the running job on `page`: its progress line photographed as `progress<suffix>`,
    then `wait_done`, photographed as `done<suffix>`; return the Done line."""
    progress = page.get_by_text(PROGRESS)
    expect(progress).to_be_visible(timeout=JOB_TIMEOUT_MS)
    # In view at once: a warm job may be done before the page settles for the photograph,
    # and a focus asked for then would wait for a line that is gone.
    progress.scroll_into_view_if_needed()
    shots.take(page, f"progress{suffix}")
    done = wait_done(page)
    shots.take(page, f"done{suffix}", focus=done)
    return done


@dataclass
class Screenshots:
    """Numbered PNGs of each step, in one folder."""

    folder: Path
    taken: list[Path] = field(default_factory=list)

    def take(self, page: Page, step: str, focus: Locator | None = None) -> Path:
        """Wait for the page to settle, bring `focus` into view, save `NN_step.png`."""
        wait_idle(page)
        if focus is not None:
            focus.scroll_into_view_if_needed()
        path = self.folder / f"{len(self.taken) + 1:02d}_{step}.png"
        page.screenshot(path=path)
        self.taken.append(path)
        return path
