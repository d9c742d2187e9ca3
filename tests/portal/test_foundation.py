"""Issue: the portal's ground — settings modes, auth, roles, navigation, health, audit."""

import json
import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from django.core import mail
from django.urls import reverse

from portal.audit import audit_record, audit_verify_chain
from portal.models import AuditEntry, User
from portal.services import programme_update

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.django_db


def run_manage(*args, env_extra=None):
    # NOTE: the browser tests' async-safety switch must never reach a settings check.
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_ALLOW_ASYNC_UNSAFE")}
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_embedded_settings_load_with_sqlite_and_eager_celery():
    result = run_manage(
        "shell", "-c",
        "from django.conf import settings as s; import json; print(json.dumps([s.DATABASES['default']['ENGINE'], s.CELERY_TASK_ALWAYS_EAGER, s.LANGUAGE_CODE, s.TIME_ZONE]))",
        env_extra={"DJANGO_SETTINGS_MODULE": "portal.settings.local"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [
        "django.db.backends.sqlite3",
        True,
        "ko",
        "Asia/Seoul",
    ]


def test_environment_settings_use_postgresql_and_redis():
    result = run_manage(
        "shell", "-c",
        "from django.conf import settings as s; import json; print(json.dumps([s.DATABASES['default']['ENGINE'], s.CELERY_BROKER_URL, s.CELERY_TASK_ALWAYS_EAGER, s.CACHES['default']['BACKEND']]))",
        env_extra={"DJANGO_SETTINGS_MODULE": "portal.settings.local", "DATABASE_URL": "postgres://u@127.0.0.1:5432/x", "REDIS_URL": "redis://127.0.0.1:6379/3"},
    )  # fmt: skip
    # The shell needs no database connection to print settings.
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [
        "django.db.backends.postgresql",
        "redis://127.0.0.1:6379/3",
        False,
        "portal.cache.FailOpenRedisCache",
    ]


def test_production_settings_pass_check_deploy_without_warnings():
    result = run_manage(
        "check", "--deploy", "--fail-level", "WARNING",
        env_extra={
            "DJANGO_SETTINGS_MODULE": "portal.settings.production",
            "SECRET_KEY": "x" * 20 + "production-secret-key-of-enough-length-and-variety-123!",
            "ALLOWED_HOSTS": "portal.example.kr",
            "PORTAL_BASE_URL": "https://portal.example.kr",
            "DATABASE_URL": "postgres://u@127.0.0.1:5432/x",
            "REDIS_URL": "redis://127.0.0.1:6379/0",
        },
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_run_tasks_in_process():
    result = run_manage(
        "check", "--deploy",
        env_extra={
            "DJANGO_SETTINGS_MODULE": "portal.settings.production",
            "SECRET_KEY": "x" * 20 + "production-secret-key-of-enough-length-and-variety-123!",
            "ALLOWED_HOSTS": "portal.example.kr",
        },
    )  # fmt: skip
    assert result.returncode != 0
    assert "portal.E001" in result.stderr


def test_anonymous_user_is_redirected_to_login(client):
    response = client.get(reverse("portal:home"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_signup_requires_email_verification_and_creates_an_applicant(client):
    response = client.post(
        reverse("account_signup"),
        {"email": "new@startup.example.kr", "username": "newcomer", "password1": "Tall-Mountain-73!", "password2": "Tall-Mountain-73!"},
    )  # fmt: skip
    assert response.status_code == 302
    user = User.objects.get(username="newcomer")
    assert user.role == "applicant"
    assert len(mail.outbox) == 1
    body = mail.outbox[0].body
    path = re.search(r"/accounts/confirm-email/[^/\s]+/", body).group(0)
    assert client.get(reverse("portal:home")).status_code == 302  # not logged in before verifying
    response = client.post(path)
    assert response.status_code == 302
    assert client.get(reverse("portal:home")).status_code == 200


@pytest.mark.parametrize("password", ["short1!", "password1234", "12345678901234", "onlylettersherehere"])
def test_signup_refuses_weak_passwords(client, password):
    response = client.post(
        reverse("account_signup"),
        {"email": "weak@example.kr", "username": "weakling", "password1": password, "password2": password},
    )
    assert response.status_code == 200
    assert not User.objects.filter(username="weakling").exists()


def test_login_and_logout_are_audited_with_address(client, applicant):
    response = client.post(
        reverse("account_login"),
        {"login": applicant.username, "password": "Correct-Horse-42!"},
        REMOTE_ADDR="203.0.113.7",
    )
    assert response.status_code == 302
    entry = AuditEntry.objects.get(action="auth.login")
    assert (entry.actor_id, entry.ip_address, entry.object_id) == (applicant.id, "203.0.113.7", str(applicant.id))


def test_failed_login_is_audited_without_password(client, applicant):
    client.post(
        reverse("account_login"),
        {"login": applicant.username, "password": "wrong-password-1"},
        REMOTE_ADDR="198.51.100.9",
    )
    entry = AuditEntry.objects.get(action="auth.login_failed")
    assert entry.ip_address == "198.51.100.9"
    assert "wrong-password" not in entry.canonical()


def test_spoofed_forwarded_for_does_not_change_the_recorded_address(client, applicant):
    client.post(
        reverse("account_login"),
        {"login": applicant.username, "password": "Correct-Horse-42!"},
        REMOTE_ADDR="203.0.113.7",
        HTTP_X_FORWARDED_FOR="1.2.3.4",
    )
    assert AuditEntry.objects.get(action="auth.login").ip_address == "203.0.113.7"


def test_officer_without_second_factor_is_sent_to_set_it_up(client):
    from tests.factories import UserFactory

    officer = UserFactory(role="officer")
    client.force_login(officer)
    response = client.get(reverse("portal:home"))
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_activate_totp")


def test_officer_with_second_factor_reaches_home(client_for, officer):
    response = client_for(officer).get(reverse("portal:home"))
    assert response.status_code == 200


def test_officer_login_asks_for_totp_code(client, officer):
    response = client.post(reverse("account_login"), {"login": officer.username, "password": "Correct-Horse-42!"})
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_authenticate")


NAV = {
    "applicant": {"portal:home"},
    "reviewer": {"portal:home"},
    "officer": {"portal:home", "portal:programme_list"},
    "admin": {"portal:home", "portal:programme_list", "portal:audit_log", "admin:index"},
}


@pytest.mark.parametrize("role", ["applicant", "reviewer", "officer", "admin"])
def test_each_role_sees_only_its_navigation(client_for, role, request):
    from portal.navigation import NAV_ITEMS

    user = request.getfixturevalue({"admin": "admin_user"}.get(role, role))
    response = client_for(user).get(reverse("portal:home"))
    shown = {item["name"] for item in response.context["nav_items"]}
    allowed = {name for name, _label, roles in NAV_ITEMS if role in roles}
    assert shown <= allowed
    assert NAV[role] <= shown
    others = {name for name, _label, roles in NAV_ITEMS if role not in roles}
    assert not (shown & others)


def test_audit_log_visible_to_administrators_only(client_for, admin_user, officer, applicant):
    audit_record(action="test.event", object_type="test", object_id="1")
    assert client_for(admin_user).get(reverse("portal:audit_log")).status_code == 200
    assert client_for(officer).get(reverse("portal:audit_log")).status_code == 404
    assert client_for(applicant).get(reverse("portal:audit_log")).status_code == 404


def test_home_is_korean_by_default_and_english_after_switch(client_for, applicant, programme):
    c = client_for(applicant)
    korean = c.get(reverse("portal:home")).content.decode()
    assert "본문 바로가기" in korean and 'lang="ko"' in korean
    c.post(reverse("set_language"), {"language": "en", "next": "/"})
    english = c.get(reverse("portal:home")).content.decode()
    assert "Skip to main content" in english and 'lang="en"' in english


def test_home_shows_deadline_in_seoul_time(client_for, applicant, programme):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    programme.opens_at = datetime(2025, 7, 1, 0, 0, tzinfo=ZoneInfo("UTC"))
    programme.closes_at = datetime(2025, 9, 30, 9, 0, tzinfo=ZoneInfo("UTC"))
    programme.save()
    from tests.factories_consortia import ApplicationFactory, ConsortiumFactory

    # The home shows the deadline of the applicant's own application's call.
    ApplicationFactory(consortium=ConsortiumFactory(programme=programme, lead_contact=applicant))
    html = client_for(applicant).get(reverse("portal:home")).content.decode()
    assert "2025-09-30 18:00 KST" in html


def test_model_change_is_audited_with_before_and_after(officer, programme):
    old = programme.closes_at
    new = old + timedelta(days=2)
    programme_update(programme=programme, by=officer, data={"closes_at": new}, reason="system outage")
    entry = AuditEntry.objects.get(action="programme.deadline_change")
    assert entry.actor_id == officer.id
    assert entry.before == {"closes_at": old.isoformat()}
    assert entry.after == {"closes_at": new.isoformat()}
    assert entry.reason == "system outage"


def test_audit_chain_detects_an_edited_entry(officer):
    from django.db import connection

    for i in range(3):
        audit_record(action=f"test.{i}", actor=officer)
    assert audit_verify_chain().ok
    middle = AuditEntry.objects.order_by("id")[1]
    with connection.cursor() as cursor:
        cursor.execute("UPDATE portal_auditentry SET action = %s WHERE id = %s", ["test.forged", middle.id])
    report = audit_verify_chain()
    assert (report.ok, report.first_bad_id) == (False, middle.id)


def test_audit_chain_detects_a_deleted_entry(officer):
    from django.db import connection

    for i in range(3):
        audit_record(action=f"test.{i}", actor=officer)
    ids = list(AuditEntry.objects.order_by("id").values_list("id", flat=True))
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM portal_auditentry WHERE id = %s", [ids[1]])
    report = audit_verify_chain()
    assert (report.ok, report.first_bad_id) == (False, ids[2])


def test_audit_entries_cannot_be_changed_through_the_orm(officer):
    entry = audit_record(action="test.once", actor=officer)
    with pytest.raises(PermissionError):
        entry.save()
    with pytest.raises(PermissionError):
        entry.delete()


def test_healthz_reports_ok_with_in_process_tasks(client, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert {body["database"]["status"], body["broker"]["status"], body["worker"]["status"]} == {"ok"}


def test_healthz_reports_stopped_broker_as_503(client, settings):
    # Port 9 (discard) has no Redis listening: a stopped broker, for real.
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:9/0"
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert (body["status"], body["broker"]["status"], body["worker"]["status"], body["database"]["status"]) == (
        "unhealthy", "down", "down", "ok",
    )  # fmt: skip


def test_seed_demo_is_idempotent_and_prints_json():
    from io import StringIO

    from django.core.management import call_command

    call_command("seed_demo", stdout=StringIO())
    counts = (User.objects.count(),)
    out = StringIO()
    call_command("seed_demo", "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert (User.objects.count(),) == counts
    roles = {account["role"] for account in data["accounts"]}
    assert {"applicant", "reviewer", "officer", "admin"} <= roles
    assert isinstance(data["programme_id"], int)


def test_docker_compose_has_the_production_services_with_healthchecks():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"web", "worker", "beat", "db", "redis"} <= set(services)
    assert all("healthcheck" in services[name] for name in ("web", "worker", "beat", "db", "redis"))
    assert "gunicorn" in services["web"]["command"]
    assert "celery" in services["worker"]["command"] and "beat" in services["beat"]["command"]
    assert (ROOT / "Dockerfile").exists()


def test_korean_catalogue_has_no_untranslated_entry():
    po = (ROOT / "locale" / "ko" / "LC_MESSAGES" / "django.po").read_text(encoding="utf-8")
    entries = po.split("\n\n")[1:]
    empty = [e for e in entries if 'msgstr ""' in e.splitlines()[-1] or 'msgstr[0] ""' in e]
    assert empty == []


def test_api_schema_and_docs_are_served_without_external_assets(client_for, applicant):
    c = client_for(applicant)
    schema = c.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/programmes/" in schema.content
    docs = c.get("/api/docs/").content.decode()
    assert "swagger-ui" in docs
    assert "cdn." not in docs and "https://" not in docs.split("<body")[0]


def test_refused_access_to_another_partys_object_is_audited(client_for, applicant, admin_user):
    from portal.models import AuditEntry

    response = client_for(applicant).get(reverse("portal:audit_log"), REMOTE_ADDR="203.0.113.20")
    assert response.status_code == 404
    entry = AuditEntry.objects.get(action="access.refused")
    assert (entry.actor_id, entry.object_repr, entry.after, entry.ip_address) == (
        applicant.id, reverse("portal:audit_log"), {"method": "GET"}, "203.0.113.20",
    )  # fmt: skip
