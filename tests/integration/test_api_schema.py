"""Property-based tests of the HTTP API against its own OpenAPI document (schemathesis).

Every operation gets generated requests (valid and not) over loopback with a token holding
every user scope: no response is a 500, and every documented response matches its schema.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance
from sqlalchemy.engine import Engine

from api.app import create_app
from api.main import services_from
from core.accounts import ledger, legal
from core.accounts.api_tokens import Scope, create_token
from core.config import get_settings
from core.db import session_scope
from sim.server import ServerThread
from testing.factories import make_user

EXAMPLES_PER_OPERATION = 20


@pytest.fixture
def served(engine: Engine, fake_clock: Any) -> Iterator[tuple[str, str]]:
    texts = legal.load()
    user = make_user(
        engine, terms_version=texts.terms.version, privacy_version=texts.privacy.version
    )
    with session_scope(engine) as session:
        ledger.grant(session, user_id=user.id or 0, credits=10_000, key="schema-grant",
                     note="test", now=fake_clock.now())  # fmt: skip
        token = create_token(
            session, user_id=user.id or 0, name="schema",
            scopes=frozenset({Scope.READ, Scope.GENERATE, Scope.MUSES}), now=fake_clock.now(),
        ).secret  # fmt: skip
    svc = services_from(get_settings())
    app = create_app(type(svc)(**{**svc.__dict__, "engine": engine}))
    with ServerThread(app) as server:
        yield server.url, token


def test_no_input_makes_a_500_and_answers_match_the_schema(served: tuple[str, str]) -> None:
    url, token = served
    document = httpx.get(f"{url}/openapi.json", timeout=30).json()
    operations = [
        result.ok() for result in schemathesis.openapi.from_dict(document).get_all_operations()
    ]
    assert len(operations) >= 10
    # The event stream stays open while a job is queued (no scheduler runs here); it has its
    # own contract test.
    operations = [op for op in operations if not op.path.endswith("/events")]

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def check(case: Any) -> None:
            case.call_and_validate(
                base_url=url,
                headers={"Authorization": f"Bearer {token}"},
                checks=[not_a_server_error, response_schema_conformance],
                timeout=30,
            )

        check()
