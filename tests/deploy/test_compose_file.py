"""docker-compose.yml as the compose tool and an operator read it. (Each command and
healthcheck in it is run for real by tests/deploy/test_production_stack.py.)"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.deploy.stack import ROOT, compose, healthcheck_argv

REQUIRED = {
    "POSTGRES_PASSWORD": "pg-secret",
    "SECRET_KEY": "k" * 60,
    "AWS_ACCESS_KEY_ID": "a",
    "AWS_SECRET_ACCESS_KEY": "b",
    "RECEIVED_STAMP_SECRET": "s" * 40,
}
LONG_RUNNING = ("proxy", "web", "worker", "beat", "db", "redis", "store")


def compose_tool(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    if shutil.which("docker-compose") is None:
        pytest.fail("docker-compose is not installed: scripts/install_system_packages.sh test installs it")
    clean = {k: v for k, v in os.environ.items() if k not in REQUIRED}
    return subprocess.run(
        ["docker-compose", "-f", str(ROOT / "docker-compose.yml"), *args],
        cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_compose_tool_accepts_the_file_with_its_secrets_set():
    result = compose_tool("config", "-q", env=REQUIRED)
    assert (result.returncode, result.stderr) == (0, "")


def test_compose_tool_refuses_to_start_without_a_secret():
    result = compose_tool("config", "-q", env={k: v for k, v in REQUIRED.items() if k != "SECRET_KEY"})
    assert result.returncode != 0
    assert "set SECRET_KEY" in result.stderr


def test_web_worker_and_beat_wait_for_the_migrate_step_and_restart_unless_stopped():
    services = compose()["services"]
    waits = {name: services[name]["depends_on"]["migrate"]["condition"] for name in ("web", "worker", "beat")}
    assert waits == dict.fromkeys(("web", "worker", "beat"), "service_completed_successfully")
    assert {name: services[name]["restart"] for name in LONG_RUNNING} == dict.fromkeys(LONG_RUNNING, "unless-stopped")
    assert services["migrate"]["restart"] == "no"
    assert "migrate --noinput" in services["migrate"]["command"]
    assert all("migrate" not in services[name]["command"] for name in ("web", "worker", "beat"))


def test_only_the_proxy_is_published_and_it_fronts_the_web_processes():
    services = compose()["services"]
    published = {name for name, service in services.items() if service.get("ports")}
    assert published == {"proxy"}
    assert services["proxy"]["ports"] == ["80:80", "443:443"]
    assert services["proxy"]["environment"]["PROXY_UPSTREAM"] == "web:8000"
    assert services["web"]["environment"]["TRUSTED_PROXY_COUNT"] == "1"


def test_redis_keeps_queued_tasks_under_memory_pressure():
    assert "--maxmemory-policy noeviction" in compose()["services"]["redis"]["command"]


def test_every_long_running_service_has_a_healthcheck_using_what_its_image_has():
    services = compose()["services"]
    assert {name for name in LONG_RUNNING if "healthcheck" in services[name]} == set(LONG_RUNNING)
    # The portal's image installs neither curl nor procps: its checks use python and celery.
    for name in ("web", "worker", "beat"):
        argv = healthcheck_argv(name)
        program = argv[2].split()[0] if argv[0] == "sh" else argv[0]
        assert program in ("python", "celery"), (name, argv)
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "USER portal" in dockerfile


def test_only_the_worker_receives_the_notice_signing_key():
    """SPEC §7 and docs/notices.md: the key never enters the database, the repository or the web process."""
    services = compose()["services"]
    worker = services["worker"]
    assert {s if isinstance(s, str) else s["source"] for s in worker["secrets"]} >= {
        "notice_signing_key",
        "notice_signing_passphrase",
    }
    assert worker["environment"]["NOTICE_SIGNING_KEY_FILE"] == "/run/secrets/notice_signing_key"
    for name, service in services.items():
        if name == "worker":
            continue
        held = {s if isinstance(s, str) else s["source"] for s in service.get("secrets", [])}
        assert "notice_signing_key" not in held and "notice_signing_passphrase" not in held, name
        assert "NOTICE_SIGNING_KEY_FILE" not in (service.get("environment") or {}), name
    assert services["web"]["environment"]["NOTICE_SIGNING_TRUST_ROOTS"] == "/run/secrets/notice_trust_roots"


def test_the_proxy_and_the_web_processes_share_the_folder_of_handed_over_upload_bodies():
    """nginx stores an upload's body and hands the web process its name (portal/uploads.py):
    both must see the same folder, under the same name; the web processes may open the bodies
    for writing, only to give a body's pages back once it is read (portal/stored_multipart.py)."""
    services = compose()["services"]
    folder = services["proxy"]["environment"]["PROXY_BODY_DIR"]
    assert services["web"]["environment"]["PROXY_BODY_DIR"] == folder
    assert f"upload-bodies:{folder}" in services["proxy"]["volumes"]
    assert f"upload-bodies:{folder}" in services["web"]["volumes"]
    assert "upload-bodies" in compose()["volumes"]
    # nginx writes each body readable by its own user only: the image's user is the same id.
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "useradd --create-home --uid 101" in dockerfile


def test_every_line_of_the_dockerfile_is_an_instruction_or_a_comment():
    """The image builds only if each line (continuations joined) is a comment or an
    instruction: a comment wrapped without its ``#`` breaks the build."""
    instructions = {
        "FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME",
        "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL",
    }  # fmt: skip
    continued = False
    for number, line in enumerate((ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines(), 1):
        stripped = line.strip()
        if not continued and stripped and not stripped.startswith("#"):
            assert stripped.split()[0].upper() in instructions, f"Dockerfile line {number}: {line!r}"
        if not stripped.startswith("#"):
            continued = stripped.endswith("\\")
