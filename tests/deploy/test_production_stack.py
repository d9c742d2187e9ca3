"""The production shape, run for real on this machine: the commands of ``docker-compose.yml``
(migrate, two web processes, two Celery workers, beat) with production settings, on a fresh
PostgreSQL database, Redis, an S3-compatible store (SeaweedFS) and nginx with the proxy's
template in front. What an operator and the portal's users get is asserted from outside.

Needs ``DATABASE_URL`` (PostgreSQL) and ``REDIS_URL``, as CI sets them; skipped without.
"""

from __future__ import annotations

import http.cookies
import io
import json
import os
import re
import subprocess
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from tests.deploy import stack
from tests.deploy.stack import HOST, PROXY_HTTP, PROXY_HTTPS, WEB_PORTS

pytestmark = [
    pytest.mark.stack,
    pytest.mark.skipif(
        not os.environ.get("DATABASE_URL", "").startswith("postgres") or not os.environ.get("REDIS_URL"),
        reason="DATABASE_URL (PostgreSQL) and REDIS_URL are not set: no servers for the production stack",
    ),
]

APPLICANT_PASSWORD = "Stack-Applicant-2026!"


class Visitor:
    """A browser's part of HTTP, against the web processes directly, in turn.

    The test stands where the proxy stands: it sends what nginx would send
    (``X-Forwarded-Proto: https``, ``X-Forwarded-For``) and keeps the cookies itself, the
    Secure ones too. Each request goes to the next web process (``served``: which port took
    each request)."""

    def __init__(self, ports=WEB_PORTS):
        self.ports = list(ports)
        self.turn = 0
        self.cookies: dict[str, str] = {}
        self.http = requests.Session()
        self.served: list[int] = []

    def _next_port(self) -> int:
        port = self.ports[self.turn % len(self.ports)]
        self.turn += 1
        return port

    def request(
        self, method: str, path: str, *, data=None, files=None, follow: bool = True, referer: str | None = None
    ):
        port = self._next_port()
        headers = {
            "Host": HOST, "X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7",
            "Accept-Language": "en", "Referer": referer or f"https://{HOST}{path}",
        }  # fmt: skip
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if method == "POST":
            data = {"csrfmiddlewaretoken": self.cookies.get("csrftoken", ""), **(data or {})}
        response = self.http.request(
            method, f"http://127.0.0.1:{port}{path}", headers=headers, data=data, files=files,
            allow_redirects=False, timeout=60,
        )  # fmt: skip
        self.served.append(port)
        for raw in response.raw.headers.getlist("Set-Cookie"):
            jar = http.cookies.SimpleCookie()
            jar.load(raw)
            for name, morsel in jar.items():
                if morsel["max-age"] == "0" or (morsel["expires"] and "1970" in morsel["expires"]):
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        if follow and response.status_code in (301, 302, 303) and "Location" in response.headers:
            location = urlsplit(response.headers["Location"])
            assert location.netloc in ("", HOST), response.headers["Location"]
            return self.request("GET", location.path + (f"?{location.query}" if location.query else ""))
        return response

    def get(self, path: str, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path: str, data=None, **kwargs):
        return self.request("POST", path, data=data, **kwargs)


