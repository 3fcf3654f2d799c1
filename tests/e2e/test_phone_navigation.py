"""On a 390 px phone the sidebar is an overlay: following a link in it closes it, so the page
the visitor asked for is what they see (issue 14, "the sidebar stays open after navigating")."""

from __future__ import annotations

from playwright.sync_api import Browser, Page, expect

from tests.e2e.browser import (
    BROWSER_TEST,
    Screenshots,
    new_context,
    signed_up,
    wait_idle,
)
from tests.e2e.system import System

pytestmark = BROWSER_TEST


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
    page = new_context(browser, 390, 844).new_page()
    signed_up(page, system.url, "walker", ("1990", "04", "05"))
    for title in ("Gallery", "Muses", "Account", "Studio"):
        open_sidebar(page)
        page.get_by_test_id("stSidebarNav").get_by_role("link", name=title, exact=True).click()
        expect(page.get_by_role("heading", name=title, exact=True).first).to_be_visible()
        wait_idle(page)
        screenshots.take(page, f"phone_after_{title.lower()}")
        expect(page.get_by_test_id("stSidebar")).to_have_attribute("data-collapsed", "true")
