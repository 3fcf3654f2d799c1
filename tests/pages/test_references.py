"""Reference uploads from the pages: stored with consent, refused and audited without it."""

import io

import pytest
from PIL import Image
from sqlmodel import select

from core.db import read_scope
from core.errors import PolicyRefusal
from core.models import AuditEntry, ReferenceImage
from testing.factories import make_user
from ui import references


def _png():
    data = io.BytesIO()
    Image.new("RGB", (64, 48), "navy").save(data, format="PNG")
    return data.getvalue()


def test_an_upload_with_the_statement_is_stored_for_its_owner(web_engine):
    user = make_user(web_engine)
    added = references.attach(
        user_id=user.id, muse_id=None, data=_png(), consent_given=True, target="studio.reference"
    )
    with read_scope(web_engine) as session:
        stored = session.exec(select(ReferenceImage)).one()
    assert (stored.id, stored.owner_id, stored.sha256) == (added.id, user.id, added.sha256)


def test_an_upload_without_the_statement_is_refused_audited_and_not_stored(web_engine):
    user = make_user(web_engine)
    with pytest.raises(PolicyRefusal, match="statement"):
        references.attach(
            user_id=user.id, muse_id=None, data=_png(), consent_given=False, target="muse.reference"
        )
    with read_scope(web_engine) as session:
        assert session.exec(select(ReferenceImage)).all() == []
        (entry,) = session.exec(select(AuditEntry)).all()
    assert entry.actor == f"user:{user.id}" and entry.target == "muse.reference"
