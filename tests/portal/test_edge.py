"""The portal's edge: /healthz before the host check and the https redirect, the proxy's
queue time believed only behind a proxy, and collectstatic under production settings."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_healthz_answers_a_host_name_the_portal_does_not_serve(db, client, settings):
    settings.ALLOWED_HOSTS = ["portal.example.kr"]
    settings.SECURE_SSL_REDIRECT = True
    health = client.get("/healthz", HTTP_HOST="127.0.0.1:8000")
    page = client.get("/", HTTP_HOST="127.0.0.1:8000")
    redirected = client.get("/", HTTP_HOST="portal.example.kr")
    assert (health.status_code, health.json()["status"], health["Cache-Control"]) == (200, "ok", "no-store")
    assert (page.status_code, redirected.status_code, redirected["Location"]) == (
        400,
        301,
        "https://portal.example.kr/",
    )


def test_healthz_still_says_503_when_a_part_is_down(db, client, settings):
    settings.ALLOWED_HOSTS = ["portal.example.kr"]
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:9/0"  # nothing listens on the discard port
    response = client.get("/healthz", HTTP_HOST="127.0.0.1:8000")
    assert (response.status_code, response.json()["broker"]["status"]) == (503, "down")


def test_queue_time_is_reported_only_behind_a_trusted_proxy(db, client, settings):
    started = f"t={time.time() - 0.25:.3f}"
    settings.TRUSTED_PROXY_COUNT = 0
    direct = client.get("/accounts/login/", HTTP_X_REQUEST_START=started)
    settings.TRUSTED_PROXY_COUNT = 1
    proxied = client.get("/accounts/login/", HTTP_X_REQUEST_START=started)
    garbage = client.get("/accounts/login/", HTTP_X_REQUEST_START="t=soon")
    assert direct.get("Server-Timing") is None and garbage.get("Server-Timing") is None
    waited = float(proxied["Server-Timing"].removeprefix("queue;dur="))
    assert 250 <= waited < 5000


def test_collectstatic_passes_under_production_settings(tmp_path):
    """The image build and the migrate step run this; a vendored file naming a source map
    that is not shipped makes it fail."""
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "portal.settings.production",
        "SECRET_KEY": "collectstatic-" + "x" * 50,
        "ALLOWED_HOSTS": "portal.example.kr",
        "REDIS_URL": "redis://127.0.0.1:9/0",
        "STATIC_ROOT": str(tmp_path / "static"),
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert (result.returncode, result.stderr) == (0, "")
    chart = sorted((tmp_path / "static" / "vendor" / "chartjs").glob("chart.umd.min.*.js"))
    assert [path.suffix for path in chart] == [".js"]
    assert b"sourceMappingURL" not in chart[0].read_bytes()
    assert (tmp_path / "static" / "staticfiles.json").exists()
