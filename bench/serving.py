"""The production shape for the rush benchmarks (``surge.py``, ``uploads.py``): gunicorn with
``deploy/gunicorn.conf.py`` behind nginx, which stamps every request's received time exactly as
``deploy/nginx/templates/portal.conf.template`` does; a raw asyncio HTTP client; the web
workers' peak memory read from ``/proc``."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = str(Path(sys.executable).parent / "gunicorn")
#: The attachment uploads (API and page), as the deploy template's upload location names them.
UPLOAD_LOCATIONS = "^/(api/v1|consortia)/applications/[0-9]+/attachments/$"


def wait_until_up(port: int, proc: subprocess.Popen, what: str, seconds: float = 90) -> None:
    """Until ``port`` answers a page (any status: /healthz may say 503 without a Celery worker)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited with {proc.returncode}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/", timeout=20)  # noqa: S310 -- loopback
            return
        except urllib.error.HTTPError:  # answering
            return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"{what} did not start")


@dataclass
class Stack:
    """gunicorn on ``port + 1`` and (``proxy``) nginx on ``port`` in front of it."""

    env: dict
    port: int
    workers: int = 2
    threads: int = 8
    proxy: bool = True
    workdir: Path | None = None
    handover: bool = True
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    procs: list = field(default_factory=list)

    @property
    def url_port(self) -> int:
        return self.port if self.proxy else self.port + 1

    def start(self) -> None:
        env = {**self.env, "RECEIVED_STAMP_SECRET": self.secret if self.proxy else ""}
        if self.proxy and self.handover:
            env["PROXY_BODY_DIR"] = str(self.workdir / "body")
        web = subprocess.Popen(
            [GUNICORN, "-c", "deploy/gunicorn.conf.py", "portal.wsgi:application", "--bind",
             f"127.0.0.1:{self.port + 1}", "--workers", str(self.workers), "--threads", str(self.threads),
             "--log-level", "warning", "--access-logfile", "/dev/null"],
            cwd=ROOT, env=env, start_new_session=True,
        )  # fmt: skip
        self.procs.append(web)
        wait_until_up(self.port + 1, web, "gunicorn")
        if self.proxy:
            self._start_nginx()

    def _start_nginx(self) -> None:
        w = self.workdir
        w.mkdir(parents=True, exist_ok=True)
        (w / "body").mkdir(exist_ok=True)
        headers = (
            "      proxy_pass http://portal_web;\n      proxy_http_version 1.1;\n"
            '      proxy_set_header Connection "";\n      proxy_set_header Host $host;\n'
            "      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
            '      proxy_set_header X-Request-Start "t=${msec}";\n'
            f'      proxy_set_header X-Request-Start-Secret "{self.secret}";\n'
            "      proxy_read_timeout 75s;\n"
        )
        # As the deploy template: the attachment uploads' bodies handed over as the file nginx
        # stored them in (portal/uploads.py), and a client's own X-Body-File dropped elsewhere.
        handover = (
            f'    location ~ "{UPLOAD_LOCATIONS}" {{\n'
            + headers
            + "      client_body_in_file_only clean;\n      proxy_pass_request_body off;\n"
            '      proxy_set_header Content-Length "";\n      proxy_set_header X-Body-File $request_body_file;\n'
            "    }\n"
            if self.handover
            else ""
        )
        (w / "nginx.conf").write_text(
            f"pid {w}/nginx.pid;\nerror_log {w}/error.log warn;\nworker_processes auto;\n"
            + ("user root root;\n" if os.geteuid() == 0 else "")
            + "events { worker_connections 4096; }\n"
            "http {\n"
            f"  access_log off;\n  client_body_temp_path {w}/body;\n  proxy_temp_path {w}/proxy;\n"
            f"  fastcgi_temp_path {w}/fastcgi;\n  uwsgi_temp_path {w}/uwsgi;\n  scgi_temp_path {w}/scgi;\n"
            "  sendfile on;\n  client_body_buffer_size 256k;\n"
            f"  upstream portal_web {{ server 127.0.0.1:{self.port + 1}; keepalive 32; keepalive_timeout 4s; }}\n"
            f"  server {{\n    listen 127.0.0.1:{self.port} backlog=4096;\n    client_max_body_size 25m;\n"
            + handover
            + "    location / {\n" + headers + '      proxy_set_header X-Body-File "";\n    }\n  }\n}\n',
            encoding="utf-8",
        )  # fmt: skip
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        proc = subprocess.Popen(
            [nginx, "-p", str(w), "-c", str(w / "nginx.conf"), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL, stderr=open(w / "nginx.stderr", "ab"), start_new_session=True,
        )  # fmt: skip
        self.procs.append(proc)
        wait_until_up(self.port, proc, "nginx")

    def worker_pids(self) -> list[int]:
        master = self.procs[0].pid
        pids = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(fields[1]) == master:
                    pids.append(int(entry.name))
        return pids

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by gunicorn's master and all its descendants
        (workers, PDF inspection servers, checks), with their children that have ended."""
        return tree_cpu_seconds(self.procs[0].pid)

    def proxy_cpu_seconds(self) -> float:
        """The same for nginx (its master and workers); 0 without the proxy."""
        return tree_cpu_seconds(self.procs[1].pid) if self.proxy and len(self.procs) > 1 else 0.0

    def worker_peak_mb(self) -> list[float]:
        """Each web worker's peak resident memory so far (``VmHWM``), in MB."""
        peaks = []
        for pid in self.worker_pids():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            for line in status.splitlines():
                if line.startswith("VmHWM:"):
                    peaks.append(round(int(line.split()[1]) / 1024, 1))
        return peaks

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM if proc is self.procs[0] else signal.SIGQUIT)
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