def log_in(visitor: Visitor, *, username: str, password: str, totp_secret: str | None = None) -> None:
    """The log-in form, then (staff) the authenticator code, as a person fills them in."""
    from portal.totp import totp_code

    assert visitor.get("/accounts/login/").status_code == 200
    response = visitor.post("/accounts/login/", {"login": username, "password": password}, follow=False)
    assert response.status_code == 302, response.text[:2000]
    if "/2fa/authenticate" in response.headers["Location"]:
        assert totp_secret, "a second factor was asked for"
        visitor.get("/accounts/2fa/authenticate/")
        response = visitor.post("/accounts/2fa/authenticate/", {"code": totp_code(totp_secret)}, follow=False)
        assert response.status_code == 302, response.text[:2000]
    assert "/accounts/" not in response.headers["Location"], response.headers["Location"]


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    """The whole stack, started once for this module and stopped (by PID) after it."""
    from portal.celery import app

    workdir = tmp_path_factory.mktemp("stack")
    admin_url, database_url = stack.database_urls()
    stack.recreate_database(admin_url, database_url)
    redis_url = os.environ["REDIS_URL"]
    store = stack.SeaweedS3(workdir / "s3")
    portal = stack.Portal(workdir=workdir, database_url=database_url, redis_url=redis_url, s3_url=store.url)
    proxy = stack.Nginx(workdir / "nginx", upstream=f"127.0.0.1:{WEB_PORTS[0]}", document_root=workdir)
    timings: dict[str, float] = {}
    try:
        store.start()
        started = time.monotonic()
        env = portal.env()
        migrate = portal.run(stack.service_argv("migrate", env), timeout=180, STATIC_ROOT=str(workdir / "static"))
        timings["migrate"] = time.monotonic() - started
        seeded = stack.seed_json(portal.manage("seed_demo", "--json", timeout=180))
        timings["seed_demo"] = time.monotonic() - started - timings["migrate"]
        arranged = portal.run(
            [str(stack.VENV_BIN / "python"), "manage.py", "shell", "-c",
             "import runpy; runpy.run_path('tests/deploy/arrange_stack.py')"],
            STACK_APPLICANT_PASSWORD=APPLICANT_PASSWORD, STACK_DEMO_PROGRAMME=str(seeded["programme_id"]),
        )  # fmt: skip
        assert arranged.returncode == 0, arranged.stderr[-3000:]
        arranged = json.loads(arranged.stdout.strip().splitlines()[-1])
        # No task left queued in this Redis DB by an earlier run (the broker's own keys only).
        import redis

        redis.Redis.from_url(redis_url).delete("celery", "unacked", "unacked_index")
        for index, port in enumerate(WEB_PORTS):
            portal.start(
                f"web{index + 1}", stack.service_argv("web", env), PORT=str(port), WEB_CONCURRENCY="2",
                PROXY_BODY_DIR=str(proxy.body_dir),
            )  # fmt: skip
        worker_argv = stack.service_argv("worker", {**env, "WORKER_CONCURRENCY": "1"})
        portal.start("worker1", worker_argv)
        portal.start("worker2", [*worker_argv, "-n", "worker2@%h"])
        portal.start("beat", stack.service_argv("beat", env))
        for port in WEB_PORTS:
            stack.wait_for(lambda port=port: stack.port_open(port), 60, f"gunicorn on {port}")
        app.conf.broker_url = redis_url
        stack.wait_for(
            lambda: len(app.control.inspect(timeout=1).ping() or {}) >= 2, 60, "both Celery workers to answer"
        )
        proxy.start()
        timings["all"] = time.monotonic() - started
        print("stack start-up (s):", {k: round(v, 1) for k, v in timings.items()})
        yield {
            "portal": portal, "store": store, "proxy": proxy, "seeded": seeded, "arranged": arranged,
            "migrate": migrate, "workdir": workdir, "timings": timings,
        }  # fmt: skip
    finally:
        proxy.stop()
        portal.stop_all()
        store.stop()
        stack.drop_database(admin_url, database_url)


def account(running, username: str) -> dict:
    return next(a for a in running["seeded"]["accounts"] if a["username"] == username)


@pytest.fixture(scope="module")
def signed_in(running):
    """One signed-in visitor per demo role (staff with their second factor), for the module:
    an authenticator code is accepted once, so each account logs in once."""
    visitors = {}
    for username in ("applicant", "reviewer", "officer", "admin"):
        spec = account(running, username)
        visitors[username] = Visitor()
        log_in(visitors[username], username=username, password=spec["password"], totp_secret=spec.get("totp_secret"))
    return visitors


