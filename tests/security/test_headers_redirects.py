"""Headers, routes, redirects and input rules found from outside (issue 15).

- ``Permissions-Policy`` on every answer: pages, redirects, the API, static files, errors,
  refusals.
- The benchmark floors (``/bench/floor/...``) exist only under the benchmark settings: the
  production URLconf resolves none of them.
- A form's ``next`` sends the browser only back into the portal (no open redirect).
- Reserved business registration numbers (``0000000000``, ``000-00-00000`` …) are refused
  even though their check digit is right; nothing is created.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import reverse

from consortia.models import Organisation
from consortia.validators import make_business_number
from evaluations.enums import PhaseStatus
from evaluations.models import Phase
from portal.models import AuditEntry
from tests.factories import ProgrammeFactory, UserFactory
from tests.factories_evaluations import selection_phase

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


# ----------------------------------------------------------------------------- Permissions-Policy


def _answers(client, api_for, officer):
    from django.test import Client

    token = api_for(officer)
    no_totp_officer = UserFactory(role="officer")
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    bare = APIClient()
    bare.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=no_totp_officer).key}")
    anonymous = Client()
    return {
        "page redirect to log in": anonymous.get("/"),
        "log-in page": anonymous.get(reverse("account_login")),
        "not found": anonymous.get("/no/such/page/"),
        "static file": anonymous.get("/static/css/portal.css"),
        "health": anonymous.get("/healthz"),
        "API list": token.get("/api/v1/programmes/"),
        "API not signed in": APIClient().get("/api/v1/programmes/"),
        "API two-factor refusal": bare.get("/api/v1/programmes/"),
        "API too large": token.generic("POST", "/api/v1/programmes/", CONTENT_LENGTH=str(500 * 1024 * 1024)),
    }


def test_every_answer_carries_a_permissions_policy(client, api_for, officer):
    answers = _answers(client, api_for, officer)
    statuses = {name: response.status_code for name, response in answers.items()}
    assert statuses["static file"] == 200 and statuses["API too large"] == 413, statuses
    missing = [name for name, response in answers.items() if "Permissions-Policy" not in response]
    assert missing == []
    policy = answers["API list"]["Permissions-Policy"]
    for feature in ("camera=()", "microphone=()", "geolocation=()", "payment=()", "usb=()"):
        assert feature in policy


# ----------------------------------------------------------------------------- benchmark routes


def _production_urls() -> dict:
    script = """
import json, django
django.setup()
from django.urls import get_resolver, resolve, Resolver404
def walk(patterns, prefix=""):
    for p in patterns:
        route = prefix + str(p.pattern)
        yield route
        if hasattr(p, "url_patterns"):
            yield from walk(p.url_patterns, route)
routes = list(walk(get_resolver().url_patterns))
resolved = {}
for path in ("/bench/floor/list/", "/bench/floor/tiny/"):
    try:
        resolved[path] = resolve(path).view_name
    except Resolver404:
        resolved[path] = None
