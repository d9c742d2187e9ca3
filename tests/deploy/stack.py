"""The production shape on this machine: the commands of ``docker-compose.yml`` run as local
processes with production settings, on a fresh PostgreSQL database, the shared Redis (its
own DB number), an S3-compatible store (SeaweedFS) and nginx rendering the proxy's template.
Each process is started by the test and stopped by its PID with bounded waits."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import yaml

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
HOST = "portal.example.kr"
SECRET_KEY = "stack-test-" + "k3y-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJ"
# What nginx sends as X-Request-Start-Secret and the portal expects (portal/received.py).
STAMP_SECRET = "stack-test-stamp-" + "0123456789abcdefghijklmnop"
S3_KEY, S3_SECRET, S3_BUCKET = "portalstack", "portal-stack-secret-0123456789", "portal-stack"
# Ports of this suite's servers (8100-8199).
PROXY_HTTP, PROXY_HTTPS, PROXY_STATUS = 8100, 8101, 8102
WEB_PORTS = (8110, 8111)
S3_PORTS = dict(zip(("master", "master.grpc", "volume", "volume.grpc", "filer", "filer.grpc", "s3", "s3.grpc",
                     "admin", "admin.grpc", "s3.iceberg", "s3.lance"), range(8150, 8162), strict=True))  # fmt: skip


def wait_for(predicate, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {seconds} s waiting for {what}")


def port_open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


def stop(proc: subprocess.Popen | None, *, sig: int = signal.SIGTERM) -> None:
    """Stop one process we started, by its PID: the signal, then at most 15 s, then SIGKILL."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


# --- docker-compose.yml, read as compose reads it --------------------------------------------


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


def command_argv(command) -> list[str]:
    """A service's ``command`` as the argv compose gives the container."""
    return list(command) if isinstance(command, list) else shlex.split(command)


def healthcheck_argv(service: str) -> list[str]:
    """A service's healthcheck ``test`` as the argv docker runs inside the container."""
    test = compose()["services"][service]["healthcheck"]["test"]
    kind, rest = test[0], test[1:]
    unescape = [part.replace("$$", "$") for part in rest]  # compose's escape for a literal $
    if kind == "CMD":
        return unescape
    assert kind == "CMD-SHELL", test
    return ["sh", "-c", unescape[0]]


# --- PostgreSQL and Redis of this run ---------------------------------------------------------


def database_urls() -> tuple[str, str]:
    """(the server's maintenance URL, this stack's own fresh database URL)."""
    base = urlsplit(os.environ["DATABASE_URL"])
    name = (base.path.lstrip("/") or "portal") + "_stack"
    return urlunsplit(base._replace(path="/postgres")), urlunsplit(base._replace(path="/" + name))


def recreate_database(admin_url: str, url: str) -> None:
    import psycopg2

    name = urlsplit(url).path.lstrip("/")
    connection = psycopg2.connect(admin_url)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{name}"')
    connection.close()


def drop_database(admin_url: str, url: str) -> None:
    import psycopg2

    connection = psycopg2.connect(admin_url)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{urlsplit(url).path.lstrip("/")}" WITH (FORCE)')
    connection.close()


# --- The S3 store -----------------------------------------------------------------------------


