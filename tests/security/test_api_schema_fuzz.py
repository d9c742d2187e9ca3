"""Property-based API fuzzing with schemathesis over ``/api/schema/`` (SPEC §8, §10).

Every operation of the OpenAPI schema is called in-process (WSGI) with generated requests,
once per role (applicant, reviewer, officer, administrator, each with its DRF token), against
the shared security world. Checks: no server error, the status code is one the schema
documents, and the response body conforms to the documented schema. Each generated request
runs in a savepoint that is rolled back, so examples do not pile up data.

Requests are generated in both modes (valid, and breaking the schema). Bounded:
``MAX_EXAMPLES`` per operation and role, no shrinking, no example database.
"""

from __future__ import annotations

import os
import time

import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, Phase, given, settings

MAX_EXAMPLES = int(os.environ.get("SCHEMA_FUZZ_EXAMPLES", "8"))
ROLES = ["a_owner", "rev_ok", "officer", "admin"]


@pytest.fixture
def wsgi_app():
    """Django's WSGI handler without the per-request connection closing (as the test client
    does), so requests run inside the test's transaction."""
    from django.core.wsgi import get_wsgi_application

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield get_wsgi_application()
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def _token(user) -> str:
    from rest_framework.authtoken.models import Token

    return Token.objects.get_or_create(user=user)[0].key


def _checks():
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

    return [not_a_server_error, status_code_conformance, response_schema_conformance]


def _strategy(operation):
    """Valid requests and, as often, requests that break the schema (negative mode)."""
    from hypothesis import strategies as st
    from schemathesis.generation.modes import GenerationMode

    return st.one_of(operation.as_strategy(), operation.as_strategy(GenerationMode.NEGATIVE))


def _fuzz_operation(operation, *, headers: dict, checks: list, failures: list[str], role: str) -> int:
    """Run ``MAX_EXAMPLES`` generated requests against one operation; failures are collected
    (so every operation is tried); returns the number of requests made."""
    calls = 0

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=_strategy(operation))
    def run(case):
        nonlocal calls
        calls += 1
        with transaction.atomic():
            try:
                case.call_and_validate(headers=headers, checks=checks)
            except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 -- every failure is reported at the end
                failures.append(f"{operation.label} as {role}: {str(exc)[:900]}")
            transaction.set_rollback(True)

    run()
    return calls


@pytest.mark.parametrize("role", ROLES)
def test_api_schema_fuzz(world, db, wsgi_app, role):
    import schemathesis

    headers = {"Authorization": f"Token {_token(world.users[role])}"}
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", wsgi_app, headers=headers)
    checks = _checks()
    failures: list[str] = []
    calls = 0
    operations = 0
    started = time.monotonic()
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        calls += _fuzz_operation(operation, headers=headers, checks=checks, failures=failures, role=role)
    print(
        f"\nschemathesis [{role}]: {operations} operations, {calls} generated requests, "
        f"{len(failures)} failures, {time.monotonic() - started:.1f} s"
    )
    assert not failures, "\n\n".join(sorted({f[:400] for f in failures})[:30])
