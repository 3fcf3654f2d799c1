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


def test_actors_that_name_no_possible_id_are_left_as_recorded(engine):
    """A name typed at sign-in is recorded as `user:<typed name>`. Before, one of 20 digits
    stopped the admin's audit page (OverflowError on SQLite, integer out of range on
    PostgreSQL), and a digit int() refuses (a superscript two) with a ValueError."""
    make_user(engine)
    actors = ["user:" + "9" * 20, "user:\u00b2", "user:\u0661"]
    with read_scope(engine) as session:
        assert actor_names(session, actors) == {actor: actor for actor in actors}
