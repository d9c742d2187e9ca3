"""Where the portal says it lives (issue 19): ``PORTAL_BASE_URL`` is required under production
settings, printed by ``make run`` and used by the notices' verification URL; the site e-mails
speak for is the portal (never "example.com"); a link in an e-mail stands on a line of its own."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.contrib.sites.models import Site
from django.core import mail
from django.urls import reverse

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "PATH": "/usr/bin:/bin",
    "DJANGO_SETTINGS_MODULE": "portal.settings.production",
    "SECRET_KEY": "x" * 20 + "production-secret-key-of-enough-length-and-variety-123!",
    "ALLOWED_HOSTS": "portal.example.kr",
    "DATABASE_URL": "postgres://u@127.0.0.1:5432/x",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
}


def manage_check(**extra):
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env={**PRODUCTION, **extra}, capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip


def test_production_settings_refuse_to_start_without_portal_base_url():
    missing = manage_check()
    assert missing.returncode != 0
    assert "portal.E003" in missing.stderr and "PORTAL_BASE_URL is not set" in missing.stderr
    assert "portal.E003" in manage_check(PORTAL_BASE_URL="portal.example.kr").stderr  # no scheme: not an address
    given = manage_check(PORTAL_BASE_URL="https://portal.example.kr")
    assert given.returncode == 0, given.stderr
    assert "portal.E003" not in given.stderr


def test_make_run_serves_on_the_port_given_and_prints_the_base_url():
    result = subprocess.run(
        ["make", "-n", "run", "PORT=8451"], cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={k: v for k, v in os.environ.items() if k != "PORTAL_BASE_URL"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "PORTAL_BASE_URL (links in e-mails, award notices' QR codes): http://127.0.0.1:8451" in result.stdout
    assert "runserver 127.0.0.1:8451" in result.stdout


@pytest.mark.django_db
def test_the_notice_verification_url_uses_portal_base_url(settings):
    from awards.services import verification_url

    settings.PORTAL_BASE_URL = "https://portal.example.kr/"
    assert verification_url("ABCD-EFGH-JKMN") == "https://portal.example.kr/verify/ABCD-EFGH-JKMN/"


@pytest.mark.django_db
def test_the_site_is_the_portal_not_example_com(settings):
    from urllib.parse import urlsplit

    from portal.sites import SITE_NAME

    site = Site.objects.get(pk=settings.SITE_ID)
    assert (site.domain, site.name) == (urlsplit(settings.PORTAL_BASE_URL).netloc, SITE_NAME)


def sign_up(client, lang: str):
    response = client.post(
        reverse("account_signup"),
        # A fresh address each run: allauth sends one confirmation per address every few minutes (shared cache).
        {"email": f"new-{lang}-{uuid.uuid4().hex[:8]}@startup.example.kr", "username": f"newcomer{lang}", "password1": "Tall-Mountain-73!",
         "password2": "Tall-Mountain-73!"},
        HTTP_ACCEPT_LANGUAGE=lang,
    )  # fmt: skip
    assert response.status_code == 302
    (message,) = mail.outbox
    return message


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("lang", "greeting", "ask"),
    [
        ("ko", "AI 파운데이션 모델 프로젝트 포털", "주소를 확인하고 계정을 활성화하려면 다음 링크를 여십시오:"),
        (
            "en",
            "AI Foundation Model Project Portal",
            "To confirm the address and activate the account, open this link:",
        ),
    ],
)
def test_the_sign_up_email_speaks_for_the_portal_and_puts_the_link_on_its_own_line(client, lang, greeting, ask):
    message = sign_up(client, lang)
    body = message.body
    assert "example.com" not in body and "example.com" not in message.subject
    assert body.splitlines()[0] == greeting
    lines = body.splitlines()
    link = next(i for i, line in enumerate(lines) if "/accounts/confirm-email/" in line)
    assert re.fullmatch(r"https?://[^\s]+/accounts/confirm-email/[^/\s]+/", lines[link])  # the URL alone
    assert lines[link - 1] == "" and lines[link - 2] == ask and lines[link + 1] == ""
    assert not re.search(r"/(을|를|이|가)\b", body)  # no particle glued to the link
    # The link works: it confirms the address.
    path = re.search(r"/accounts/confirm-email/[^/\s]+/", lines[link]).group(0)
    assert client.post(path).status_code == 302


@pytest.mark.django_db
def test_the_invitation_email_puts_its_link_on_its_own_line(client_for, django_capture_on_commit_callbacks):
    from tests.factories_consortia import ConsortiumFactory

    consortium = ConsortiumFactory()
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(consortium.lead_contact).post(
            reverse("consortia:invitation_create", kwargs={"pk": consortium.pk}),
            {"email": "professor@univ.example.kr", "role": "member"},
            HTTP_ACCEPT_LANGUAGE="ko",
        )
    assert response.status_code == 302
    (message,) = mail.outbox  # sent after commit through the outbox
    lines = message.body.splitlines()
    link = next(i for i, line in enumerate(lines) if "/consortia/invitations/" in line)
    assert re.fullmatch(r"https?://\S+/consortia/invitations/[\w-]+/", lines[link])
    assert lines[link - 1].endswith(":")  # the Korean sentence ends before the link