def test_migrate_service_runs_deploy_checks_migrations_and_collectstatic(running):
    migrate = running["migrate"]
    assert migrate.returncode == 0, migrate.stderr[-3000:]
    # collectstatic under production settings (the manifest storage refuses a file naming a
    # missing source map): the vendored files are there under their hashed names.
    manifest = json.loads((running["workdir"] / "static" / "staticfiles.json").read_text())["paths"]
    assert {"vendor/bootstrap/bootstrap.min.css", "vendor/bootstrap/bootstrap.bundle.min.js",
            "vendor/chartjs/chart.umd.min.js"} <= set(manifest)  # fmt: skip
    assert "portal.W101" not in migrate.stderr  # the machine's Redis does not evict keys


def test_healthz_answers_on_the_internal_address_whatever_the_host(running):
    port = WEB_PORTS[0]
    # What a container's own probe sends: Host 127.0.0.1:<port>, plain http, no proxy headers.
    health = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10, allow_redirects=False)
    page = requests.get(f"http://127.0.0.1:{port}/", timeout=10, allow_redirects=False)
    page_via_host = requests.get(f"http://127.0.0.1:{port}/", headers={"Host": HOST}, timeout=10, allow_redirects=False)
    body = health.json()
    assert (health.status_code, body["status"], body["database"]["vendor"], body["broker"]["mode"]) == (
        200, "ok", "postgresql", "redis",
    )  # fmt: skip
    assert body["worker"]["workers"] >= 2
    # Everything else still gets the host check and the https redirect.
    assert (page.status_code, page_via_host.status_code) == (400, 301)
    assert page_via_host.headers["Location"] == f"https://{HOST}/"


def test_proxy_terminates_tls_and_passes_what_the_portal_trusts(running, signed_in):
    cert = str(running["proxy"].cert)
    base = f"https://127.0.0.1:{PROXY_HTTPS}"
    plain = requests.get(
        f"http://127.0.0.1:{PROXY_HTTP}/consortia/", headers={"Host": HOST}, timeout=10, allow_redirects=False
    )
    assert (plain.status_code, plain.headers["Location"]) == (301, f"https://{HOST}/consortia/")
    # A client's own X-Forwarded-For and X-Request-Start are not believed: nginx appends
    # the address it saw and replaces the start time.
    forged = {"Host": HOST, "X-Request-Start": "t=1000000000.000", "X-Forwarded-For": "198.51.100.99"}
    browser = requests.Session()
    sent_at = time.time()
    page = browser.get(f"{base}/accounts/login/", headers=forged, verify=cert, timeout=20)
    assert page.status_code == 200
    # No redirect loop: the portal sees https through X-Forwarded-Proto; HSTS and Secure cookies follow.
    assert page.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert "Secure" in page.headers["Set-Cookie"]
    queue = re.fullmatch(r"queue;dur=([0-9.]+)", page.headers["Server-Timing"])
    assert queue is not None and float(queue.group(1)) < (time.time() - sent_at) * 1000 + 50
    # A log-in through the proxy: the audit trail records the address nginx saw (this test's
    # own connection), not the one the client wrote.
    spec = account(running, "reviewer")
    logged_in = browser.post(
        f"{base}/accounts/login/",
        data={"login": "reviewer", "password": spec["password"], "csrfmiddlewaretoken": browser.cookies["csrftoken"]},
        headers={**forged, "Referer": f"https://{HOST}/accounts/login/"},
        verify=cert, timeout=20, allow_redirects=False,
    )  # fmt: skip
    assert (logged_in.status_code, logged_in.headers["Location"]) == (302, "/")
    audit = signed_in["admin"].get("/audit/?action=auth.login").text  # the log-ins only
    login_rows = [row for row in re.findall(r"<tr>(.*?)</tr>", audit, re.S) if "<td" in row]
    addresses = [re.findall(r"<td>([0-9.]+|—)</td>", row)[-1] for row in login_rows]
    assert addresses[0] == "127.0.0.1", login_rows[0]
    assert "198.51.100.99" not in addresses
    assert "203.0.113.7" in addresses  # the visitors that stand where the proxy stands
    # Directly to gunicorn with no proxy in between, the same header is not a queue time.
    direct = requests.get(
        f"http://127.0.0.1:{WEB_PORTS[1]}/healthz", headers={"X-Request-Start": "t=1000000000.000"}, timeout=10
    )
    assert direct.headers.get("Server-Timing") is None


