"""Moderation page: each decision on a reported picture takes effect and is audited."""

import pytest
from sqlmodel import select

from core.db import read_scope, session_scope
from core.gallery import moderation
from core.models import (
    Asset,
    AuditEntry,
    BlockedHash,
    Report,
    ReportStatus,
    Role,
    User,
    Visibility,
)
from tests.pages.conftest import store_picture

PAGE = "views/admin_moderation.py"


def _reported_picture(engine, colour):
    with session_scope(engine) as session:
        asset = store_picture(session, title=f"{colour} square", colour=colour)
        asset.visibility = Visibility.PUBLIC
        session.add(asset)
        session.flush()
        report = moderation.report_asset(
            session,
            asset_id=asset.id,
            reporter_id=None,
            reason="not consensual",
            details="<script>alert(1)</script>",
            now=asset.created_at,
        )
        return asset.id, report.id


@pytest.mark.parametrize(
    ("decision", "hidden", "status", "blocked"),
    [
        ("restore", False, ReportStatus.RESTORED, False),
        ("remove", True, ReportStatus.DELETED, False),
        ("takedown", True, ReportStatus.DELETED, True),
    ],
)
def test_each_decision_takes_effect_and_is_audited(
    signed_in, web_engine, decision, hidden, status, blocked
):
    app = signed_in(PAGE, role=Role.ADMIN)
    asset_id, report_id = _reported_picture(web_engine, "teal")
    app.run()
    assert not app.exception, app.exception
    assert any(t.value == "<script>alert(1)</script>" for t in app.text)  # shown as text
    with read_scope(web_engine) as session:
        assert session.get(Asset, asset_id).hidden is True  # hidden from the moment of report
    app.radio(key=f"m_choice_{report_id}").set_value(decision).run()
    app.button(key=f"m_apply_{report_id}").click().run()
    assert not app.exception, app.exception
    with read_scope(web_engine) as session:
        asset = session.get(Asset, asset_id)
        report = session.get(Report, report_id)
        entry = session.exec(
            select(AuditEntry).where(AuditEntry.action == f"moderation.{decision}")
        ).one()
        admin = session.exec(select(User).where(User.username == "admin1")).one()
        is_blocked = session.get(BlockedHash, asset.sha256) is not None
    assert (asset.hidden, report.status, is_blocked) == (hidden, status, blocked)
    assert report.resolved_by == admin.id
    assert entry.actor == f"user:{admin.id}" and entry.target == f"asset:{asset_id}"
    assert entry.details == {"report": report_id}
    assert not [b for b in app.button if b.key == f"m_apply_{report_id}"]  # left the queue
