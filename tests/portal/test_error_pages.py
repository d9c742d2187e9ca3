"""Branded pages in Korean and English for 404, 403, 500 and 503 (issue 19), read through
HTTP with DEBUG off as production serves them; an unknown verification code shows the
branded 404 even with DEBUG on."""

from __future__ import annotations

import re

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

BRAND_KO = "AI 파운데이션 모델 프로젝트"


def text_of(response) -> str:
    html = response.content.decode()
    body = html[html.index("<body") :]
    body = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", body, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)).strip()


@pytest.fixture
def production_like(settings):
    settings.DEBUG = False
    settings.ROOT_URLCONF = "tests.portal.error_urls"
    return settings


def assert_branded(response, status: int, korean: str, english: str) -> str:
    assert response.status_code == status
    html = response.content.decode()
    assert f'data-status="{status}"' in html
    assert "/static/css/portal.css" in html  # the portal's own look, not a bare page
    text = text_of(response)
    assert BRAND_KO in text and korean in text and english in text
    assert "Django" not in text and "Traceback" not in text and "URLconf" not in text
    return text


def test_an_unknown_page_answers_the_branded_404_in_both_languages(production_like, client):
    text = assert_branded(client.get("/no-such-page/"), 404, "페이지를 찾을 수 없습니다", "Page not found")
    assert "홈으로" in text and "Go to the home page" in text


@pytest.mark.parametrize("debug", [False, True])
def test_an_unknown_verification_code_shows_the_branded_404_never_the_debug_page(settings, client, debug):
    settings.DEBUG = debug
    response = client.get("/verify/NOSUCHCODE123/")
    assert_branded(response, 404, "페이지를 찾을 수 없습니다", "Page not found")
    assert "Using the URLconf" not in response.content.decode()


def test_a_refusal_answers_the_branded_403(production_like, client):
    assert_branded(client.get("/test-errors/403/"), 403, "요청을 처리할 수 없습니다", "The request was refused")


def test_an_expired_form_answers_the_branded_403_and_says_nothing_was_saved(production_like):
    browser = Client(enforce_csrf_checks=True)
    response = browser.post("/accounts/login/", {"login": "someone", "password": "whatever"})
    text = assert_branded(response, 403, "양식이 만료되었습니다", "The form has expired")
    assert "nothing was saved" in text


def test_a_programming_error_answers_the_branded_500(production_like):
    browser = Client(raise_request_exception=False)
    text = assert_branded(browser.get("/test-errors/500/"), 500, "오류가 발생했습니다", "Something went wrong")
    assert "a programming error" not in text  # the exception stays in the log


def test_the_database_unreachable_answers_the_branded_503_with_an_incident_id(production_like):
    browser = Client(raise_request_exception=False)
    response = browser.get("/test-errors/503/")
    text = assert_branded(response, 503, "잠시 후 다시 시도해 주십시오", "Please try again shortly")
    assert response["Retry-After"] == "30"
    assert response["X-Incident-Id"] in text


@pytest.mark.parametrize(("path", "status"), [("/test-errors/500/", 500), ("/test-errors/503/", 503)])
def test_the_failure_pages_render_even_without_a_static_manifest(production_like, path, status):
    """Under production's hashed static files a missing manifest must not break the error page itself."""
    production_like.STORAGES = {
        **production_like.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"},
    }
    response = Client(raise_request_exception=False).get(path)
    assert response.status_code == status
    assert f'data-status="{status}"' in response.content.decode()
