"""Fixtures shared by the whole suite: users per role, logged-in clients, a real Celery worker."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from tests.factories import ProgrammeFactory, UserFactory

ROOT = Path(__file__).resolve().parent.parent


def _with_totp(user):
    from allauth.mfa.totp.internal.auth import TOTP

    TOTP.activate(user, "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
    return user


@pytest.fixture(scope="session", autouse=True)
def notice_signing_key(tmp_path_factory):
    """A test CA and award-notice signing certificate made for this test session (never a
    file of the repository), given to in-process code through the settings and to worker
    processes a test starts through the environment (``start_worker`` passes it on)."""
    from types import SimpleNamespace

    from django.conf import settings

    from awards.signing import make_test_pki, write_signing_files

    directory = tmp_path_factory.mktemp("notice-signing")
    ca_key, ca, key, cert = make_test_pki(
        ca_name="TEST IAFM Root CA", signer_name="TEST Award Notice Signing", organisation="TEST 과학기술정보통신부"
    )
    paths = write_signing_files(directory, ca_cert=ca, signer_key=key, signer_cert=cert, passphrase=b"test-only")
    values = {
        "NOTICE_SIGNING_KEY_FILE": str(paths["key_file"]),
        "NOTICE_SIGNING_PASSPHRASE_FILE": str(paths["passphrase_file"]),
        "NOTICE_SIGNING_TRUST_ROOTS": str(paths["trust_roots"]),
        "NOTICE_SIGNING_PASSPHRASE": "",
        "NOTICE_SIGNING_CERT_FILE": "",
        "NOTICE_TSA_URL": "",
    }
    for name, value in values.items():
        setattr(settings, name, value)
        os.environ[name] = value
    return SimpleNamespace(**paths, ca=ca, ca_key=ca_key, cert=cert, key=key)


@pytest.fixture(autouse=True)
def _not_inside_a_task():
    """Celery keeps one process-wide "inside a task" flag, and an eager task sets it and
    puts back what it found. Two eager tasks overlapping in two threads (a threaded test
    server, a concurrency test) can therefore leave it set, after which a test that waits
    for a real worker's result is refused as if it were a task. The test process is never
    a task, so each test starts with the flag cleared."""
    from celery.result import _set_task_join_will_block

    _set_task_join_will_block(False)


@pytest.fixture
def applicant(db):
    return UserFactory(role="applicant")


@pytest.fixture
def reviewer(db):
    return UserFactory(role="reviewer")


@pytest.fixture
def officer(db):
    return _with_totp(UserFactory(role="officer"))


@pytest.fixture
def admin_user(db):
    return _with_totp(UserFactory(role="admin", is_staff=True, is_superuser=True))


@pytest.fixture
def programme(db):
    return ProgrammeFactory()


def mark_reauthenticated(client, user) -> None:
    """Record in the client's session that ``user`` just re-entered their password, as the
    re-authentication page does (tests of that page itself use a client without it)."""
    from allauth.account.internal.flows.login import (
        _AUTHENTICATION_METHODS_USER_SESSION_KEY,
        AUTHENTICATION_METHODS_SESSION_KEY,
    )

    session = client.session
    session[_AUTHENTICATION_METHODS_USER_SESSION_KEY] = str(user.pk)
    session[AUTHENTICATION_METHODS_SESSION_KEY] = [{"method": "password", "at": time.time(), "reauthenticated": True}]
    session.save()


def token_client(user):
    """A DRF APIClient with the user's token that sends, with every request, the user's
    authenticator code (``X-OTP``), as an officer's script does for the actions that need a
    fresh proof (portal/reauth.py).

    The portal accepts each code once (the current step's or the previous step's), so for a
    write the client sends the code of a step this user has not spent yet, exactly as a
    person reads the next code off the app; when both are spent it waits for the next step
    (at most 30 s), like that person would. Nothing about the check is bypassed.
    """
    from allauth.mfa import app_settings
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    from portal.totp import ACCEPTED_STEPS, totp_code, totp_secret, totp_step, totp_steps_used

    secret = totp_secret(user)  # read once: query counts measured around reads stay the page's own

    def unspent_code() -> str:
        while True:
            spent, now = totp_steps_used(user), totp_step()
            for step in range(now, now - ACCEPTED_STEPS, -1):
                if step not in spent:
                    return totp_code(secret, step)
            time.sleep((now + 1) * app_settings.TOTP_PERIOD - time.time() + 0.05)

    class OtpAPIClient(APIClient):
        def request(self, **kwargs):
            if secret:
                write = kwargs.get("REQUEST_METHOD", "GET") not in ("GET", "HEAD", "OPTIONS")
                kwargs.setdefault("HTTP_X_OTP", unspent_code() if write else totp_code(secret))
            return super().request(**kwargs)

    token, _ = Token.objects.get_or_create(user=user)
    c = OtpAPIClient()
    c.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return c


@pytest.fixture
def client_for(client):
    """``client_for(user)`` returns a test client logged in as ``user`` (2FA satisfied for
    staff, recently re-authenticated unless ``reauthenticated=False``)."""
    from django.test import Client

    def make(user, *, reauthenticated: bool = True):
        c = Client()
        c.force_login(user)
        if reauthenticated:
            mark_reauthenticated(c, user)
        return c

    return make


@pytest.fixture
def api_for():
    """``api_for(user)`` returns a DRF APIClient authenticated with the user's token (see ``token_client``)."""
    return token_client


