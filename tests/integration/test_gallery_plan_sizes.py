"""A tag's or a search's size chooses a page's plan; it is counted once a minute per database,
not on every page, and a size gone stale never changes what a page lists."""

from core.db import make_engine, read_scope, session_scope
from core.gallery import listing, plan_sizes, search
from core.models import AssetTag
from testing.factories import make_asset, make_user


def _tag_page(engine, owner, tag="sunset"):
    with read_scope(engine) as session:
        page = listing.list_assets(session, viewer_id=owner.id, scope="mine", tag=tag, limit=50)
    return [asset.id for asset in page.items]


def _tagged(engine, owner, count, tag="sunset"):
    assets = [make_asset(engine, owner) for _ in range(count)]
    with session_scope(engine) as session:
        session.add_all(AssetTag(asset_id=asset.id, tag=tag) for asset in assets)
    return sorted((asset.id for asset in assets), reverse=True)


def _counting(monkeypatch, module, name):
    calls = []
    real = getattr(module, name)

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


def test_a_tags_size_is_counted_once_for_many_pages(engine, monkeypatch):
    owner = make_user(engine)
    ids = _tagged(engine, owner, 3, tag="size-once")
    executed = []
    real_exec = listing.Session.exec

    def spy(self, statement, *args, **kwargs):
        executed.append(str(statement))
        return real_exec(self, statement, *args, **kwargs)

    monkeypatch.setattr(listing.Session, "exec", spy)
    for _ in range(3):
        assert _tag_page(engine, owner, tag="size-once") == ids
    assert sum("count(" in statement for statement in executed) == 1


def test_a_common_search_reads_its_ids_once_and_a_rare_one_on_every_page(engine, monkeypatch):
    owner = make_user(engine)
    common = {make_asset(engine, owner, title=f"kakaka ropa {n}").id for n in range(4)}
    rare = make_asset(engine, owner, title="zuzu ropa").id
    monkeypatch.setattr(search, "FEW_MATCHES", 2)
    reads = _counting(monkeypatch, search, "_few_ids")

    def found(text):
        with read_scope(engine) as session:
            page = listing.list_assets(
                session, viewer_id=owner.id, scope="mine", search=text, limit=50
            )
        return {asset.id for asset in page.items}

    for _ in range(3):
        assert found("kakaka ropa") == common  # a phrase: read by matching on both backends
    assert len(reads) == 1
    for _ in range(3):
        assert found("zuzu ropa") == {rare}
    assert len(reads) == 1 + 3


def test_a_stale_size_changes_the_plan_never_the_page(engine, monkeypatch):
    owner = make_user(engine)
    monkeypatch.setattr(search, "FEW_MATCHES", 2)
    monkeypatch.setattr(listing, "FEW_MATCHES", 2)
    first = _tagged(engine, owner, 1, tag="grows")
    assert _tag_page(engine, owner, tag="grows") == first  # remembered: few, read by id
    more = _tagged(engine, owner, 6, tag="grows")
    assert _tag_page(engine, owner, tag="grows") == sorted(first + more, reverse=True)


def test_a_size_is_counted_again_after_a_minute(engine, monkeypatch):
    owner = make_user(engine)
    ids = _tagged(engine, owner, 2, tag="ttl")
    monkeypatch.setattr(plan_sizes, "SIZE_TTL_S", 0.0)
    counted = []
    with read_scope(engine) as session:
        for _ in range(2):
            plan_sizes.remembered(session, ("ttl",), lambda: counted.append(1) or 7)
    assert counted == [1, 1]
    assert _tag_page(engine, owner, tag="ttl") == ids


def test_each_database_has_its_own_sizes(sqlite_engine, tmp_path):
    other = make_engine(f"sqlite:///{tmp_path / 'other.db'}")
    try:
        with read_scope(sqlite_engine) as one, read_scope(other) as two:
            assert plan_sizes.remembered(one, ("k",), lambda: 1) == 1
            assert plan_sizes.remembered(two, ("k",), lambda: 2) == 2
            assert plan_sizes.remembered(one, ("k",), lambda: 3) == 1
    finally:
        other.dispose()
