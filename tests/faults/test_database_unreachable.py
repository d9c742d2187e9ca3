"""PostgreSQL unreachable: pages and API answer 503 with a retry message and an incident id
that is also in the server's log; once the database is back, the same requests answer 200.

A real gunicorn serves the portal; it reaches the test database through a TCP relay in
the test, which is cut (every session ends, new connections are refused) for the outage:
the machine's PostgreSQL itself keeps running.
"""

from __future__ import annotations

import json
import time
from collections import Counter

import pytest
from django.db import connection
from rest_framework.authtoken.models import Token

from tests.factories import UserFactory
from tests.factories_notices import approved_run, stored_notices
from tests.faults.stack import TcpProxy, free_port, http_get, stop, wait_for, web_server

pytestmark = [pytest.mark.django_db(transaction=True)]

OUTAGE_SECONDS = 15


def test_with_the_database_unreachable_pages_and_api_answer_503_with_an_incident_id(tmp_path, client):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL)")
    s = connection.settings_dict
    notice = stored_notices(approved_run(teams=1).run)[0]
    applicant = UserFactory(role="applicant")
    token = Token.objects.create(user=applicant).key
    client.force_login(applicant)
    cookie = f"sessionid={client.cookies['sessionid'].value}"

    proxy = TcpProxy(free_port(), (s["HOST"] or "127.0.0.1", int(s["PORT"] or 5432)))
    proxy.restore()
    port = free_port()
    log = tmp_path / "web.log"
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    env = {"DATABASE_URL": f"postgres://{s['USER']}{password}@127.0.0.1:{proxy.port}/{s['NAME']}", "REDIS_URL": ""}
    server = web_server(port=port, env=env, log=log)
    probes = [
        ("home (signed in)", "/", {"Cookie": cookie}),
        ("log-in page", "/accounts/login/", {}),
        ("verification page", f"/verify/{notice.verification_code}/", {}),
        ("API list", "/api/v1/programmes/", {"Authorization": f"Token {token}", "Accept": "application/json"}),
    ]
    try:
        wait_for(lambda: _answers(port), 60, "gunicorn to serve")
        assert [http_get(port, path, headers=h)[0] for _n, path, h in probes] == [200, 200, 200, 200]

        proxy.cut()
        outage: list[tuple[str, int, dict, bytes, float]] = []
        started = time.monotonic()
        while time.monotonic() - started < OUTAGE_SECONDS:
            # A round of the four requests every 2 s: the verification page's throttle
            # (20 a minute per address) stays out of the figures.
            time.sleep(2)
            for name, path, headers in probes:
                t0 = time.monotonic()
                status, response_headers, body = http_get(port, path, headers=headers)
                outage.append((name, status, response_headers, body, time.monotonic() - t0))
        proxy.restore()
        back = time.monotonic()
        signed_in = [p for p in probes if p[0] in ("home (signed in)", "API list")]
        wait_for(
            lambda: [http_get(port, path, headers=h)[0] for _n, path, h in signed_in] == [200, 200],
            60,
            "the pages to answer 200 again",
        )
        recovered = time.monotonic() - back
        assert [http_get(port, path, headers=h)[0] for _n, path, h in probes] == [200, 200, 200, 200]
    finally:
        stop(server)
        proxy.cut()

    statuses = Counter((name, status) for name, status, _h, _b, _t in outage)
    slowest = max(t for *_rest, t in outage)
    print(
        f"\ndatabase unreachable {OUTAGE_SECONDS} s: {len(outage)} requests, statuses {dict(statuses)}, "
        f"slowest answer {slowest:.2f} s, all 200 again {recovered:.1f} s after it came back"
    )
    # The anonymous log-in page needs no database and keeps answering; every other page 503.
    rounds = len(outage) // len(probes)
    assert statuses == {
        ("home (signed in)", 503): rounds,
        ("log-in page", 200): rounds,
        ("verification page", 503): rounds,
        ("API list", 503): rounds,
    }
    server_log = log.read_text()
    for name, _status, headers, body, _t in outage:
        if name == "log-in page":
            continue
        incident = headers["x-incident-id"]
        assert headers["retry-after"] == "30"
        if name == "API list":
            data = json.loads(body)
            assert (data["code"], data["incident"]) == ("database_unavailable", incident)
        else:
            text = body.decode()
            assert "잠시 후 다시 시도해 주십시오" in text and "Please try again shortly" in text
            assert text.index("잠시 후") < text.index("Please try again")  # Korean first
            assert incident in text
        assert f"incident {incident}: database_unavailable" in server_log
    assert slowest < 5


def _answers(port: int) -> bool:
    try:
        return http_get(port, "/accounts/login/", timeout=2)[0] == 200
    except OSError:
        return False
