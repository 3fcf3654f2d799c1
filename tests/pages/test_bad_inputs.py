"""Every form refuses hostile input with a message, on both databases, and writes nothing.

A table of forms (the page, the fields filled with good values, the button) and of bad
values: each bad value goes into one field at a time, through the real entry point
(Home.py, so the page-level error boundary is part of the path) with AppTest. After each
submit the page shows no exception and no "error id" (an unexpected error), shows a refusal
message, and no table but the audit log and the sign-in throttle gained or lost a row.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
import streamlit as st
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from streamlit.testing.v1 import AppTest

from core.accounts import legal, sessions
from core.db import session_scope
from core.gallery import listing
from core.models import Muse, Role
from core.muses import fields, schema, service
from testing import rows
from testing.factories import register_user
from tests.pages.conftest import ROOT
from ui import auth, muse_page, resources
from ui.errors import FRIENDLY

# What a refusal may record: its audit entry, and a failed sign-in's throttle row.
RECORDS = {"auditentry", "auditcheckpoint", "loginthrottle"}
BAD_TEXT = [
    "\x00",
    "ava\x00",
    "a\x00' OR 1=1 --",
    "\x1b[31mred",
    "bell\x07",
    "next\x85line",
]
# A number input with bounds resets an out-of-range value to its default in Streamlit itself
# (NumberInput.deserialize), so only unbounded ones reach core; integers past the columns'
# ranges are tested where they can arrive (cards, CLI: tests/integration/test_bad_inputs.py).
GOOD_FAITH = (
    "I believe in good faith that this picture was published without the consent of the "
    "person shown."
)
UNEXPECTED = FRIENDLY.split("{")[0][:40]
FEW_BAD_TEXT = ["ava\x00", "bell\x07"]
"""For the fields the muse form generates from the schema: one NUL, one other control."""
MUSE_TEXT_FIELDS = [
    spec.label
    for spec in fields.form_fields()
    if spec.widget in ("text", "area")
    and spec.label not in ("Name", "Nationality", "Ethnicity", "Occupation", "Notes")
]
"""Every free-text field of the muse form (muse21), as `core.muses.fields` lays it out."""


@dataclass(frozen=True)
class Form:
    """A form as a visitor fills it: `good` values for every field, then one bad value in
    each of `bad` (a field label, or a label with its own list of bad values)."""

    page: str
    button: str
    good: dict[str, Any] = field(default_factory=dict)
    confirm: str = ""
    """The confirmation dialog's button, pressed after `button` when the form asks first."""
    settle: bool = False
    """Run once before pressing the button (a button enabled only once a field is filled)."""
    bad: dict[str, list[Any]] = field(default_factory=dict)
    role: Role = Role.USER
    signed_in: bool = True
    view: str | None = None
    """The Muses page's view (`ui.muse_page.VIEW`): "new", or "muse" for the user's muse."""


def texts(*labels: str) -> dict[str, list[Any]]:
    return dict.fromkeys(labels, BAD_TEXT)


FORMS = {
    "sign in": Form(
        "",
        "Sign in",
        good={"Username": "nobody", "Password": "a long enough secret"},
        bad=texts("Username", "Password"),
        signed_in=False,
    ),
    "reset code": Form(
        "",
        "Set new password",
        good={"Reset code": "123456", "New password": "a brand new secret"},
        bad=texts("Reset code", "New password"),
        signed_in=False,
    ),
    "account details": Form(
        "views/account.py",
        "Save details",
        good={"Display name": "Ava", "Email": "ava@example.test"},
        bad=texts("Display name", "Email"),
    ),
    "studio": Form(
        "views/studio.py",
        "Generate",
        good={"Prompt": "a portrait in soft light"},
        bad=texts("Prompt", "Negative prompt"),
        settle=True,
    ),
    "new muse": Form(
        "views/muses.py",
        "Create muse",
        good={"Name": "Nova"},
        view="new",
        bad={
            **texts("Name", "Nationality", "Ethnicity", "Occupation", "Notes"),
            **dict.fromkeys(MUSE_TEXT_FIELDS, FEW_BAD_TEXT),
        },  # tags are not refused: normalize_tags keeps only slug characters
    ),
    "edit muse": Form(
        "views/muses.py",
        "Save changes",
        view="muse",
        bad=texts("Name", "Signature outfit", "Prompt template (use {muse} and {scene})"),
    ),
    "variation": Form(
        "views/muses.py",
        "Add variation",
        good={"Variation name": "beach day"},
        view="muse",
        bad={
            **dict.fromkeys(
                [f"{name.title()} (blank keeps the muse's)" for name in schema.VARIATION_FIELDS],
                FEW_BAD_TEXT,
            ),
            **texts("Variation name", "Outfit (blank keeps the muse's)"),
        },
    ),
    "muse search": Form(
        "views/muses.py", "", bad=texts("Search (name, tag, or anything in the profile)")
    ),
    "gallery search": Form("views/gallery.py", "", bad=texts("Search titles and tags")),
    "removal request": Form(
        "views/takedown.py",
        "Send the request",
        good={
            "Where is the picture? (its share link, or its number, e.g. #123)": "#1",
            "Your name": "A. Person",
            "Your email (we reply there)": "person@example.test",
            "Signature (type your full name)": "A. Person",
            GOOD_FAITH: True,
        },
        bad=texts(
            "Where is the picture? (its share link, or its number, e.g. #123)",
            "Anything that helps us find or judge it",
            "Your name",
            "Your email (we reply there)",
            "Signature (type your full name)",
        ),
    ),
    "safe mode": Form(
        "views/admin_pool.py",
        "Enter safe mode (terminate everything)",
        confirm="Yes, I mean it",
        bad=texts("Reason (required to switch it on; shown to operators and in the audit log)"),
        role=Role.ADMIN,
    ),
    "pool settings": Form(
        "views/admin_pool.py",
        "Save settings",
        bad=texts("GPU names (comma-separated, empty = any)"),
        role=Role.ADMIN,
    ),
    "budget": Form(
        "views/admin_pool.py",
        "Save caps",
        bad={"Daily cap (USD)": [1e30, 1e300, 1e7], "Monthly cap (USD)": [1e19, 1e300]},
        role=Role.ADMIN,
    ),
    "grant credits": Form(
        "views/admin_users.py",
        "Apply",
        good={"Credits to grant": 5},
        bad=texts("Note (shown in their ledger)"),
        role=Role.ADMIN,
    ),
    "audit filter": Form(
        "views/admin_audit.py", "", bad=texts("Actor", "Target contains"), role=Role.ADMIN
    ),
}
CASES = [
    (name, label, value)
    for name, form in FORMS.items()
    for label in form.bad
    for value in form.bad[label]
]


