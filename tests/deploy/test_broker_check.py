"""The deploy check (run by compose's migrate step) warns when the broker's Redis may evict
keys: a real redis-server of the test's own, configured each way."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from tests.deploy.stack import ROOT, SECRET_KEY, port_open, stop, wait_for

PORT = 8120


def deploy_check_with_broker(policy: str) -> subprocess.CompletedProcess:
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed")
    assert not port_open(PORT), f"port {PORT} is taken"
    redis = subprocess.Popen(
        ["redis-server", "--port", str(PORT), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--maxmemory", "64mb", "--maxmemory-policy", policy],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for(lambda: port_open(PORT), 10, "redis-server to listen")
        env = {
            "PATH": "/usr/bin:/bin",
            "DJANGO_SETTINGS_MODULE": "portal.settings.production",
            "SECRET_KEY": SECRET_KEY,
            "ALLOWED_HOSTS": "portal.example.kr",
            "PORTAL_BASE_URL": "https://portal.example.kr",
            "REDIS_URL": f"redis://127.0.0.1:{PORT}/0",
        }
        return subprocess.run(
            [sys.executable, "manage.py", "check", "--deploy"], cwd=ROOT, env=env, capture_output=True, text=True,
            timeout=120,
        )  # fmt: skip
    finally:
        stop(redis)


def test_deploy_check_warns_when_the_broker_evicts_keys():
    result = deploy_check_with_broker("allkeys-lru")
    assert result.returncode == 0  # a warning: the operator is told, the deployment goes on
    assert "portal.W101" in result.stderr
    assert "maxmemory-policy allkeys-lru" in result.stderr


def test_deploy_check_is_quiet_when_the_broker_keeps_keys():
    result = deploy_check_with_broker("noeviction")
    assert (result.returncode, "portal.W101" in result.stderr) == (0, False), result.stderr
