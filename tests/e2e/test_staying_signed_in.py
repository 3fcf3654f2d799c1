"""Staying signed in, in a real browser: a reload, a second tab, a deep link and a restart of
the whole system keep the session; the age gate is asked once per browser.

The session cookie is HttpOnly and SameSite=Strict, set by the web process's own route
(`ui/cookies.py`), so the browser, not page state, carries the session.
"""

from __future__ import annotations

import time

from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.e2e.browser import (
    BROWSER_TEST,
    STEP_TIMEOUT_MS,
    Screenshots,
    confirm_age,
    fill_sign_in,
    new_context,
    open_site,
    signed_up,
    wait_idle,
)
from tests.e2e.system import System

pytestmark = BROWSER_TEST

SESSION_COOKIE = "aikings_session"


def _session_cookie(context: BrowserContext) -> dict[str, object]:
    """The session cookie once the page has fetched it (it is HttpOnly: only the jar sees it)."""
    deadline = time.monotonic() + STEP_TIMEOUT_MS / 1000
    while time.monotonic() < deadline:
        found = [c for c in context.cookies() if c["name"] == SESSION_COOKIE]
        if found:
            return dict(found[0])
        time.sleep(0.2)
    raise AssertionError(f"no {SESSION_COOKIE} cookie; the jar has {context.cookies()}")


def _signed_in_on(page: Page, title: str) -> None:
    """The page shows `title` to a signed-in user: no age gate, no sign-in form."""
    expect(page.get_by_role("heading", name=title, exact=True).first).to_be_visible()
    wait_idle(page)
    expect(page.get_by_role("heading", name="Adults only")).to_have_count(0)
    expect(page.get_by_role("heading", name="Welcome to AI KINGS")).to_have_count(0)


def test_a_reload_a_second_tab_a_deep_link_and_a_restart_keep_the_session(
    system: System, browser: Browser, screenshots: Screenshots
) -> None:
    context = new_context(browser, 1400, 1000)
    page = context.new_page()
    signed_up(page, system.url, "lena", ("1991", "03", "09"))
    cookie = _session_cookie(context)
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict", cookie
    nav = page.get_by_test_id("stSidebarNav")
    expect(nav.get_by_role("link", name="Gallery")).to_be_visible()
    expect(nav.get_by_role("link", name="Shared picture")).to_have_count(0)  # links only
    screenshots.take(page, "registered")

    page.reload()
    _signed_in_on(page, "Studio")
    screenshots.take(page, "reloaded")

    second = context.new_page()
    second.goto(f"{system.url}/gallery")
    _signed_in_on(second, "Gallery")
    screenshots.take(second, "second_tab_deep_link")

    # Another browser: the deep link meets the gate, which is remembered across a reload,
    # then the sign-in form, then the page the link named.
    stranger = new_context(browser, 1400, 1000).new_page()
    open_site(stranger, f"{system.url}/gallery")
    confirm_age(stranger)
    stranger.reload()
    expect(stranger.get_by_role("heading", name="Welcome to AI KINGS")).to_be_visible()
    wait_idle(stranger)
    expect(stranger.get_by_role("heading", name="Adults only")).to_have_count(0)
    screenshots.take(stranger, "gate_remembered")
    tab = fill_sign_in(stranger, "lena")
    tab.get_by_role("button", name="Sign in").click()
    _signed_in_on(stranger, "Gallery")
    screenshots.take(stranger, "deep_link_after_sign_in")

    system.restart()
    page.reload()
    _signed_in_on(page, "Studio")
    second.goto(f"{system.url}/account")
    _signed_in_on(second, "Account")
    screenshots.take(second, "after_restart")
