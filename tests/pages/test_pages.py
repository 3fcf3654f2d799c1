"""Every page, as a visitor, a user and an admin, driven through its widgets."""

import pytest
from sqlmodel import select

from core.db import read_scope
from core.models import AuditEntry, GenerationJob, JobStatus, Muse, PoolConfig, Role
from ui.navigation import ADMIN_PAGES, USER_PAGES


@pytest.mark.parametrize("page", [p for p, _, _ in USER_PAGES + ADMIN_PAGES])
def test_signed_out_visitors_get_the_sign_in_forms(web_engine, page):
    from streamlit.testing.v1 import AppTest

    from tests.pages.conftest import ROOT

    app = AppTest.from_file(str(ROOT / page), default_timeout=30).run()
    assert not app.exception
    assert app.title[0].value == "Welcome to AI KINGS"


@pytest.mark.parametrize("page", [p for p, _, _ in ADMIN_PAGES])
def test_admin_pages_refuse_users(signed_in, page, texts):
    app = signed_in(page).run()
    assert not app.exception
    assert "for administrators" in texts(app)


@pytest.mark.parametrize("page", [p for p, _, _ in USER_PAGES + ADMIN_PAGES])
def test_every_page_renders_for_an_admin(signed_in, page):
    app = signed_in(page, role=Role.ADMIN).run()
    assert not app.exception, app.exception
    assert app.title


def test_studio_submits_a_job_and_shows_its_progress(signed_in, web_engine, texts):
    app = signed_in("views/studio.py").run()
    assert "500 credits" in texts(app)
    app.text_area(key="studio_prompt").input("a lighthouse at dusk, oil painting").run()
    app.button(key="studio_generate").click().run()
    assert not app.exception
    with read_scope(web_engine) as session:
        (job,) = session.exec(select(GenerationJob)).all()
    assert job.status is JobStatus.QUEUED and job.prompt.startswith("a lighthouse")
    assert "Waiting for a GPU" in texts(app)


def test_studio_refuses_a_minor_prompt_clearly(signed_in, web_engine, texts):
    app = signed_in("views/studio.py").run()
    app.text_area(key="studio_prompt").input("a 15 year old in lingerie").run()
    app.button(key="studio_generate").click().run()
    assert "Refused" in texts(app) and "under 18" in texts(app)
    with read_scope(web_engine) as session:
        assert session.exec(select(GenerationJob)).all() == []
        assert [e.action for e in session.exec(select(AuditEntry)).all()][-1] == "policy.refused"


def test_muse_form_creates_a_muse(signed_in, web_engine):
    app = signed_in("views/muses.py").run()
    app.button(key="m_new").click().run()
    [t for t in app.text_input if t.label == "Name"][0].input("Ava")
    [b for b in app.button if b.label == "Create muse"][0].click().run()
    assert not app.exception
    with read_scope(web_engine) as session:
        assert [m.name for m in session.exec(select(Muse)).all()] == ["Ava"]


def test_admin_sets_the_warm_pool_size(signed_in, web_engine):
    app = signed_in("views/admin_pool.py", role=Role.ADMIN)
    from core.config import get_settings
    from core.db import session_scope
    from core.pool.service import ensure_pool

    with session_scope(web_engine) as session:
        ensure_pool(session, get_settings())
    app.run()
    app.number_input[0].set_value(2)
    [b for b in app.button if b.label == "Set warm size"][0].click().run()
    assert not app.exception
    with read_scope(web_engine) as session:
        assert session.get(PoolConfig, "default").desired_size == 2
        assert [e.action for e in session.exec(select(AuditEntry)).all()][-1] == "pool.size"


def test_account_page_shows_the_ledger(signed_in):
    app = signed_in("views/account.py").run()
    assert not app.exception
    assert app.metric[0].value == "500"


def test_studio_counts_tokens_and_reruns_with_the_same_seed(signed_in, web_engine):
    app = signed_in("views/studio.py").run()
    app.text_area(key="studio_prompt").input("word " * 80).run()
    assert any("75-token window" in i.value and "chunks" in i.value for i in app.info)
    app.text_area(key="studio_prompt").input("a quiet harbour").run()
    app.checkbox(key="studio_random_seed").uncheck().run()
    app.number_input(key="studio_seed").set_value(1234).run()
    app.button(key="studio_generate").click().run()
    [b for b in app.button if b.label == "Re-run with the same seed"][0].click().run()
    assert not app.exception
    with read_scope(web_engine) as session:
        seeds = [job.seed for job in session.exec(select(GenerationJob)).all()]
    assert seeds == [1234, 1234]


def test_admin_grants_credits_and_it_is_audited(signed_in, web_engine):
    from core.accounts import ledger

    app = signed_in("views/admin_users.py", role=Role.ADMIN).run()
    app.number_input[0].set_value(250)
    app.text_input[0].input("welcome bonus")
    [b for b in app.button if b.label == "Apply"][0].click().run()
    assert not app.exception
    with read_scope(web_engine) as session:
        assert ledger.balance(session, 1) == 750  # 500 starter + 250 granted to themselves
        assert "credits.granted" in [e.action for e in session.exec(select(AuditEntry)).all()]


def test_gallery_lists_my_pictures_and_opens_one(signed_in, web_engine):
    from core.db import session_scope
    from tests.pages.conftest import store_picture

    app = signed_in("views/gallery.py")
    with session_scope(web_engine) as session:
        store_picture(session, title="Harbour at dawn")
    app.run()
    assert not app.exception
    assert any("Harbour at dawn" in c.value for c in app.caption)
    [b for b in app.button if b.label == "Open"][0].click().run()
    assert not app.exception


def test_admin_costs_page_charts_usage(signed_in, web_engine):
    app = signed_in("views/admin_costs.py", role=Role.ADMIN).run()
    assert not app.exception
    assert app.title[0].value == "Spend & usage"


def test_audit_page_verifies_the_chain(signed_in):
    app = signed_in("views/admin_audit.py", role=Role.ADMIN).run()
    [b for b in app.button if b.label == "Verify the hash chain"][0].click().run()
    assert not app.exception
    assert any("The chain verifies" in s.value for s in app.success)


def test_moderation_approves_a_pending_public_picture(signed_in, web_engine):
    from core.db import session_scope
    from core.models import Asset, Screening, Visibility
    from tests.pages.conftest import store_picture

    app = signed_in("views/admin_moderation.py", role=Role.ADMIN)
    with session_scope(web_engine) as session:
        asset = store_picture(session, title="t")
        asset.visibility = Visibility.PUBLIC
        session.add(asset)
    app.run()
    [b for b in app.button if b.label == "Approve"][0].click().run()
    assert not app.exception
    with read_scope(web_engine) as session:
        assert session.exec(select(Asset)).one().screening is Screening.PASSED