print(json.dumps({"routes": routes, "resolved": resolved}))
"""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings.production",
        "SECRET_KEY": "production-like-key-for-the-url-check-only-0123456789abcdef",
        "ALLOWED_HOSTS": "portal.example.kr",
        "REDIS_URL": os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0",
    }
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_production_urlconf_resolves_no_benchmark_route():
    urls = _production_urls()
    assert urls["resolved"] == {"/bench/floor/list/": None, "/bench/floor/tiny/": None}
    assert [route for route in urls["routes"] if route.startswith("bench/") or "floor" in route] == []
    assert len(urls["routes"]) > 50  # the walk did see the portal's routes


def test_the_floor_list_is_not_served_to_anyone(client, client_for, officer):
    audit_actions = list(AuditEntry.objects.values_list("action", flat=True)[:50])
    for c in (client, client_for(officer)):
        response = c.get("/bench/floor/list/")
        assert response.status_code in (302, 404)
        assert not any(action in response.content.decode() for action in audit_actions if action)


def test_the_benchmark_settings_still_serve_the_floors(client_for, applicant, settings):
    settings.ROOT_URLCONF = "portal.bench_urls"
    c = client_for(applicant)
    assert reverse("bench:floor_list") == "/bench/floor/list/"
    assert c.get("/bench/floor/list/").status_code == 200
    assert c.get("/bench/floor/tiny/").status_code == 200


def test_bench_run_serves_with_the_benchmark_settings():
    assert '"DJANGO_SETTINGS_MODULE": "portal.settings.bench"' in (ROOT / "bench" / "run.py").read_text()
    from portal.settings import bench

    assert bench.ROOT_URLCONF == "portal.bench_urls"


# ----------------------------------------------------------------------------- open redirect

HOSTILE_NEXT = [
    "https://evil.example/phish",
    "//evil.example/phish",
    "/\\evil.example/phish",
    "\\\\evil.example",
    "javascript:alert(1)",
    "http://testserver.evil.example/",
    "https:///evil.example",
]


@pytest.mark.parametrize("target", HOSTILE_NEXT)
def test_a_phase_action_never_redirects_off_the_portal(client_for, officer, target):
    phase = selection_phase(programme=ProgrammeFactory(), status=PhaseStatus.SCORING)
    c = client_for(officer)
    before = (Phase.objects.filter(pk=phase.pk).values().get(), AuditEntry.objects.count())
    # Publishing a phase still being scored is refused: the action changes nothing either way.
    response = c.post(
        reverse("evaluations:phase_action", args=[phase.pk, "publish"]), {"next": target, "confirm": "yes"}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("evaluations:phase_detail", args=[phase.pk])
    assert (Phase.objects.filter(pk=phase.pk).values().get(), AuditEntry.objects.count()) == before


def test_a_phase_action_follows_a_next_inside_the_portal(client_for, officer):
    phase = selection_phase(programme=ProgrammeFactory(), status=PhaseStatus.SCORING)
    inside = reverse("evaluations:phase_list") + "?programme=1"
    response = client_for(officer).post(
        reverse("evaluations:phase_action", args=[phase.pk, "publish"]), {"next": inside, "confirm": "yes"}
    )
    assert (response.status_code, response["Location"]) == (302, inside)


# ----------------------------------------------------------------------------- registration numbers

RESERVED = ["0000000000", "000-00-00000", make_business_number("000123456"), make_business_number("123001234"),
            make_business_number("123450000")]  # fmt: skip


@pytest.mark.parametrize("number", RESERVED)
def test_reserved_registration_numbers_are_refused_over_the_api(api_for, applicant, number):
    before = (Organisation.objects.count(), AuditEntry.objects.count())
    response = api_for(applicant).post(
        "/api/v1/organisations/",
        {"name_ko": "영영 주식회사", "name_en": "Zero Corp", "kind": "sme", "business_number": number},
        format="json",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 400, response.content
    assert response.json()["errors"]["business_number"][0].startswith("Business registration number:")
    assert "never issued" in response.json()["errors"]["business_number"][0]
    assert (Organisation.objects.count(), AuditEntry.objects.count()) == before


def test_the_all_zero_number_is_refused_on_the_page(client_for, applicant):
    c = client_for(applicant)
    before = (Organisation.objects.count(), AuditEntry.objects.count())
    response = c.post(
        reverse("consortia:organisation_create"),
        {"name_ko": "영영 주식회사", "name_en": "Zero Corp", "kind": "sme", "business_number": "000-00-00000",
         "is_domestic": "on"},
        HTTP_ACCEPT_LANGUAGE="en",
    )  # fmt: skip
    assert response.status_code == 400
    assert "never issued to an organisation" in response.content.decode()
    assert (Organisation.objects.count(), AuditEntry.objects.count()) == before


def test_a_real_number_is_still_accepted(api_for, applicant):
    response = api_for(applicant).post(
        "/api/v1/organisations/",
        {
            "name_ko": "실제 주식회사",
            "name_en": "Real Corp",
            "kind": "sme",
            "business_number": make_business_number("220810123"),
        },
        format="json",
    )
    assert response.status_code == 201, response.content
