#!/usr/bin/env python
"""The portal's benchmarks, in one command (``make bench``).

For each data size it builds a fresh database (PostgreSQL when ``DATABASE_URL`` names
one, SQLite otherwise), seeds it with ``seed_scale``, serves the portal with gunicorn
(2 workers) on 127.0.0.1 and, with the same gunicorn settings on the next port but one,
the **bare floor** (``bench/bare``: a separate minimal Django project, ``startproject``'s
middleware, one 50-row list from one query of its own table). It loads each page with a
small asyncio HTTP client at concurrency 1 and 8 after a warm-up, in rounds (default 3;
each round measures the bare floor and every target once at each concurrency), and reports
each target's median p50 over the rounds divided by the bare floor's and by the portal's
own floor (the same 50-row list through the portal's middleware with a signed-in session).
It also measures in-process what each middleware of the portal costs on its floor page
(``manage.py bench_middleware``). Then it runs the other
benchmarks and prints their figures too: the pure allocation policy at 5, 100 and 10,000
teams (``bench_policy.py``), award-notice rendering (``bench_notices.py``) and the
deadline surge (``surge.py``: 500 submissions by 50 clients in 60 s).

    .venv/bin/python bench/run.py [--sizes 2000,10000] [--seconds 2] [--rounds 3] [--json bench/results/latest.json]
                                  [--skip-policy] [--skip-notices] [--skip-surge] [--surge-window 60]

``BENCH_DB_PREFIX`` (default ``bench``) names the PostgreSQL databases it creates and
drops (``<prefix>_<N>``; the surge uses ``<prefix>_0``, the bare floor ``<prefix>_bare``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BARE = ROOT / "bench" / "bare"
PY = sys.executable
CONCURRENCIES = (1, 8)
BARE_NAME = "bare: list50"


def manage(*args: str, env: dict) -> str:
    result = subprocess.run([PY, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return result.stdout


def fresh_database(size: int | str) -> str:
    base = os.environ.get("DATABASE_URL", "")
    if base.startswith("postgres"):
        parsed = urllib.parse.urlparse(base)
        name = f"{os.environ.get('BENCH_DB_PREFIX', 'bench')}_{size}"
        admin = parsed._replace(path="/postgres").geturl()
        import psycopg2

        conn = psycopg2.connect(admin)
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            cursor.execute(f'CREATE DATABASE "{name}"')
        conn.close()
        return parsed._replace(path=f"/{name}").geturl()
    path = ROOT / "var" / f"bench_{size}.sqlite3"
    path.parent.mkdir(exist_ok=True)
    path.unlink(missing_ok=True)
    return f"sqlite:///{path}"


def analyse(url: str) -> None:
    """Refresh the planner's statistics after the bulk seed, as autovacuum would shortly
    after such an import in production; without it PostgreSQL plans on empty-table
    estimates (nested loops over thousands of rows)."""
    if url.startswith("postgres"):
        import psycopg2

        conn = psycopg2.connect(url)
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
        conn.close()
    else:
        import sqlite3

        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            conn.execute("ANALYZE")


async def fetch(host: str, port: int, path: str, headers: dict) -> tuple[int, float, int]:
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection(host, port)
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n{head}Connection: close\r\n\r\n".encode())
    await writer.drain()
    data = await reader.read()
    writer.close()
    elapsed = time.perf_counter() - started
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0
    return status, elapsed, len(data)


async def load(
    host: str, port: int, path: str, headers: dict, seconds: float, concurrency: int, warmup: int = 8
) -> dict:
    for _ in range(warmup):
        await fetch(host, port, path, headers)
    latencies: list[float] = []
    errors = size = 0
    deadline = time.perf_counter() + seconds

    async def worker():
        nonlocal errors, size
        while time.perf_counter() < deadline:
            status, elapsed, size = await fetch(host, port, path, headers)
            if status != 200:
                errors += 1
            latencies.append(elapsed)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "errors": errors,
        "p50_ms": round(statistics.median(latencies) * 1000, 1),
        "p95_ms": round(latencies[int(len(latencies) * 0.95) - 1] * 1000, 1),
        "rps": round(len(latencies) / wall, 1),
        "bytes": size,
    }


#: The gunicorn settings both the portal and the bare floor are served with.
GUNICORN_ARGS = ["--workers", "2", "--log-level", "warning", "--access-logfile", "/dev/null"]


def serve(env: dict, port: int, app: str = "portal.wsgi:application", cwd: Path = ROOT, probe: str = "/healthz"):
    proc = subprocess.Popen(
        [str(Path(PY).parent / "gunicorn"), app, *GUNICORN_ARGS, "--bind", f"127.0.0.1:{port}"], cwd=cwd, env=env
    )
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}{probe}", timeout=5)  # noqa: S310 -- loopback only
            return proc
        except urllib.error.HTTPError:  # answering (e.g. 503: no Celery worker behind REDIS_URL): it is up
            return proc
        except Exception:  # noqa: BLE001 -- not up yet
            if proc.poll() is not None:
                raise SystemExit(f"gunicorn ({app}) exited with {proc.returncode}") from None
            time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"gunicorn ({app}) did not start")


def bare_floor() -> dict:
    """Create, migrate and seed the bare floor's own database; return its environment."""
    env = {**os.environ, "BARE_DATABASE_URL": fresh_database("bare"), "DJANGO_SETTINGS_MODULE": "bare_site.settings"}
    env.pop("DATABASE_URL", None)
    for args in (["migrate", "--noinput", "-v0"], ["seed_rows"]):
        result = subprocess.run(
            [PY, "manage.py", *args], cwd=BARE, env=env, capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise SystemExit(f"bench/bare manage.py {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    analyse(env["BARE_DATABASE_URL"])
    return env


def measure_rounds(port: int, bare_port: int, targets: list[dict], headers_for, seconds: float, rounds: int) -> dict:
    """Each round loads the bare floor, then every target, at each concurrency; return for each
    name and concurrency the per-round figures and their median p50/p95."""
    out: dict[str, dict[int, list[dict]]] = {}
    everything = [{"name": BARE_NAME, "path": "/list50/", "bare": True}, *targets]
    for _ in range(rounds):
        for target in everything:
            for concurrency in CONCURRENCIES:
                if target.get("bare"):
                    figures = asyncio.run(load("127.0.0.1", bare_port, target["path"], {}, seconds, concurrency))
                else:
                    figures = asyncio.run(
                        load("127.0.0.1", port, target["path"], headers_for(target), seconds, concurrency)
                    )
                out.setdefault(target["name"], {}).setdefault(concurrency, []).append(figures)
    return out


def summarise(runs: list[dict]) -> dict:
    return {
        "p50_ms": round(statistics.median(r["p50_ms"] for r in runs), 1),
        "p95_ms": round(statistics.median(r["p95_ms"] for r in runs), 1),
        "p50_rounds_ms": [r["p50_ms"] for r in runs],
        "rps": round(statistics.median(r["rps"] for r in runs), 1),
        "errors": sum(r["errors"] for r in runs),
        "requests": sum(r["requests"] for r in runs),
        "bytes": runs[-1]["bytes"],
    }


def bench_size(size: int, seconds: float, port: int, bare_port: int, rounds: int) -> dict:
    reviewers = 100 if size >= 2000 else max(10, size // 10)
    env = {
        **os.environ,
        "DATABASE_URL": fresh_database(size),
        "DJANGO_SETTINGS_MODULE": "portal.settings.bench",
        "DEBUG": "0",
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",  # keep stdout JSON-only
    }
    manage("migrate", "--noinput", "-v0", env=env)
    demo = json.loads(manage("seed_demo", "--json", env=env))
    started = time.monotonic()
    scale = json.loads(manage("seed_scale", "--applications", str(size), "--reviewers", str(reviewers), env=env))
    seed_seconds = round(time.monotonic() - started, 1)
    analyse(env["DATABASE_URL"])

    def count_queries(targets: list[dict]) -> dict:
        with tempfile.TemporaryDirectory() as tmp:
            targets_file = Path(tmp, "targets.json")
            targets_file.write_text(json.dumps(targets))
            return json.loads(manage("bench_queries", str(targets_file), env=env))

    with tempfile.TemporaryDirectory() as tmp:
        scale_file, demo_file = Path(tmp, "scale.json"), Path(tmp, "demo.json")
        scale_file.write_text(json.dumps(scale))
        demo_file.write_text(json.dumps(demo))
        targets = json.loads(manage("bench_targets", str(scale_file), str(demo_file), env=env))
    runnable = [t for t in targets if t["path"]]
    queries = count_queries(runnable)
    users = sorted({t["user"] for t in runnable})
    sessions = json.loads(manage("bench_sessions", *users, env=env))
    floor_user = next(t["user"] for t in runnable if t["name"] == "floor: 50-row list")
    middleware = json.loads(manage("bench_middleware", floor_user, env=env))

    def headers_for(target: dict) -> dict:
        return {
            "Cookie": f"sessionid={sessions[target['user']]}; django_language=ko",
            "Accept": "text/html,application/json",
        }

    proc = serve(env, port)
    try:
        figures = measure_rounds(port, bare_port, runnable, headers_for, seconds, rounds)
        # Last, as it re-opens the phase: the ranking while a phase is still being scored.
        ranking = next(t for t in runnable if t["name"] == "officer ranking")
        live = json.loads(
            manage("bench_live_ranking", str(scale["phase_id"]), ranking["user"], "--repeat", "2", env=env)
        )
        live_targets = [
            {"name": "ranking (live)", "path": live["path"], "user": ranking["user"]},
            {"name": "ranking (live), page 20", "path": live["path"] + "?page=20", "user": ranking["user"]},
            {"name": "API ranking (live)", "path": f"/api/v1/phases/{scale['phase_id']}/ranking/",
             "user": ranking["user"]},
        ]  # fmt: skip
        queries.update(count_queries(live_targets))
        live_figures = measure_rounds(port, bare_port, live_targets, headers_for, seconds, rounds)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    bare_runs = {c: figures[BARE_NAME][c] + live_figures[BARE_NAME][c] for c in CONCURRENCIES}
    rows = [{"name": BARE_NAME, "path": "/list50/ (bench/bare)", "status": 200, "queries": 1,
             "by_concurrency": {c: summarise(bare_runs[c]) for c in CONCURRENCIES}}]  # fmt: skip
    for target in [*targets, *live_targets]:
        row = {"name": target["name"], "path": target["path"]}
        source = live_figures if target in live_targets else figures
        if target["path"]:
            row["status"], row["queries"] = queries[target["name"]]
            row["by_concurrency"] = {c: summarise(source[target["name"]][c]) for c in CONCURRENCIES}
        rows.append(row)
    bare = {c: rows[0]["by_concurrency"][c]["p50_ms"] for c in CONCURRENCIES}
    floor_row = next(r for r in rows if r["name"] == "floor: 50-row list")
    floor = {c: floor_row["by_concurrency"][c]["p50_ms"] for c in CONCURRENCIES}
    for row in rows:
        for c, figure in row.get("by_concurrency", {}).items():
            figure["ratio_to_bare"] = round(figure["p50_ms"] / bare[c], 2)
            figure["ratio_to_floor"] = round(figure["p50_ms"] / floor[c], 2)
    print(f"N = {size}: live ranking computed in {live['computed_ms']} ms ({live['computed_queries']} queries), "
          f"cached {live['cached_ms']} ms ({live['cached_queries']} queries), in-process")  # fmt: skip
    return {
        "size": size,
        "reviewers": reviewers,
        "seed_seconds": seed_seconds,
        "rounds": rounds,
        "seconds_per_measurement": seconds,
        "live": live,
        "middleware": middleware,
        "rows": rows,
    }


def run_script(script: str, *args: str, timeout: float = 1800) -> dict:
    """Run a sibling benchmark script with ``--json <tmp>`` and return its figures.

    Its own printout is passed through; a failure is reported as ``{"error": ...}``
    rather than ending the whole run.
    """
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp, "figures.json")
        try:
            result = subprocess.run(
                [PY, f"bench/{script}", *args, "--json", str(out)],
                cwd=ROOT, capture_output=True, text=True, check=False, timeout=timeout,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            return {"error": f"{script}: no result within {timeout:.0f} s"}
        print(f"\n$ bench/{script} {' '.join(args)}\n{result.stdout.rstrip()}")
        if not out.exists():
            return {"error": f"{script} exited {result.returncode}: {result.stderr[-2000:]}"}
        figures = json.loads(out.read_text())
        if result.returncode != 0:
            figures["exit_status"] = result.returncode
        return figures


def print_table(report: dict) -> None:
    vendor = "PostgreSQL" if os.environ.get("DATABASE_URL", "").startswith("postgres") else "SQLite"
    print(f"\nPages and API lists — gunicorn {' '.join(GUNICORN_ARGS[:2])}, {vendor}, "
          f"median of {report['rounds']} rounds; × bare = p50 / bare list50 p50, × floor = p50 / the portal's floor p50")  # fmt: skip
    for size in report["sizes"]:
        print(
            f"\nN = {size['size']} applications, R = {size['reviewers']} reviewers (seeded in {size['seed_seconds']} s)"
        )
        print(f"{'target':<26}{'q':>3}{'KB':>6} | {'c=1 p50':>8}{'× bare':>7}{'× floor':>8} | "
              f"{'c=8 p50':>8}{'p95':>7}{'× bare':>7}{'× floor':>8}{'err':>5}")  # fmt: skip
        for row in size["rows"]:
            if "by_concurrency" not in row:
                print(f"{row['name']:<26}{'(page not available in this build)':>40}")
                continue
            one, eight = row["by_concurrency"][1], row["by_concurrency"][8]
            print(f"{row['name']:<26}{row['queries']:>3}{eight['bytes'] / 1024:>6.0f} | {one['p50_ms']:>8}"
                  f"{one['ratio_to_bare']:>7}{one['ratio_to_floor']:>8} | {eight['p50_ms']:>8}{eight['p95_ms']:>7}"
                  f"{eight['ratio_to_bare']:>7}{eight['ratio_to_floor']:>8}{one['errors'] + eight['errors']:>5}")  # fmt: skip
        middleware = size.get("middleware")
        if middleware:
            print(f"\n  Middleware on {middleware['path']}, in-process (median µs of the layer's own time; "
                  f"whole request {middleware['request_us'] / 1000:.2f} ms):")  # fmt: skip
            for layer in middleware["layers"]:
                print(f"    {layer['median_us']:>9.1f} µs  {layer['queries']} q  {layer['middleware']}")


def print_extras(report: dict) -> None:
    policy = report.get("policy")
    if policy:
        print("\nAllocation policy (pure solve, median seconds)")
        for case in policy.get("cases", []):
            print(f"  {case['case']:<14}{case['teams']:>7} teams  policy {case['policy_seconds_median']:.4f} s"
                  f"  reference {case.get('reference_seconds_median', 0):.4f} s ({case.get('speedup_median')}× faster,"
                  f" identical: {case.get('identical_to_reference')})"
                  f"  greedy {case['greedy_seconds_median']:.4f} s  policy >= greedy: {case['policy_at_least_greedy']}")  # fmt: skip
        if "error" in policy:
            print("  " + policy["error"])
    notices = report.get("notices")
    if notices:
        print("\nAward notices")
        if "error" in notices:
            print("  " + notices["error"])
        else:
            print(f"  render {notices['notice_render_warm_s'] * 1000:.1f} ms (fixed text "
                  f"{notices['fixed_text_render_s'] * 1000:.1f} ms, ratio {notices['ratio_notice_to_fixed']}, "
                  f"best {notices['ratio_notice_to_fixed_best']}); issue one {notices['issue_one_warm_s'] * 1000:.1f} ms;"
                  f" ZIP of five {notices['zip_of_five_s'] * 1000:.1f} ms")  # fmt: skip
    surge = report.get("surge")
    if surge:
        print("\nDeadline surge")
        if "error" in surge:
            print("  " + surge["error"])
        else:
            print(f"  {surge['applications']} applications, {surge['clients']} clients, {surge['window_s']:.0f} s window:"
                  f" accepted {surge['accepted']}, refused late {surge['refused_late']}, errors {surge['errors']},"
                  f" duplicates {surge['duplicates']}, mismatched {surge['mismatched']};"
                  f" submit p50 {surge['submit_p50_ms']} ms / p95 {surge['submit_p95_ms']} ms;"
                  f" probe {surge['probe_ok']} ok / {surge['probe_failed']} failed")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="2000,10000")
    parser.add_argument("--seconds", type=float, default=2.0, help="seconds per target, concurrency and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--port", type=int, default=8399, help="the portal's port (+1 the surge, +2 the bare floor)")
    parser.add_argument("--json", default=str(ROOT / "bench" / "results" / "latest.json"))
    parser.add_argument("--skip-policy", action="store_true", help="do not run bench/bench_policy.py")
    parser.add_argument("--skip-notices", action="store_true", help="do not run bench/bench_notices.py")
    parser.add_argument("--skip-surge", action="store_true", help="do not run bench/surge.py")
    parser.add_argument("--surge-window", type=float, default=60.0, help="surge window in seconds")
    args = parser.parse_args()
    report = {
        "machine": f"{os.cpu_count()} cores",
        "concurrencies": list(CONCURRENCIES),
        "rounds": args.rounds,
        "gunicorn": GUNICORN_ARGS,
        "sizes": [],
    }
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not args.skip_policy:  # first: a minute at most, and independent of the servers
        report["policy"] = run_script("bench_policy.py")
    bare_port = args.port + 2
    bare = serve(bare_floor(), bare_port, app="bare_site.wsgi:application", cwd=BARE, probe="/list50/")
    try:
        for size in [int(s) for s in args.sizes.split(",") if s]:
            report["sizes"].append(bench_size(size, args.seconds, args.port, bare_port, args.rounds))
            out.write_text(json.dumps(report, indent=2, ensure_ascii=False))  # kept if a later size fails
    finally:
        bare.terminate()
        bare.wait(timeout=10)
    if not args.skip_notices:
        report["notices"] = run_script("bench_notices.py")
    if not args.skip_surge:
        report["surge"] = run_script("surge.py", "--window", str(args.surge_window), "--port", str(args.port + 1))
    print_table(report)
    print_extras(report)
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    print(f"\nwritten: {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")


if __name__ == "__main__":
    main()
