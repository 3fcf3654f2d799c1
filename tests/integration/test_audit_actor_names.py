"""Audit actors read in one form: `user:<id>` shown as `user:<username>` (display only)."""

from core.db import read_scope
from core.ops.audit_view import actor_names
from testing.factories import make_user


def test_user_ids_and_usernames_read_the_same(engine):
    user = make_user(engine)
    actors = [f"user:{user.id}", f"user:{user.username}", "system", "user:999999", "anonymous"]
    with read_scope(engine) as session:
        names = actor_names(session, actors)
    assert names == {
        f"user:{user.id}": f"user:{user.username}",
        f"user:{user.username}": f"user:{user.username}",
        "system": "system",
        "user:999999": "user:999999",  # no such user: left as recorded
        "anonymous": "anonymous",
    }