def redis_url() -> str:
    return os.environ.get("REDIS_URL", "")


requires_redis = pytest.mark.skipif(
    not redis_url(), reason="REDIS_URL is not set: no broker to run a real Celery worker on"
)


def database_url_for_worker() -> str | None:
    """A DATABASE_URL pointing at the current test database (PostgreSQL only)."""
    from django.db import connection

    s = connection.settings_dict
    if connection.vendor != "postgresql":
        return None
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    return f"postgres://{s['USER']}{password}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def start_worker(*, extra_env: dict | None = None, queues: str = "celery") -> subprocess.Popen:
    """Start a real Celery worker process on the configured Redis broker.

    For debugging, ``WORKER_LOG=/path`` collects the worker's log and ``WORKER_LOGLEVEL``
    sets its level (default WARNING).
    """
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings.test",
        "CELERY_TASK_ALWAYS_EAGER": "0",
        **(extra_env or {}),
    }
    db_url = database_url_for_worker()
    if db_url:
        env["DATABASE_URL"] = db_url
    cmd = [sys.executable, "-m", "celery", "-A", "portal", "worker", "--pool=solo", "--concurrency=1",
           "--without-gossip", "--without-mingle", "--loglevel=" + os.environ.get("WORKER_LOGLEVEL", "WARNING"), "-Q", queues]  # fmt: skip
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(os.environ["WORKER_LOG"], "ab") if os.environ.get("WORKER_LOG") else subprocess.DEVNULL,
    )
    from portal.celery import app

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the Celery worker exited at start")
        replies = app.control.inspect(timeout=0.5).ping() or {}
        if replies:
            return proc
        time.sleep(0.3)
    proc.kill()
    raise RuntimeError("the Celery worker did not answer within 30 s")


@contextmanager
def real_worker(settings, **extra_env: str):
    """Run tasks on a real worker process (not in-process) inside the block."""
    from portal.celery import app

    settings.CELERY_TASK_ALWAYS_EAGER = False
    app.conf.task_always_eager = False
    app.control.purge()
    proc = start_worker(extra_env=extra_env)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        app.conf.task_always_eager = True


@pytest.fixture
def celery_worker_process(transactional_db, settings):
    """A real worker for the duration of one test; tasks go through Redis."""
    if not redis_url():
        pytest.skip("REDIS_URL is not set: no broker to run a real Celery worker on")
    with real_worker(settings) as proc:
        yield proc


@pytest.fixture
def past_deadline_programme(db):
    return ProgrammeFactory(closes_at=timezone.now() - timedelta(hours=1))
