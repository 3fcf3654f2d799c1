"""Card imports, the command line and the studio's request refuse hostile input with a
message, on both databases, and write nothing but the audit entry of a refusal.

Tables of bad values: each is one case. A card goes through `service.import_card` (what the
page and `aikings-muses import` call); a command through `cli.ops.main` /
`cli.muses.main`; a studio request through `core.studio.submit.submit`. Each case must raise
ValidationFailed (or exit with status 2 and an `error:` line), never anything else, and leave
every table's row count as it was.
"""

from __future__ import annotations

import io
import json
from dataclasses import replace
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from api.app import create_app
from api.limits import RateLimiter
from api.main import services_from
from cli import muses as muses_cli
from cli import ops as ops_cli
from core.accounts import inputs, ledger
from core.accounts.api_tokens import Scope, create_token
from core.clock import FakeClock
from core.comfy.presets import Presets
from core.config import get_settings
from core.db import session_scope
from core.errors import ValidationFailed
from core.muses import service
from core.studio.compose import StudioRequest
from core.studio.pricing import pricing_from
from core.studio.submit import submit
from sim.server import ServerThread
from testing import rows
from testing.factories import make_user

KEY = "correct-horse-admin-key"
RECORDS = {"auditentry", "auditcheckpoint"}
BAD_TEXT = ["\x00", "a\x00b", "\ud800", "\x1b[2J", "bell\x07", "tab\there", "x\x85y",
            "gnp.\u202eexe", "\u2067isolate\u2069"]  # fmt: skip
"""Control characters, and the bidi overrides and isolates that make text read other than it
is stored (a title shown as 'exe.png' holding 'gnp.exe' reversed)."""
BAD_MULTILINE = [bad for bad in BAD_TEXT if bad != "tab\there"]  # where line breaks may be
HUGE_NUMBERS = ["9" * 5000, str(2**70), str(2**63), str(-(2**63) - 1), "1e400", "-1"]


def card(**changes: Any) -> dict[str, Any]:
    """A valid card's JSON object with `changes` merged into its profile's sections."""
    profile: dict[str, Any] = {"basic": {"name": "Nova", "age": 30}}
    for section, fields in changes.items():
        profile.setdefault(section, {}).update(fields)
    return {"format": "aikings.muse", "version": 1, "profile": profile}


