"""The pages' small helpers: money and duration formats, and who sees which page."""

from decimal import Decimal

import pytest

from ui.navigation import board_page, pages_for, share_page
from ui.widgets import format_duration, format_usd, md_literal


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (Decimal("1.25"), "$1.25"),
        (Decimal("0.0042"), "$0.0042"),
        (Decimal(0), "$0.00"),
        (Decimal("1234.5"), "$1,234.50"),
    ],
)
def test_format_usd(amount, text):
    assert format_usd(amount) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(45, "45 s"), (60, "1 min"), (185, "3 min 5 s"), (7800, "2 h 10 min"), (7200, "2 h")],
)
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


def test_admin_pages_are_only_offered_to_admins():
    assert list(pages_for(is_admin=False)) == ["Create", "Help"]
    assert list(pages_for(is_admin=True)) == ["Create", "Admin", "Help"]


def test_the_share_page_is_reachable_by_link_but_never_listed():
    without_link = pages_for(is_admin=False)["Create"]
    with_link = pages_for(is_admin=False, share_link=True)["Create"]
    # the email verification page is always routable (its links open signed in), never listed
    assert [page.visibility for page in without_link] == ["visible"] * 6 + ["hidden"]
    assert [page.visibility for page in with_link] == ["visible"] * 6 + ["hidden"] * 3
    assert share_page().visibility == board_page().visibility == "hidden"


@pytest.mark.parametrize(
    ("title", "shown"),
    [
        ("Harbour at dawn", "Harbour at dawn"),
        ("![x](http://e.test/p.png)", r"\!\[x\]\(http\:\/\/e\.test\/p\.png\)"),
        (":red[alert] $x$ <b>", r"\:red\[alert\] \$x\$ \<b\>"),
        ("line\nbreak\t# heading", r"line break \# heading"),
    ],
)
def test_md_literal_escapes_every_markdown_mark(title, shown):
    assert md_literal(title) == shown
