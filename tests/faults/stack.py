"""Real processes for the degradation tests: a Redis of the test's own (restartable, keeps
nothing on disk), a Celery worker and beat on it, and a tiny SMTP server that can answer
421 or stop listening. Each is started and killed by its PID."""

from __future__ import annotations

import email
import email.policy
import os
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def wait_for(predicate, seconds: float, what: str = "the condition"):
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


class Redis:
    """``redis-server --save "" --appendonly no`` on a fixed port: a restart starts empty."""

    def __init__(self, port: int):
        self.port = port
        self.proc: subprocess.Popen | None = None
        self.url = f"redis://127.0.0.1:{port}/0"

    def start(self) -> None:
        if port_open(self.port):
            raise RuntimeError(f"port {self.port} is taken")
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for(lambda: port_open(self.port), 10, "redis-server to listen")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()  # SIGKILL: whatever it held in memory is gone
            self.proc.wait(timeout=10)

    def queue_length(self, queue: str = "celery") -> int:
        import redis

        return redis.Redis(port=self.port, socket_connect_timeout=1).llen(queue)


def point_celery_at(url: str) -> None:
    """Re-point this process's Celery app (the publisher) at another broker."""
    from kombu import pools

    from portal.celery import app

    app.conf.broker_url = url
    app.conf.result_backend = url
    app.conf.task_always_eager = False
    # NOTE: kombu keeps connection pools in a global registry keyed by broker; reset it so
    # neither broker's pool is reused closed, then let Celery build fresh pools lazily.
    pools.reset()
    app._pool = None
    app.amqp._producer_pool = None
    app.__dict__.pop("backend", None)
    app._local.__dict__.clear()