class SeaweedS3:
    """``weed mini`` (SeaweedFS: master, volume, filer and S3 gateway in one process) with
    one access key and the bucket made at start."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.proc: subprocess.Popen | None = None
        self.url = f"http://127.0.0.1:{S3_PORTS['s3']}"

    def start(self) -> None:
        taken = [port for port in S3_PORTS.values() if port_open(port)]
        if taken:
            raise RuntimeError(f"ports {taken} are taken")
        (self.workdir / "data").mkdir(parents=True, exist_ok=True)
        flags = [f"-{name}.port={port}" if "." not in name else f"-{name.replace('.', '.port.', 1)}={port}"
                 for name, port in S3_PORTS.items()]  # fmt: skip
        env = {**os.environ, "AWS_ACCESS_KEY_ID": S3_KEY, "AWS_SECRET_ACCESS_KEY": S3_SECRET, "S3_BUCKET": S3_BUCKET}
        self.proc = subprocess.Popen(
            [str(VENV_BIN / "weed"), "mini", f"-dir={self.workdir / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
             "-admin.ui=false", "-webdav=false", *flags],
            cwd=self.workdir, env=env, stdout=subprocess.DEVNULL, stderr=open(self.workdir / "weed.log", "ab"),
        )  # fmt: skip
        wait_for(lambda: self.bucket_ready(), 30, "the S3 store and its bucket")

    def client(self, secret: str = S3_SECRET):
        import boto3

        return boto3.client("s3", endpoint_url=self.url, aws_access_key_id=S3_KEY, aws_secret_access_key=secret,
                            region_name="us-east-1")  # fmt: skip

    def bucket_ready(self) -> bool:
        try:
            return S3_BUCKET in [b["Name"] for b in self.client().list_buckets()["Buckets"]]
        except Exception:  # noqa: BLE001 -- not up yet
            return False

    def keys(self) -> list[str]:
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=S3_BUCKET)
        return [item["Key"] for page in pages for item in page.get("Contents", [])]

    def stop(self) -> None:
        stop(self.proc)


# --- nginx with the compose proxy's template --------------------------------------------------


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for HOST and 127.0.0.1 (what an operator's CA would issue)."""
    cert, key = directory / "fullchain.pem", directory / "privkey.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={HOST}",
         "-addext", f"subjectAltName=DNS:{HOST},IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


def render_proxy_template(variables: dict[str, str]) -> str:
    """What the nginx image's entrypoint does: replace ``${PROXY_*}`` only."""
    text = (ROOT / "deploy" / "nginx" / "templates" / "portal.conf.template").read_text(encoding="utf-8")

    def replace(match):
        return variables[match.group(1)]

    return re.sub(r"\$\{(PROXY_[A-Z_]+)\}", replace, text)


