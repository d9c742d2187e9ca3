#!/usr/bin/env python
"""The portal's benchmarks, in one command (``make bench``).

For each data size it builds a fresh database (PostgreSQL when ``DATABASE_URL`` names
one, SQLite otherwise), seeds it with ``seed_scale``, serves the portal with gunicorn
(2 workers) on 127.0.0.1, and loads each page with a small asyncio HTTP client at
concurrency 8 after a warm-up. Every figure is printed next to the **floor**: a 50-row
list rendered from one query by the same process, through the same middleware, with a
signed-in session — the least any paginated page can cost. Then it runs the other
benchmarks and prints their figures too: the pure allocation policy at 5, 100 and 10,000
teams (``bench_policy.py``), award-notice rendering (``bench_notices.py``) and the
deadline surge (``surge.py``: 500 submissions by 50 clients in 60 s).

    .venv/bin/python bench/run.py [--sizes 100,2000] [--seconds 8] [--json bench/results/latest.json]
                                  [--skip-policy] [--skip-notices] [--skip-surge] [--surge-window 60]

``BENCH_DB_PREFIX`` (default ``bench``) names the PostgreSQL databases it creates and
drops (``<prefix>_<N>``; the surge uses ``<prefix>_0``).
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
PY = sys.executable
CONCURRENCY = 8


def manage(*args: str, env: dict) -> str:
    result = subprocess.run([PY, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return result.stdout


def fresh_database(size: int) -> str:
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


async def fetch(host: str, port: int, path: str, headers: dict) -> tuple[int, float]:
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection(host, port)
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n{head}Connection: close\r\n\r\n".encode())
    await writer.drain()
    data = await reader.read()
    writer.close()
    elapsed = time.perf_counter() - started
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0
    return status, elapsed


async def load(host: str, port: int, path: str, headers: dict, seconds: float, warmup: int = 16) -> dict:
    for _ in range(warmup):
        await fetch(host, port, path, headers)
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def worker():
        nonlocal errors
        while time.perf_counter() < deadline:
            status, elapsed = await fetch(host, port, path, headers)
            if status != 200:
                errors += 1
            latencies.append(elapsed)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    wall = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "errors": errors,
        "p50_ms": round(statistics.median(latencies) * 1000, 1),
        "p95_ms": round(latencies[int(len(latencies) * 0.95) - 1] * 1000, 1),
        "rps": round(len(latencies) / wall, 1),
    }


def serve(env: dict, port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [str(Path(PY).parent / "gunicorn"), "portal.wsgi:application", "--workers", "2", "--bind", f"127.0.0.1:{port}",
         "--log-level", "warning", "--access-logfile", "/dev/null"],
        cwd=ROOT, env=env,
    )  # fmt: skip
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)  # noqa: S310 -- loopback only
            return proc
        except urllib.error.HTTPError:  # answering (e.g. 503: no Celery worker behind REDIS_URL): it is up
            return proc
        except Exception:  # noqa: BLE001 -- not up yet
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("gunicorn did not start")


def bench_size(size: int, seconds: float, port: int) -> dict:
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
    with tempfile.TemporaryDirectory() as tmp:
        scale_file, demo_file = Path(tmp, "scale.json"), Path(tmp, "demo.json")
        scale_file.write_text(json.dumps(scale))
        demo_file.write_text(json.dumps(demo))
        targets = [t for t in json.loads(manage("bench_targets", str(scale_file), str(demo_file), env=env))]
        runnable = [t for t in targets if t["path"]]
        targets_file = Path(tmp, "targets.json")
        targets_file.write_text(json.dumps(runnable))
        queries = json.loads(manage("bench_queries", str(targets_file), env=env))
    users = sorted({t["user"] for t in runnable})
    sessions = json.loads(manage("bench_sessions", *users, env=env))
    proc = serve(env, port)
    rows = []

    def headers_for(target: dict) -> dict:
        return {
            "Cookie": f"sessionid={sessions[target['user']]}; django_language=ko",
            "Accept": "text/html,application/json",
        }

    try:
        for target in targets:
            row = {"name": target["name"], "path": target["path"]}
            if target["path"]:
                row.update(asyncio.run(load("127.0.0.1", port, target["path"], headers_for(target), seconds)))
                row["status"], row["queries"] = queries[target["name"]]
            rows.append(row)
        # Last, as it re-opens the phase: the ranking while a phase is still being scored.
        ranking = next(t for t in runnable if t["name"] == "officer ranking")
        live = json.loads(manage("bench_live_ranking", str(scale["phase_id"]), ranking["user"], env=env))
        row = {"name": "ranking (live)", "path": live["path"], "live": live}
        row.update(asyncio.run(load("127.0.0.1", port, live["path"], headers_for(ranking), seconds)))
        row["status"], row["queries"] = live["status"], live["cached_queries"]
        rows.append(row)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    floor = next(r for r in rows if r["name"] == "floor: 50-row list")["p50_ms"]
    live = rows[-1].get("live")
    if live:
        print(f"N = {size}: live ranking computed in {live['computed_ms']} ms ({live['computed_queries']} queries), "
              f"cached {live['cached_ms']} ms ({live['cached_queries']} queries), in-process")  # fmt: skip
    for row in rows:
        if "p50_ms" in row:
            row["ratio_to_floor"] = round(row["p50_ms"] / floor, 2)
    return {"size": size, "reviewers": reviewers, "seed_seconds": seed_seconds, "rows": rows}


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
    print(f"\nPages and API lists — gunicorn 2 workers, concurrency {CONCURRENCY}, {vendor}")
    for size in report["sizes"]:
        print(
            f"\nN = {size['size']} applications, R = {size['reviewers']} reviewers (seeded in {size['seed_seconds']} s)"
        )
        print(
            f"{'target':<22}{'status':>7}{'queries':>9}{'p50 ms':>9}{'p95 ms':>9}{'req/s':>8}{'× floor':>9}{'errors':>8}"
        )
        for row in size["rows"]:
            if "p50_ms" not in row:
                print(f"{row['name']:<22}{'(page not available in this build)':>40}")
                continue
            print(f"{row['name']:<22}{row['status']:>7}{row['queries']:>9}{row['p50_ms']:>9}{row['p95_ms']:>9}"
                  f"{row['rps']:>8}{row['ratio_to_floor']:>9}{row['errors']:>8}")  # fmt: skip


def print_extras(report: dict) -> None:
    policy = report.get("policy")
    if policy:
        print("\nAllocation policy (pure solve, median seconds)")
        for case in policy.get("cases", []):
            print(f"  {case['case']:<14}{case['teams']:>7} teams  policy {case['policy_seconds_median']:.4f} s"
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
    parser.add_argument("--sizes", default="100,2000")
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--port", type=int, default=8399)
    parser.add_argument("--json", default=str(ROOT / "bench" / "results" / "latest.json"))
    parser.add_argument("--skip-policy", action="store_true", help="do not run bench/bench_policy.py")
    parser.add_argument("--skip-notices", action="store_true", help="do not run bench/bench_notices.py")
    parser.add_argument("--skip-surge", action="store_true", help="do not run bench/surge.py")
    parser.add_argument("--surge-window", type=float, default=60.0, help="surge window in seconds")
    args = parser.parse_args()
    report = {"machine": f"{os.cpu_count()} cores", "concurrency": CONCURRENCY, "sizes": []}
    for size in [int(s) for s in args.sizes.split(",") if s]:
        report["sizes"].append(bench_size(size, args.seconds, args.port))
    if not args.skip_policy:
        report["policy"] = run_script("bench_policy.py")
    if not args.skip_notices:
        report["notices"] = run_script("bench_notices.py")
    if not args.skip_surge:
        report["surge"] = run_script("surge.py", "--window", str(args.surge_window), "--port", str(args.port + 1))
    print_table(report)
    print_extras(report)
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    print(f"\nwritten: {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")


if __name__ == "__main__":
    main()