def test_proxy_serves_static_files_and_limits_upload_size(running):
    cert = str(running["proxy"].cert)
    base = f"https://127.0.0.1:{PROXY_HTTPS}"
    login = requests.get(f"{base}/accounts/login/", headers={"Host": HOST}, verify=cert, timeout=20)
    css = re.search(r'href="(/static/vendor/bootstrap/bootstrap\.min\.[0-9a-f]{12}\.css)"', login.text).group(1)
    served = requests.get(f"{base}{css}", headers={"Host": HOST}, verify=cert, timeout=20)
    on_disk = (running["workdir"] / css.lstrip("/")).read_bytes()
    assert (served.status_code, served.content, served.headers["Server"]) == (200, on_disk, "nginx")
    assert "max-age=31536000" in served.headers["Cache-Control"]
    too_big = requests.post(
        f"{base}/consortia/", headers={"Host": HOST}, data=b"x" * (26 * 1024 * 1024), verify=cert, timeout=60
    )
    assert too_big.status_code == 413


def test_an_upload_through_the_proxy_is_handed_over_as_the_file_nginx_stored(running):
    """nginx keeps an attachment's body in a file and hands the web process its name; what is
    stored is the applicant's file, and a client's own X-Body-File names nothing that is read."""
    from tests.factories_consortia import pdf_bytes

    cert = str(running["proxy"].cert)
    base = f"https://127.0.0.1:{PROXY_HTTPS}"
    browser = requests.Session()
    headers = {"Host": HOST, "Referer": f"https://{HOST}/accounts/login/"}
    browser.get(f"{base}/accounts/login/", headers=headers, verify=cert, timeout=20)
    logged_in = browser.post(
        f"{base}/accounts/login/",
        data={"login": running["arranged"]["applicant"], "password": APPLICANT_PASSWORD,
              "csrfmiddlewaretoken": browser.cookies["csrftoken"]},
        headers=headers, verify=cert, timeout=20, allow_redirects=False,
    )  # fmt: skip
    assert logged_in.status_code == 302, logged_in.text[:2000]
    # A file the client would like the portal to take instead of its own body.
    planted = running["proxy"].body_dir / "0000000001"
    planted.write_bytes(pdf_bytes(pages=3))
    attachments = f"/consortia/applications/{running['arranged']['application_id']}/attachments/"
    body = pdf_bytes(pages=2, padding=400_000)  # past nginx's in-memory buffer (256 kB)
    title = f"Through the proxy {uuid.uuid4().hex[:6]}"
    form = requests.Request(
        "POST", f"{base}{attachments}", data={"title": title, "csrfmiddlewaretoken": browser.cookies["csrftoken"]},
        files={"file": ("proxy.pdf", body, "application/pdf")},
    ).prepare()  # fmt: skip
    # The body goes in two pieces with a pause between them: meanwhile nginx is writing it to a
    # file in the hand-over folder (the upload location's own), not in its general one.
    seen_while_sending: list[str] = []

    class Paused(io.BytesIO):
        """The body, read by the HTTP library in pieces; the last 100 bytes after a pause."""

        def __len__(self):
            return len(form.body)

        def read(self, size=-1):
            if self.tell() == len(form.body) - 100:
                time.sleep(1.0)
                seen_while_sending.extend(p.name for p in running["proxy"].body_dir.iterdir())
            left = len(form.body) - 100 - self.tell()
            return super().read(size if left <= 0 or 0 <= size <= left else left)

    uploaded = browser.post(
        f"{base}{attachments}", data=Paused(form.body),
        headers={"Host": HOST, "Referer": f"https://{HOST}{attachments}", "X-Body-File": str(planted),
                 "Content-Type": form.headers["Content-Type"]},
        verify=cert, timeout=60,
    )  # fmt: skip
    assert (uploaded.status_code, title in uploaded.text) == (200, True), uploaded.text[:2000]
    assert len(seen_while_sending) == 2 and "0000000001" in seen_while_sending, seen_while_sending
    newest = max(int(i) for i in re.findall(rf"{attachments}(\d+)/download/", uploaded.text))
    download = browser.get(f"{base}{attachments}{newest}/download/", headers={"Host": HOST}, verify=cert, timeout=20)
    assert (download.status_code, download.content) == (200, body)
    # nginx has removed its own file once the request was answered; the planted one was never read.
    assert [p.name for p in running["proxy"].body_dir.iterdir()] == ["0000000001"]
    planted.unlink()
    web_logs = running["portal"].log("web1") + running["portal"].log("web2")
    assert "upload refused" not in web_logs