async def request(
    port: int, method: str, path: str, headers: dict, body: bytes = b"", *, timeout: float = 120
) -> tuple[int, float, bytes, float]:
    """(status, seconds, response body, wall-clock send time); status 0 when the connection failed."""
    started = time.perf_counter()
    sent_at = time.time()
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        writer.write(
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{head}Content-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n".encode()
        )
        if body:
            view = memoryview(body)
            for offset in range(0, len(view), 1 << 20):
                writer.write(view[offset : offset + (1 << 20)])
                await writer.drain()
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), timeout)
        writer.close()
    except (OSError, TimeoutError):
        return 0, time.perf_counter() - started, b"", sent_at
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0
    payload = data.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in data else b""
    return status, time.perf_counter() - started, payload, sent_at


def percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(share * len(ordered))) - 1))]


def ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 1)


class Prober:
    """Other pages during the rush: each path fetched by ``per_path`` loops, one every ``every`` s."""

    def __init__(self, port: int, paths: dict[str, dict], *, every: float = 0.25, per_path: int = 2):
        self.port, self.paths, self.every, self.per_path = port, paths, every, per_path
        self.samples: dict[str, list[tuple[float, int, float]]] = {p: [] for p in paths}
        self.stop = asyncio.Event()

    async def _loop(self, path: str, headers: dict) -> None:
        while not self.stop.is_set():
            status, elapsed, _body, sent = await request(self.port, "GET", path, headers, timeout=30)
            self.samples[path].append((sent, status, elapsed))
            await asyncio.sleep(self.every)

    def start(self) -> list[asyncio.Task]:
        return [
            asyncio.create_task(self._loop(path, headers))
            for path, headers in self.paths.items()
            for _ in range(self.per_path)
        ]

    def report(self, since: float, until: float) -> dict:
        out = {}
        for path, samples in self.samples.items():
            inside = [(s, e) for sent, s, e in samples if since <= sent <= until]
            latencies = [e for s, e in inside if s == 200]
            out[path] = {
                "requests": len(inside), "failed": sum(1 for s, _ in inside if s != 200),
                "p50_ms": ms(percentile(latencies, 0.5)), "p95_ms": ms(percentile(latencies, 0.95)),
            }  # fmt: skip
        return out


def machine_busy_seconds() -> float:
    """CPU time the whole machine has spent busy (all cores, every process), from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(root: int) -> float:
    """CPU time (user + system) used so far by process ``root`` and all its descendants, with
    their children that have ended."""
    return sum(tree_cpu_by_kind(root).values())


def tree_cpu_by_kind(root: int) -> dict[str, float]:
    """``tree_cpu_seconds`` split by what each process is: the PDF inspection servers (with the
    checks they forked) apart from the web workers and the master."""
    parents, tree = {}, {root}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
    while True:  # the master's descendants: workers, the PDF inspection servers, their children
        more = {pid for pid, parent in parents.items() if parent in tree} - tree
        if not more:
            break
        tree |= more
    totals: dict[str, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for pid in tree:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        kind = "pdf checks" if b"pdf_inspect" in command else "processes"
        # utime, stime, cutime, cstime (fields 14–17 of proc(5), 12–15 after the name)
        totals[kind] = totals.get(kind, 0.0) + sum(int(v) for v in fields[11:15]) / tick
    return totals