@pytest.fixture
def web_engine(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """The pages on this test's database: SQLite, then PostgreSQL when configured."""
    monkeypatch.setenv("DATABASE_URL", engine.url.render_as_string(hide_password=False))
    st.cache_resource.clear()
    st.cache_data.clear()
    yield engine
    resources.engine().dispose()  # the pages' own pool: no connection outlives the test
    st.cache_resource.clear()
    st.cache_data.clear()


def row_counts(engine: Engine) -> dict[str, int]:
    return rows.row_counts(engine, skip=RECORDS)


def widget(app: AppTest, label: str) -> Any:
    """The first text input, text area, number input or checkbox labelled `label`."""
    for found in (*app.text_input, *app.text_area, *app.number_input, *app.checkbox):
        if found.label == label:
            return found
    raise AssertionError(f"no field {label!r} on the page")


@pytest.fixture
def open_form(web_engine: Engine) -> Callable[[Form], AppTest]:
    """Open a form's page through Home.py: signed out, or as its role's user (registered once,
    with one muse to add variations to), in a browser session of its own."""
    users_by_role: dict[Role, int] = {}

    def opened(form: Form) -> AppTest:
        app = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=30)
        app.session_state["age_confirmed"] = True
        if not form.signed_in:
            return app.run()
        now = datetime.now(UTC)
        with session_scope(web_engine) as session:
            if form.role not in users_by_role:
                users_by_role[form.role] = register(session, form.role, now)
            started = sessions.start_browser_session(
                session, user_id=users_by_role[form.role], now=now, ttl_s=3600
            )
            muse_id = session.exec(
                select(Muse.id).where(Muse.owner_id == users_by_role[form.role])
            ).first()
        app.session_state[auth.SESSION_KEY] = started.id
        if form.view is not None:
            app.session_state[muse_page.VIEW] = muse_id if form.view == "muse" else form.view
        return app.run().switch_page(form.page).run()

    return opened


def register(session: Session, role: Role, now: datetime) -> int:
    user = register_user(
        session,
        f"{role.value}1",
        password="a long enough secret",
        now=now,
        starter_credits=500,
        role=role,
        accepted=legal.load(),
    )
    profile = schema.validate_profile({"basic": {"name": "Ava", "age": 30}})
    service.create_muse(session, owner_id=user.id or 0, profile=profile, tags=[], now=now)
    return user.id or 0


def submit(app: AppTest, form: Form, label: str, value: Any) -> AppTest:
    for name, good in form.good.items():
        widget(app, name).set_value(good)
    widget(app, label).set_value(value)
    if not form.button or form.settle:
        app.run()
    if not form.button:
        return app
    app = press(app, form.button)
    return press(app, form.confirm) if form.confirm else app


def press(app: AppTest, label: str) -> AppTest:
    buttons = [*app.button, *app.get("form_submit_button")]
    return next(b for b in buttons if b.label == label).click().run()


def messages(app: AppTest) -> str:
    return " ".join(str(e.value) for e in (*app.error, *app.warning))


@pytest.mark.parametrize("form_name", list(FORMS))
def test_every_bad_input_gets_a_message_and_writes_nothing(
    form_name, open_form, web_engine, monkeypatch
):
    monkeypatch.setenv("LOGIN_MAX_FAILURES", "1000")
    form = FORMS[form_name]
    for _, label, value in [case for case in CASES if case[0] == form_name]:
        app = open_form(form)
        assert not app.exception, [e.value for e in app.exception]
        before = row_counts(web_engine)
        app = submit(app, form, label, value)
        case = f"{form_name}: {label} = {value!r}"
        assert not app.exception, (case, [e.value for e in app.exception])
        assert UNEXPECTED not in messages(app), (case, messages(app))
        assert messages(app), (case, "no message")
        assert row_counts(web_engine) == before, case


def test_an_unexpected_error_shows_an_error_id_and_logs_the_traceback_only(
    open_form, monkeypatch, caplog
):
    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("the disk is on fire")

    monkeypatch.setattr(listing, "featured", broken)  # an edge we cannot run: a failing disk
    with caplog.at_level(logging.ERROR, logger="ui.errors"):
        app = open_form(Form("views/gallery.py", ""))
    assert not app.exception
    [shown] = [e.value for e in app.error]
    error_id = re.search(r"error id ([0-9a-f]{12})", shown).group(1)
    assert "disk is on fire" not in shown and "Traceback" not in shown
    [logged] = [r for r in caplog.records if r.getMessage() == "page.error"]
    assert logged.error_id == error_id and logged.page == "gallery"
    assert "the disk is on fire" in str(logged.exc_info[1])