def test_two_web_processes_and_two_workers_share_everything(running, signed_in):
    """Applicant and officer journeys, each request to the other web process: sessions,
    uploads (S3), submissions and an allocation run (on whichever worker takes it)."""
    from tests.factories_consortia import pdf_bytes

    started = time.monotonic()
    store = running["store"]
    application_id = running["arranged"]["application_id"]
    applicant = Visitor()
    log_in(applicant, username=running["arranged"]["applicant"], password=APPLICANT_PASSWORD)

    # Upload on one process ...
    body = pdf_bytes(pages=2)
    title = f"Budget annex {uuid.uuid4().hex[:6]}"
    attachments = f"/consortia/applications/{application_id}/attachments/"
    uploaded = applicant.post(attachments, {"title": title}, files={"file": ("annex.pdf", body, "application/pdf")})
    assert uploaded.status_code == 200 and title in uploaded.text
    ids = re.findall(rf"{attachments}(\d+)/download/", applicant.get(attachments).text)
    newest = max(int(i) for i in ids)
    # ... downloadable from each of them, and kept in the shared store (not on a disk).
    downloads = [applicant.get(f"{attachments}{newest}/download/") for _ in WEB_PORTS]
    assert [(d.status_code, d.content) for d in downloads] == [(200, body)] * 2
    assert sum(1 for key in store.keys() if key.startswith("media/")) >= 2  # the proposal and the annex
    local = running["workdir"] / "media"
    assert not local.exists() or not any(path.is_file() for path in local.rglob("*"))
    # Submit on one, see the receipt on the other.
    review = applicant.get(f"/consortia/applications/{application_id}/review/")
    assert review.status_code == 200
    submitted = applicant.post(f"/consortia/applications/{application_id}/submit/", {"request_key": uuid.uuid4().hex})
    assert (submitted.status_code, "receipt" in submitted.text.lower()) == (200, True), submitted.text[:2000]

    # The officer: second factor, the submitted applications, a fresh proof, an allocation run.
    officer = signed_in["officer"]
    spec = account(running, "officer")
    listed = officer.get(f"/consortia/officer/applications/?programme={running['arranged']['programme_id']}")
    detail = re.search(r'href="(/consortia/officer/applications/\d+/)"', listed.text).group(1)
    assert officer.get(detail).status_code == 200
    assert officer.get("/accounts/reauthenticate/").status_code == 200
    reauth = officer.post("/accounts/reauthenticate/", {"password": spec["password"]}, follow=False)
    assert reauth.status_code == 302, reauth.text[:2000]
    programme_id = running["seeded"]["programme_id"]
    run_page = officer.post(f"/allocation/programmes/{programme_id}/runs/start/")
    run_id = int(re.search(r"/allocation/runs/(\d+)/progress/", run_page.text).group(1))

    def finished():
        status = re.search(r'data-status="(\w+)"', officer.get(f"/allocation/runs/{run_id}/progress/").text).group(1)
        return status if status in ("succeeded", "failed") else None

    assert stack.wait_for(finished, 60, "the allocation run to finish") == "succeeded"
    portal = running["portal"]
    ran_on = [
        name
        for name in ("worker1", "worker2")
        if re.search(r"Task gpu_allocation\.execute_run\[[^]]+\] succeeded", portal.log(name))
    ]
    assert len(ran_on) == 1, ran_on
    # Every request of both journeys alternated between the two processes.
    for visitor in (applicant, officer):
        assert visitor.served[::2] == [visitor.served[0]] * len(visitor.served[::2])
        assert visitor.served[1::2] == [visitor.served[1]] * len(visitor.served[1::2])
        assert set(visitor.served) == set(WEB_PORTS)
    print(f"two-process journeys: {len(applicant.served) + len(officer.served)} requests, run #{run_id} on {ran_on[0]}, "
          f"{time.monotonic() - started:.1f} s")  # fmt: skip