def celery_process(kind: str, *, env: dict, log: Path, workdir: Path) -> subprocess.Popen:
    """``celery worker`` (``solo`` pool, or ``prefork``: a parent and one child, in a process
    group of their own so that a test can kill the whole worker) or ``celery beat``, with
    the test settings and ``env``."""
    full_env = {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings.test", "CELERY_TASK_ALWAYS_EAGER": "0", **env}
    if kind in ("worker", "prefork"):
        pool = ["--pool=prefork", "--concurrency=1"] if kind == "prefork" else ["--pool=solo"]
        args = ["worker", *pool, "--without-gossip", "--without-mingle", "--without-heartbeat"]
    else:
        # NOTE: the file scheduler: the schedule is the settings' (shortened by env), not the database's.
        args = ["beat", "-S", "celery.beat:PersistentScheduler", "-s", str(workdir / "beat-schedule")]
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "portal", *args, "--loglevel=INFO"],
        cwd=ROOT, env=full_env, stdout=subprocess.DEVNULL, stderr=open(log, "ab"), start_new_session=True,
    )  # fmt: skip


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL a process and every process of its group (a worker's pool children too)."""
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


def stop(proc: subprocess.Popen | None, *, kill: bool = False) -> None:
    if proc is None or proc.poll() is not None:
        return
    if kill:
        proc.kill()
    else:
        proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def worker_ready() -> bool:
    from portal.celery import app

    try:
        return bool(app.control.inspect(timeout=0.5).ping())
    except Exception:  # noqa: BLE001 -- not up yet
        return False


class Stack:
    """A Redis of the test's own on ``redis_port``, this process publishing to it, and the
    worker and beat processes started on it (killed at the end by :meth:`close`)."""

    def __init__(self, tmp_path, settings, *, redis_port: int, env: dict):
        from tests.conftest import database_url_for_worker

        self.tmp = tmp_path
        self.redis = Redis(redis_port)
        self.workers: list[subprocess.Popen] = []
        self.beat: subprocess.Popen | None = None
        self.log = tmp_path / "worker.log"
        self.env = {"REDIS_URL": self.redis.url, "DATABASE_URL": database_url_for_worker(), **env}
        settings.CELERY_TASK_ALWAYS_EAGER = False

    def start(self) -> Stack:
        self.redis.start()
        point_celery_at(self.redis.url)
        return self

    def start_worker(self, kind: str = "worker", **env: str) -> subprocess.Popen:
        proc = celery_process(kind, env={**self.env, **env}, log=self.log, workdir=self.tmp)
        self.workers.append(proc)
        wait_for(worker_ready, 40, "the worker to answer")
        return proc

    def start_beat(self) -> subprocess.Popen:
        self.beat = celery_process("beat", env=self.env, log=self.tmp / "beat.log", workdir=self.tmp)
        return self.beat

    def close(self) -> None:
        for proc in [self.beat, *self.workers]:
            if proc is not None and proc.poll() is None:
                kill_group(proc)
        self.redis.kill()


@contextmanager
def own_stack(tmp_path, settings, *, redis_port: int, env: dict):
    """A :class:`Stack`; this process's Celery app is pointed back at its broker afterwards."""
    import shutil

    from django.db import connection

    if connection.vendor != "postgresql" or not shutil.which("redis-server"):
        import pytest

        pytest.skip("needs PostgreSQL (DATABASE_URL) and redis-server for real worker processes")
    from portal.celery import app

    original = (app.conf.broker_url, app.conf.result_backend, app.conf.task_always_eager)
    stack = Stack(tmp_path, settings, redis_port=redis_port, env=env)
    try:
        yield stack.start()
    finally:
        stack.close()
        point_celery_at(original[0])
        app.conf.result_backend, app.conf.task_always_eager = original[1], original[2]


class SmtpServer:
    """A tiny SMTP server in a thread of the test. ``mode``: ``accept``; ``busy`` (answers
    ``421`` at the greeting, as a server under load does); ``stop_listening()`` closes the
    port so that connections are refused. ``received`` lists each accepted message's
    ``(subject, recipients)``."""

    def __init__(self, port: int):
        self.port = port
        self.mode = "accept"
        self.received: list[tuple[str, tuple[str, ...]]] = []
        self.refused = 0
        self.lock = threading.Lock()
        self._server: socketserver.ThreadingTCPServer | None = None

    def listen(self) -> None:
        owner = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                owner._session(self.rfile, self.wfile)

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop_listening(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def subjects(self) -> list[str]:
        with self.lock:
            return [subject for subject, _to in self.received]

    def _session(self, rfile, wfile) -> None:
        if self.mode == "busy":
            with self.lock:
                self.refused += 1
            wfile.write(b"421 4.3.2 Service not available, closing transmission channel\r\n")
            return
        wfile.write(b"220 tiny.example.kr ESMTP\r\n")
        recipients: list[str] = []
        while True:
            line = rfile.readline()
            if not line:
                return
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                wfile.write(b"250 tiny.example.kr\r\n")
            elif verb == b"MAIL":
                recipients = []
                wfile.write(b"250 2.1.0 OK\r\n")
            elif verb == b"RCPT":
                recipients.append(line.split(b":", 1)[1].strip().strip(b"<>").decode())
                wfile.write(b"250 2.1.5 OK\r\n")
            elif verb == b"DATA":
                wfile.write(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                body = []
                while (chunk := rfile.readline()) not in (b".\r\n", b".\n", b""):
                    body.append(chunk[1:] if chunk.startswith(b"..") else chunk)
                message = email.message_from_bytes(b"".join(body), policy=email.policy.default)
                with self.lock:
                    self.received.append((str(message["Subject"]), tuple(recipients)))
                wfile.write(b"250 2.0.0 queued\r\n")
            elif verb == b"QUIT":
                wfile.write(b"221 2.0.0 Bye\r\n")
                return
            elif verb in (b"RSET", b"NOOP"):
                wfile.write(b"250 2.0.0 OK\r\n")
            else:
                wfile.write(b"502 5.5.2 Command not recognised\r\n")


class TcpProxy:
    """A TCP relay in a thread of the test, from ``port`` to ``target``: :meth:`cut` closes
    the listening socket and every relayed connection (the server behind it becomes
    unreachable, its sessions end), :meth:`restore` listens again."""

    def __init__(self, port: int, target: tuple[str, int]):
        self.port = port
        self.target = target
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            # NOTE: close() alone leaves a thread blocked in accept() holding the socket,
            # which would still accept one connection; shutdown() wakes it up first.
            try:
                listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            listener.close()
        with self._lock:
            sockets, self._open = self._open, set()
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _address = listener.accept()
            except OSError:
                return  # cut
            if self._listener is not listener:
                client.close()  # accepted as it was being cut
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._open.update((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def web_server(*, port: int, env: dict, log: Path) -> subprocess.Popen:
    """gunicorn serving the portal (test settings, ``env``) on 127.0.0.1:``port``."""
    full_env = {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings.test", "LOG_LEVEL": "INFO", **env}
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "portal.wsgi:application", "--bind", f"127.0.0.1:{port}",
         "--workers", "1", "--threads", "4", "--timeout", "60"],
        cwd=ROOT, env=full_env, stdout=subprocess.DEVNULL, stderr=open(log, "ab"), start_new_session=True,
    )  # fmt: skip


def http_get(port: int, path: str, *, headers: dict | None = None, timeout: float = 15.0) -> tuple[int, dict, bytes]:
    """(status, headers, body) of a GET to 127.0.0.1:``port``, whatever the status."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()
