"""A newcomer's first picture in a real browser, then the admin's view of what it cost.

The whole system runs as `make run` starts it (simulator, scheduler, web) on a fresh database;
Debian's headless Chromium clicks through it like a person would. Screenshots of every step
land in `e2e-screenshots/<test>/`, printed at the start of the run.
"""

from __future__ import annotations

import re
from pathlib import Path

from PIL import Image
from playwright.sync_api import Browser, Page, expect

from tests.e2e.browser import (
    BROWSER_TEST,
    Screenshots,
    confirm_age,
    fill_registration,
    fill_sign_in,
    new_context,
    open_page,
    open_site,
    registered,
    sign_out,
    signed_in_again,
    submit_registration,
    submit_sign_in,
    wait_idle,
    watch_to_done,
)
from tests.e2e.system import ADMIN_KEY, STARTER_CREDITS, System

pytestmark = BROWSER_TEST

MUSE = "Nova"
SCENE = "reading on a sunlit balcony"


def _create_muse(page: Page, shots: Screenshots) -> None:
    open_page(page, "Muses")
    page.get_by_role("button", name="New muse").click()
    create = page.get_by_role("button", name="Create muse")
    form = page.get_by_test_id("stForm").filter(has=create).first
    form.get_by_label("Name").fill(MUSE)
    form.get_by_label("Age (18+)").fill("27")
    form.get_by_label("Occupation").fill("architect")
    shots.take(page, "muse_form")
    create.click()
    created = page.get_by_text(f"Created {MUSE}.")
    expect(created).to_be_visible()
    expect(page.get_by_role("heading", name=MUSE)).to_be_visible()  # its own page opens
    shots.take(page, "muse_saved", focus=created)


def _generate_with_muse(page: Page, shots: Screenshots) -> None:
    open_page(page, "Studio")
    page.get_by_label("Muse (optional)").click()
    page.get_by_role("option", name=re.compile(rf"^{MUSE} \(#\d+\)$")).click()
    wait_idle(page)
    scene = page.get_by_label("Scene")
    scene.fill(SCENE)
    scene.press("Control+Enter")  # a text area sends its value on Ctrl+Enter or blur
    expect(page.get_by_text("Composed prompt")).to_be_visible()
    shots.take(page, "studio_ready")
    page.get_by_role("button", name="Generate").click()
    expect(page.get_by_text("Waiting for a GPU")).to_be_visible()
    shots.take(page, "queued", focus=page.get_by_text("Waiting for a GPU"))
    done = watch_to_done(page, shots)
    charged = re.search(r"Done: (\d+)", done.inner_text())
    assert charged is not None
    balance = f"Balance: {STARTER_CREDITS - int(charged.group(1))} credits"
    expect(page.get_by_text(balance)).to_be_visible()


def _download_from_gallery(page: Page, shots: Screenshots, into: Path) -> Path:
    open_page(page, "Gallery")
    main = page.get_by_test_id("stMain")
    expect(main.get_by_test_id("stImage")).to_have_count(1)
    expect(main.get_by_text(re.compile(rf"portrait of {MUSE}"))).to_be_visible()
    shots.take(page, "gallery")
    main.get_by_test_id("stButton").get_by_role("button", name="Open", exact=True).click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_test_id("stImage")).to_be_visible()
    shots.take(page, "picture")
    with page.expect_download() as download_info:
        dialog.get_by_role("button", name="Download").click()
    download = download_info.value
    target = into / download.suggested_filename
    download.save_as(target)
    return target


def _sign_in_as_admin(browser: Browser, system: System, shots: Screenshots) -> Page:
    page = new_context(browser, 1400, 1300, accept_downloads=True).new_page()
    open_site(page, f"{system.url}/admin_pool")  # a deep link meets the gate too,
    not_found = page.get_by_role("dialog").filter(has_text="Page not found")
    expect(not_found).to_be_visible()  # as admin pages do not exist for visitors
    page.keyboard.press("Escape")
    expect(not_found).to_have_count(0)
    registered(page, "root", ("1980", "02", "03"))
    system.cli("user", "role", "root", "admin", stdin=f"{ADMIN_KEY}\n")
    signed_in_again(page, "root")
    admin_link = page.get_by_test_id("stSidebarNav").get_by_role("link", name="Warm pool")
    expect(admin_link).to_be_visible()
    shots.take(page, "admin_signed_in")
    return page


def test_newcomer_creates_a_muse_generates_and_downloads_and_the_admin_sees_pool_and_spend(
    system: System, browser: Browser, screenshots: Screenshots, tmp_path: Path
) -> None:
    page = new_context(browser, 1400, 1300, accept_downloads=True).new_page()
    open_site(page, system.url)
    expect(page.get_by_test_id("stSidebarNav")).to_have_count(0)  # the gate lists no pages
    screenshots.take(page, "age_gate")
    confirm_age(page)  # step by step, not `signed_up`: each step is photographed
    registration = fill_registration(page, "maya", ("1990", "01", "15"))
    screenshots.take(page, "register")
    submit_registration(registration)
    screenshots.take(page, "registered")
    sign_out(page)
    sign_in = fill_sign_in(page, "maya")
    screenshots.take(page, "sign_in")
    submit_sign_in(sign_in)

    _create_muse(page, screenshots)
    _generate_with_muse(page, screenshots)
    downloaded = _download_from_gallery(page, screenshots, tmp_path)

    with Image.open(downloaded, formats=["PNG"]) as picture:
        picture.load()
        parameters = picture.text.get("parameters", "")  # type: ignore[attr-defined]
    assert picture.format == "PNG" and picture.width > 0 and picture.height > 0
    assert SCENE in parameters and MUSE in parameters, parameters

    admin = _sign_in_as_admin(browser, system, screenshots)
    open_page(admin, "Warm pool")
    live = admin.get_by_test_id("stMetric").filter(has_text="Live instances")
    expect(live.get_by_test_id("stMetricValue")).to_have_text(re.compile(r"^[1-9]\d*$"))
    expect(admin.get_by_test_id("stDataFrame").first).to_be_visible()  # cells are a canvas
    screenshots.take(admin, "pool")
    open_page(admin, "Spend & usage")
    spend = admin.get_by_test_id("stPlotlyChart").filter(has_text="GPU spend per day")
    expect(spend.locator(".js-plotly-plot .main-svg").first).to_be_visible()
    screenshots.take(admin, "spend", focus=spend)
