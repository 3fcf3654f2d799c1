"""On a 390 px phone the sidebar is an overlay: following a link in it closes it, so the page
the visitor asked for is what they see (issue 14, "the sidebar stays open after navigating")."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.browser import (
    STEP_TIMEOUT_MS,
    Screenshots,
    chromium_present,
    confirm_age,
    fill_registration,
    open_site,
    submit_registration,
    wait_idle,
)
from tests.e2e.system import System

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not chromium_present(),
        reason="needs Debian's chromium (apt-get install chromium chromium-driver); "
        ".ci/run installs it",
    ),
]

PHONE = {"width": 390, "height": 844}


def sidebar_open(page: Page) -> bool:
    """Whether the sidebar overlay is expanded (Streamlit's own `data-collapsed`)."""
    return page.get_by_test_id("stSidebar").get_attribute("data-collapsed") == "false"


def open_sidebar(page: Page) -> None:
    if not sidebar_open(page):
        page.get_by_test_id("stExpandSidebarButton").click()
    expect(page.get_by_test_id("stSidebar")).to_have_attribute("data-collapsed", "false")


def test_a_link_followed_in_the_phone_sidebar_closes_it(
    system: System, browser: Browser, screenshots: Screenshots
) -> None:
    context = browser.new_context(viewport=PHONE)  # type: ignore[arg-type]
    context.set_default_timeout(STEP_TIMEOUT_MS)
    page = context.new_page()
    open_site(page, system.url)
    confirm_age(page)
    submit_registration(fill_registration(page, "walker", ("1990", "04", "05")))
    for title in ("Gallery", "Muses", "Account", "Studio"):
        open_sidebar(page)
        page.get_by_test_id("stSidebarNav").get_by_role("link", name=title, exact=True).click()
        expect(page.get_by_role("heading", name=title, exact=True).first).to_be_visible()
        wait_idle(page)
        screenshots.take(page, f"phone_after_{title.lower()}")
        expect(page.get_by_test_id("stSidebar")).to_have_attribute("data-collapsed", "true")