class Nginx:
    def __init__(self, workdir: Path, *, upstream: str, document_root: Path):
        self.workdir = workdir
        self.proc: subprocess.Popen | None = None
        self.upstream = upstream
        self.document_root = document_root
        self.cert: Path | None = None

    @property
    def body_dir(self) -> Path:
        """Where nginx keeps the upload bodies it hands to the web processes (PROXY_BODY_DIR)."""
        return self.workdir / "bodies"

    def start(self) -> None:
        for port in (PROXY_HTTP, PROXY_HTTPS, PROXY_STATUS):
            if port_open(port):
                raise RuntimeError(f"port {port} is taken")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.body_dir.mkdir(exist_ok=True)
        self.cert, key = make_certificate(self.workdir)
        # The compose service's environment, with this machine's ports and paths.
        variables = {**compose()["services"]["proxy"]["environment"]}
        variables.update(
            PROXY_UPSTREAM=self.upstream, PROXY_SERVER_NAME=HOST, PROXY_HTTP_PORT=str(PROXY_HTTP),
            PROXY_HTTPS_PORT=str(PROXY_HTTPS), PROXY_STATUS_PORT=str(PROXY_STATUS),
            PROXY_TLS_CERTIFICATE=str(self.cert), PROXY_TLS_CERTIFICATE_KEY=str(key),
            PROXY_MAX_BODY_SIZE="25m", PROXY_DOCUMENT_ROOT=str(self.document_root),
            PROXY_STAMP_SECRET=STAMP_SECRET, PROXY_BODY_DIR=str(self.body_dir),
        )  # fmt: skip
        (self.workdir / "portal.conf").write_text(render_proxy_template(variables), encoding="utf-8")
        w = self.workdir
        # The image's own nginx.conf, reduced to what matters: its http block includes conf.d.
        (w / "nginx.conf").write_text(
            ""
            # NOTE: run by root, nginx's workers would be "nobody", who cannot read the test's folders.
            + ("user root root;\n" if os.geteuid() == 0 else "")
            + f"pid {w}/nginx.pid;\nerror_log {w}/error.log warn;\nworker_processes 1;\n"
            "events { worker_connections 256; }\n"
            "http {\n  include /etc/nginx/mime.types;\n  default_type application/octet-stream;\n"
            f"  access_log {w}/access.log;\n  client_body_temp_path {w}/body;\n  proxy_temp_path {w}/proxy;\n"
            f"  fastcgi_temp_path {w}/fastcgi;\n  uwsgi_temp_path {w}/uwsgi;\n  scgi_temp_path {w}/scgi;\n"
            f"  include {w}/portal.conf;\n}}\n",
            encoding="utf-8",
        )
        check = subprocess.run(["nginx", "-t", "-p", str(w), "-c", str(w / "nginx.conf")], capture_output=True, text=True, timeout=30)  # fmt: skip
        assert check.returncode == 0, check.stderr
        self.proc = subprocess.Popen(
            ["nginx", "-p", str(w), "-c", str(w / "nginx.conf"), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL, stderr=open(w / "nginx.stderr", "ab"),
        )  # fmt: skip
        wait_for(lambda: port_open(PROXY_HTTPS), 15, "nginx to listen")

    def stop(self) -> None:
        stop(self.proc, sig=signal.SIGQUIT)  # nginx's graceful shutdown


# --- The portal's processes -------------------------------------------------------------------


@dataclass
class Portal:
    """The environment every portal process of the stack gets (the compose ``x-portal-env``
    with this machine's addresses), and the processes started with it."""

    workdir: Path
    database_url: str
    redis_url: str
    s3_url: str
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    def env(self, **extra: str) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "PYTEST_"))}
        env.update({
            "DJANGO_SETTINGS_MODULE": "portal.settings.production",
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "SECRET_KEY": SECRET_KEY,
            "ALLOWED_HOSTS": HOST,
            "PORTAL_BASE_URL": f"https://{HOST}",
            "TRUSTED_PROXY_COUNT": "1",
            "RECEIVED_STAMP_SECRET": STAMP_SECRET,
            # Mail stays in the process: nothing here listens for SMTP.
            "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
            "STORAGE_BACKEND": "s3",
            "AWS_S3_ENDPOINT_URL": self.s3_url,
            "AWS_STORAGE_BUCKET_NAME": S3_BUCKET,
            "AWS_ACCESS_KEY_ID": S3_KEY,
            "AWS_SECRET_ACCESS_KEY": S3_SECRET,
            "STATIC_ROOT": str(self.workdir / "static"),
            # Were a file to reach the local disk instead of the store, it would land here.
            "MEDIA_ROOT": str(self.workdir / "media"),
            "PATH": f"{VENV_BIN}:{env.get('PATH', '/usr/bin:/bin')}",
            "HOSTNAME": socket.gethostname(),
            "PYTHONUNBUFFERED": "1",
        })  # fmt: skip
        env.update(extra)
        return env

    def run(self, argv: list[str], *, timeout: float = 120, **extra: str) -> subprocess.CompletedProcess:
        return subprocess.run(argv, cwd=ROOT, env=self.env(**extra), capture_output=True, text=True, timeout=timeout)

    def manage(self, *args: str, timeout: float = 120, **extra: str) -> subprocess.CompletedProcess:
        return self.run([sys.executable, "manage.py", *args], timeout=timeout, **extra)

    def start(self, name: str, argv: list[str], **extra: str) -> subprocess.Popen:
        log = open(self.workdir / f"{name}.log", "ab")
        proc = subprocess.Popen(argv, cwd=ROOT, env=self.env(**extra), stdout=log, stderr=subprocess.STDOUT)
        self.processes[name] = proc
        return proc

    def log(self, name: str) -> str:
        return (self.workdir / f"{name}.log").read_text(encoding="utf-8", errors="replace")

    def stop_all(self) -> None:
        for proc in self.processes.values():
            stop(proc)


def seed_json(result: subprocess.CompletedProcess) -> dict:
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout[result.stdout.index("{") :])


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's ``${NAME}`` and ``${NAME:-default}`` substitution."""

    def replace(match):
        name, default = match.group(1), match.group(3)
        return env.get(name) or (default if default is not None else "")

    return re.sub(r"\$\{(\w+)(:-([^}]*))?\}", replace, text)


def service_argv(service: str, env: dict[str, str]) -> list[str]:
    """The service's command, interpolated as compose would with ``env``."""
    command = compose()["services"][service]["command"]
    if isinstance(command, list):
        return [interpolate(part, env) for part in command]
    return shlex.split(interpolate(command, env))
