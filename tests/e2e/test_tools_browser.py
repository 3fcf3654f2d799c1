"""The creative tools in a real browser: a picture generated, upscaled, then inpainted with
a mask painted on the canvas over it; each lands in the gallery at the size it should.

Runs the whole system as `make run` starts it, with Debian's headless Chromium.
"""

from __future__ import annotations

import re

from playwright.sync_api import Browser, Page, expect

from tests.e2e.browser import (
    BROWSER_TEST,
    DONE,
    JOB_TIMEOUT_MS,
    Screenshots,
    enter_prompt,
    open_page,
    signed_up_page,
    wait_idle,
)
from tests.e2e.system import System

pytestmark = BROWSER_TEST


def _choose(page: Page, label: str, option: str | re.Pattern[str]) -> None:
    page.get_by_label(label, exact=True).click()
    page.get_by_role("option", name=option).click()
    wait_idle(page)


def _generate_and_wait(page: Page, shots: Screenshots, step: str) -> None:
    # the previous job's "Done" stays on screen until the new job replaces it: wait for one
    # more succeeded row in the history, then for the panel to say so
    succeeded = page.get_by_text(re.compile(r"^#\d+ · succeeded"))
    before = succeeded.count()
    page.get_by_role("button", name="Generate").click()
    expect(succeeded).to_have_count(before + 1, timeout=JOB_TIMEOUT_MS)
    done = page.get_by_text(DONE)
    expect(done).to_be_visible(timeout=JOB_TIMEOUT_MS)
    shots.take(page, step, focus=done)


def _tool(page: Page, name: str) -> None:
    page.get_by_test_id("stRadio").filter(has_text="Text to image").get_by_text(
        name, exact=True
    ).click()
    wait_idle(page)


def _paint(page: Page) -> None:
    """Drag the mouse across the canvas, as a person painting the mask would."""
    canvas = page.locator("canvas.upper-canvas").first
    expect(canvas).to_be_visible()
    box = canvas.bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.3
    page.mouse.move(x, y)
    page.mouse.down()
    for step in range(1, 11):
        page.mouse.move(x + step * 15, y + step * 10)
    page.mouse.up()
    wait_idle(page)


def test_a_picture_is_upscaled_and_inpainted_with_a_painted_mask(
    system: System, browser: Browser, screenshots: Screenshots
) -> None:
    page = signed_up_page(browser, system.url, "ines", ("1991", "05", "06"), height=1600)
    open_page(page, "Studio")
    _choose(page, "Quality", "low")
    enter_prompt(page, "a lighthouse at dusk")
    _generate_and_wait(page, screenshots, "first_picture")

    _tool(page, "Upscale")
    expect(page.get_by_label("Upscale model", exact=True)).to_be_visible()
    screenshots.take(page, "upscale_ready")
    _generate_and_wait(page, screenshots, "upscaled")

    _tool(page, "Inpaint")
    _choose(page, "Picture", re.compile(r"1024x1024"))
    expect(page.get_by_text("Paint over the area to change.")).to_be_visible()
    _paint(page)
    expect(page.get_by_text("Paint over the area to change.")).to_have_count(0)
    screenshots.take(page, "mask_painted")
    enter_prompt(page, "a red door")
    _generate_and_wait(page, screenshots, "inpainted")

    open_page(page, "Gallery")
    main = page.get_by_test_id("stMain")
    expect(main.get_by_test_id("stImage")).to_have_count(3)
    screenshots.take(page, "gallery")