SKIP_PREFIXES = ("/static/", "/accounts/logout", "/i18n/", "/admin/", "/api/v1/", "/jsi18n/")


def crawl(visitor: Visitor, *, limit: int) -> dict[str, int]:
    """Every page reachable by links from the home page (GET only), each fetched once."""
    seen: dict[str, int] = {}
    queue = ["/"]
    while queue and len(seen) < limit:
        path = queue.pop(0)
        if path in seen:
            continue
        response = visitor.get(path)
        seen[path] = response.status_code
        if "text/html" not in response.headers.get("Content-Type", ""):
            continue
        for href in re.findall(r'href="(/[^"#]*)"', response.text):
            href = href.replace("&amp;", "&")
            if not href.startswith(SKIP_PREFIXES) and href not in seen and "?" not in href:
                queue.append(href)
    return seen


def test_every_page_answers_under_production_settings(running, signed_in):
    fetched = {username: crawl(visitor, limit=80) for username, visitor in signed_in.items()}
    anonymous = crawl(Visitor(), limit=20)
    failures = {(who, path): status for who, pages in {**fetched, "anonymous": anonymous}.items()
                for path, status in pages.items() if status >= 500}  # fmt: skip
    assert failures == {}
    assert all(len(pages) >= 5 for pages in fetched.values()), {who: len(p) for who, p in fetched.items()}
    print("pages fetched:", {who: len(pages) for who, pages in {**fetched, "anonymous": anonymous}.items()})


def run_healthcheck(running, service: str, **env: str) -> subprocess.CompletedProcess:
    return running["portal"].run(stack.healthcheck_argv(service), timeout=30, **env)


def test_z_compose_healthchecks_pass_while_up_and_fail_once_stopped(running):
    """Each healthcheck command of docker-compose.yml, as docker runs it, against the
    running processes; then each process is stopped and the same command must fail."""
    portal = running["portal"]
    checks = {
        "web": lambda: run_healthcheck(running, "web", PORT=str(WEB_PORTS[1])),
        "worker": lambda: run_healthcheck(running, "worker"),
        "beat": lambda: run_healthcheck(running, "beat"),
        "proxy": lambda: subprocess.run(
            [part.replace("8081", str(stack.PROXY_STATUS)) for part in stack.healthcheck_argv("proxy")],
            capture_output=True, timeout=30,
        ),
        "store": lambda: subprocess.run(
            [part.replace(":8333/", f":{stack.S3_PORTS['s3']}/") for part in stack.healthcheck_argv("store")],
            capture_output=True, timeout=30,
        ),
    }  # fmt: skip
    up = {name: check().returncode for name, check in checks.items()}
    stack.stop(portal.processes["web2"])
    stack.stop(portal.processes["worker1"])
    stack.stop(portal.processes["beat"])
    running["proxy"].stop()
    running["store"].stop()
    down = {name: check().returncode for name, check in checks.items()}
    print("healthcheck exit codes, up:", up, "stopped:", down)
    assert up == {"web": 0, "worker": 0, "beat": 0, "proxy": 0, "store": 0}
    assert all(code != 0 for code in down.values()), down
    assert not Path(stack.ROOT / "var" / "celerybeat.pid").exists()  # beat removed its pidfile