def raw(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


CARDS: list[bytes] = [
    # numbers: too long for Python to convert, or past the schema's ranges
    *(raw(json.dumps(card()).replace('"age": 30', f'"age": {n}')) for n in HUGE_NUMBERS),
    *(
        raw(json.dumps(card()).replace('"age": 30', f'"age": 30, "height_cm": {n}'))
        for n in HUGE_NUMBERS
    ),
    *(
        raw(json.dumps(card(ai={"seed": 0})).replace('"seed": 0', f'"seed": {n}'))
        for n in HUGE_NUMBERS
    ),
    # types: every envelope field, and sections, of the wrong kind
    *(
        raw(json.dumps({"format": "aikings.muse", "version": 1, "profile": value}))
        for value in ([], [1, 2], "Nova", 7, None, True)
    ),
    *(raw(json.dumps({**card(), "version": value})) for value in (True, "1", 1.0, None, [1], 2)),
    *(raw(json.dumps({**card(), "tags": value})) for value in ("a,b", {"a": 1}, [1], [None])),
    *(raw(json.dumps({**card(), "variations": value})) for value in ("x", [1], [{"name": 1}])),
    *(raw(json.dumps(card(basic={"age": value}))) for value in ("30", 17, 29.5, True, None, [30])),
    *(raw(json.dumps(card(basic={"name": value}))) for value in (1, None, ["Nova"], {"a": 1})),
    *(raw(json.dumps(card(personality={"traits": value}))) for value in ("warm", [1], {"a": 1})),
    # duplicate keys, at the top and inside the profile
    raw('{"format": "aikings.muse", "version": 1, "version": 1, "profile": {}}'),
    raw(
        '{"format": "aikings.muse", "version": 1, "profile": {"basic": {"name": "A", '
        '"name": "B", "age": 30}}}'
    ),
    # control characters and lone surrogates in every kind of text a card carries
    *(raw(json.dumps(card(basic={"name": f"No{bad}va"}))) for bad in BAD_MULTILINE),
    *(raw(json.dumps(card(fashion={"outfit": f"a{bad}gown"}))) for bad in BAD_MULTILINE),
    *(raw(json.dumps(card(personality={"traits": [f"k{bad}ind"]}))) for bad in BAD_MULTILINE),
    *(raw(json.dumps({**card(), "tags": [f"t{bad}ag"]})) for bad in BAD_TEXT if bad != "\ud800"),
    *(
        raw(json.dumps({**card(), "variations": [{"name": f"v{bad}", "overrides": {}}]}))
        for bad in BAD_TEXT
        if bad != "\ud800"
    ),
    # not a card at all
    b"",
    b"\x00" * 64,
    b"\xff\xfe not utf-8",
    b"[" * 10_000,
    b'{"format": "aikings.muse", "version": 1, "profile": {"basic": {"name": "A", "age": 3',
]


def row_counts(engine: sa.Engine) -> dict[str, int]:
    return rows.row_counts(engine, skip=RECORDS)


@pytest.mark.parametrize("data", CARDS, ids=range(len(CARDS)))
def test_a_bad_card_is_refused_with_a_message_and_nothing_is_written(engine, data):
    owner = make_user(engine)
    before = row_counts(engine)
    with pytest.raises(ValidationFailed) as refused, session_scope(engine) as session:
        service.import_card(session, owner_id=owner.id, data=data, filename="card.json", now=NOW)
    assert str(refused.value) and "Traceback" not in str(refused.value)
    assert row_counts(engine) == before


COMMANDS: list[tuple[Any, list[str]]] = [
    *((ops_cli, ["pool", "size", n]) for n in HUGE_NUMBERS),
    *((ops_cli, ["pool", "prewarm", "--minutes", n]) for n in HUGE_NUMBERS),
    *((ops_cli, ["pool", "terminate", n]) for n in [*HUGE_NUMBERS, "1\x00", "0x10"]),
    *((ops_cli, ["pool", "budget", "--daily", n]) for n in ["1e400", "1e30", "NaN", "-1", "inf"]),
    *((ops_cli, ["pool", "safe-mode", "on", "--reason", bad]) for bad in BAD_TEXT),
    *((ops_cli, ["user", "role", f"ava{bad}", "admin"]) for bad in BAD_TEXT),
    *((ops_cli, ["retention", "--days", n]) for n in [str(2**70), "9" * 5000, "-5", "0"]),
    *((muses_cli, ["export", "--owner", "ava", n]) for n in HUGE_NUMBERS[:4]),
    *((muses_cli, ["export", "--owner", f"ava{bad}", "1"]) for bad in BAD_TEXT),
]


@pytest.fixture
def cli_engine(engine, monkeypatch):
    """The programs on this test's database: the admin key set, one user (ava), the pool's
    settings row written (as the first command of a deployment writes it)."""
    monkeypatch.setenv("DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("ADMIN_API_KEY", KEY)
    make_user(engine, username="ava")
    assert ops_cli.main(["pool", "status"], stdin=io.StringIO(KEY), stdout=io.StringIO()) == 0
    return engine


@pytest.mark.parametrize(("program", "argv"), COMMANDS, ids=range(len(COMMANDS)))
def test_a_bad_command_exits_with_a_message_and_nothing_is_written(
    cli_engine, capsys, program, argv
):
    before = row_counts(cli_engine)
    try:
        status = program.main(argv, stdin=io.StringIO(KEY + "\n"), stdout=io.StringIO())
    except SystemExit as exit:  # argparse: a usage line and the reason, status 2
        status = exit.code
    assert status == 2, argv
    err = capsys.readouterr().err
    assert "error:" in err and "Traceback" not in err, err
    assert row_counts(cli_engine) == before


NOW = FakeClock().now()
STUDIO = [
    StudioRequest(prompt="a portrait", seed=2**70),
    StudioRequest(prompt="a portrait", seed=-1),
    StudioRequest(prompt="a portrait", seed=True),
    StudioRequest(prompt="a portrait", batch_size=2**70),
    StudioRequest(prompt="a portrait", batch_size=0),
    *(StudioRequest(prompt=f"a portrait{bad}") for bad in BAD_MULTILINE),
    *(StudioRequest(prompt="a portrait", negative_prompt=f"blur{bad}") for bad in BAD_MULTILINE),
]


@pytest.mark.parametrize("request_", STUDIO, ids=range(len(STUDIO)))
def test_a_bad_studio_request_is_refused_before_any_credit_or_job(engine, request_):
    user = make_user(engine)
    before = row_counts(engine)
    with pytest.raises(ValidationFailed):
        submit(
            engine,
            user_id=user.id,
            request=request_,
            clock=FakeClock(),
            presets=Presets.load(),
            pricing=pricing_from(get_settings()),
            pool="default",
        )
    assert row_counts(engine) == before


def test_line_breaks_pass_in_multi_line_fields_and_nothing_else_does():
    assert not inputs.has_control_characters("two\nlines\tand a tab", multiline=True)
    assert inputs.has_control_characters("two\nlines")
    assert inputs.has_control_characters("nul\x00", multiline=True)
    with pytest.raises(ValidationFailed, match="The seed must be a whole number"):
        inputs.require_int(True, field="seed", low=0, high=1)


def test_the_tables_hold_at_least_150_bad_inputs():
    from tests.pages.test_bad_inputs import CASES

    assert len(CASES) + len(CARDS) + len(COMMANDS) + len(STUDIO) + len(API) >= 150


# The HTTP API (api/): every body field, query and path parameter given text it cannot store,
# numbers past its columns, and values of the wrong type. Each is a 4xx with a message.
GOOD_BODY: dict[str, Any] = {"prompt": "a portrait in soft light"}
SENDABLE = [bad for bad in BAD_TEXT if bad != "\ud800"]
"""What HTTP can carry as UTF-8 (a lone surrogate goes as a JSON escape: RAW_BODIES)."""
BODY_CHANGES: list[dict[str, Any]] = [
    *({"prompt": f"a portrait{bad}"} for bad in SENDABLE if bad != "tab\there"),
    *({"negative_prompt": f"blur{bad}"} for bad in SENDABLE if bad != "tab\there"),
    *({"model": f"sdxl{bad}"} for bad in SENDABLE),
    *({"preset": f"medium{bad}"} for bad in ("\x00", "\x1b[2J")),
    *({"seed": n} for n in (2**70, 2**63, 2**49, -1, True, "1", 1.5, [1], {"a": 1})),
    *({"batch_size": n} for n in (2**70, 0, -1, 9, True, "2", None)),
    *({"muse_id": n} for n in (2**70, 2**31, 0, -1, "x", True)),
    *({"variation_id": n} for n in (2**70, 0, "x")),
    *({"kind": value} for value in ("gif", 1, None)),
    *({"explicit": value} for value in ("maybe", 2, [True])),
    *({"prompt": value} for value in (123, None, [], {"text": "x"}, "", "x" * 3001)),
    {"unknown_field": 1},
]
RAW_BODIES: list[bytes] = [
    raw(json.dumps(GOOD_BODY).replace("}", f', "seed": {"9" * 5000}}}')),
    raw(json.dumps(GOOD_BODY).replace("}", ', "seed": 1e400}')),
    raw(json.dumps(GOOD_BODY).replace("}", ', "batch_size": NaN}')),
    raw(json.dumps({"prompt": "a\ud800b"})),  # a lone surrogate, escaped as JSON allows
    b"",
    b"[]",
    b'"a portrait"',
    b"null",
    b"{",
    b"\xff\xfe not utf-8",
    b"[" * 10_000,
    b'{"prompt": "a\x00b"}',  # a raw NUL inside a JSON string
]
IDS = [str(2**70), str(2**31), "0", "-1", "abc", "1.5", "%00", "9" * 5000]
PAGING = ["0", "-1", str(2**70), "9" * 5000, "x", "1e400", "\x00"]
API: list[tuple[str, str, dict[str, Any]]] = [
    *(
        ("POST", path, {"json": {**GOOD_BODY, **change}})
        for change in BODY_CHANGES
        for path in ("/v1/jobs", "/v1/estimate")
    ),  # fmt: skip
    *(
        ("POST", path, {"content": body})
        for body in RAW_BODIES
        for path in ("/v1/jobs", "/v1/estimate")
    ),  # fmt: skip
    ("POST", "/v1/jobs", {"json": GOOD_BODY, "headers": {"Idempotency-Key": "k" * 10_000}}),
    *(("GET", f"/v1/jobs/{n}", {}) for n in IDS),
    *(("GET", f"/v1/jobs/{n}/outputs", {}) for n in IDS),
    *(("POST", f"/v1/jobs/{n}/cancel", {}) for n in IDS),
    *(("GET", f"/v1/assets/{n}/content", {}) for n in IDS),
    *(("GET", "/v1/jobs", {"params": {"limit": n}}) for n in PAGING),
    *(("GET", "/v1/account/ledger", {"params": {"limit": n}}) for n in PAGING),
    *(("GET", "/v1/account/ledger", {"params": {"before_id": n}}) for n in PAGING),
    *(("GET", "/v1/gallery", {"params": {"limit": n}}) for n in PAGING),
    *(("GET", "/v1/gallery", {"params": {"cursor": bad}}) for bad in [*SENDABLE, "bm90IG91cnM="]),
    *(("GET", "/v1/gallery", {"params": {"sort": bad}}) for bad in ("oldest", "\x00", "1")),
    *(("GET", "/v1/gallery", {"params": {"scope": bad}}) for bad in ("everyone", "\x00")),
    *(("GET", "/v1/muses", {"params": {"search": bad}}) for bad in SENDABLE),
]


@pytest.fixture
def api_client(engine):
    """The API over loopback on this test's database, with a token holding every user scope."""
    user = make_user(engine)
    with session_scope(engine) as session:
        ledger.grant(session, user_id=user.id, credits=1000, key="bad-api", note="", now=NOW)
        token = create_token(
            session,
            user_id=user.id,
            name="bad inputs",
            scopes=frozenset({Scope.READ, Scope.GENERATE, Scope.MUSES}),
            now=NOW,
        ).secret
    base = services_from(get_settings())
    base.engine.dispose()  # the deployment's engine: the API runs on the test's
    services = replace(base, engine=engine, limiter=RateLimiter(1_000_000))
    headers = {"Authorization": f"Bearer {token}"}
    with (
        ServerThread(create_app(services)) as server,
        httpx.Client(base_url=server.url, headers=headers, timeout=30) as client,
    ):
        yield client


def test_every_bad_api_request_is_a_4xx_with_a_message_and_nothing_is_written(engine, api_client):
    wrong = []
    for n, (method, path, sent) in enumerate(API):
        before = row_counts(engine)
        reply = api_client.request(method, path, **sent)
        try:
            body = reply.json()
        except ValueError:
            body = {}
        if not (
            400 <= reply.status_code < 500
            and isinstance(body.get("error"), str)
            and body["error"]
            and "error_id" not in body
            and row_counts(engine) == before
        ):
            wrong.append((n, method, path, str(sent)[:120], reply.status_code, reply.text[:200]))
    assert not wrong, "\n".join(map(str, wrong))
