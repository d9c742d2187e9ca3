#!/usr/bin/env python
"""The portal's benchmarks, in one command (``make bench``).

For each data size it builds a fresh database (PostgreSQL when ``DATABASE_URL`` names
one, SQLite otherwise), seeds it with ``seed_scale``, serves the portal with gunicorn
(2 workers) on 127.0.0.1, and loads each page with a small asyncio HTTP client at
concurrency 8 after a warm-up. Every figure is printed next to the **floor**: a 50-row
list rendered from one query by the same process, through the same middleware, with a
signed-in session — the least any paginated page can cost. It also runs the pure
allocation policy at 5, 100 and 10,000 teams.

    .venv/bin/python bench/run.py [--sizes 100,2000] [--seconds 8] [--json bench/results/latest.json]
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
        name = f"bench_{size}"
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
        except Exception:  # noqa: BLE001 -- not up yet
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("gunicorn did not start")


def bench_size(size: int, seconds: float, port: int) -> dict:
    reviewers = 100 if size >= 2000 else max(10, size // 10)
    env = {
        **os.environ,
        "DATABASE_URL": fresh_database(size),
        "DJANGO_SETTINGS_MODULE": "portal.settings.local",
        "DEBUG": "0",
    }
    manage("migrate", "--noinput", "-v0", env=env)
    demo = json.loads(manage("seed_demo", "--json", env=env))
    started = time.monotonic()
    scale = json.loads(manage("seed_scale", "--applications", str(size), "--reviewers", str(reviewers), env=env))
    seed_seconds = round(time.monotonic() - started, 1)
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
    try:
        for target in targets:
            row = {"name": target["name"], "path": target["path"]}
            if target["path"]:
                headers = {
                    "Cookie": f"sessionid={sessions[target['user']]}; django_language=ko",
                    "Accept": "text/html,application/json",
                }
                row.update(asyncio.run(load("127.0.0.1", port, target["path"], headers, seconds)))
                row["status"], row["queries"] = queries[target["name"]]
            rows.append(row)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    floor = next(r for r in rows if r["name"] == "floor: 50-row list")["p50_ms"]
    for row in rows:
        if "p50_ms" in row:
            row["ratio_to_floor"] = round(row["p50_ms"] / floor, 2)
    return {"size": size, "reviewers": reviewers, "seed_seconds": seed_seconds, "rows": rows}


def bench_policy() -> dict:
    result = subprocess.run(
        [PY, "bench/bench_policy.py", "--json", "-"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        return {"error": result.stderr[-2000:]}
    try:
        return json.loads(result.stdout.strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError):
        return {"output": result.stdout[-2000:]}


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100,2000")
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--port", type=int, default=8399)
    parser.add_argument("--json", default=str(ROOT / "bench" / "results" / "latest.json"))
    parser.add_argument("--skip-policy", action="store_true")
    args = parser.parse_args()
    report = {"machine": f"{os.cpu_count()} cores", "concurrency": CONCURRENCY, "sizes": []}
    for size in [int(s) for s in args.sizes.split(",")]:
        report["sizes"].append(bench_size(size, args.seconds, args.port))
    if not args.skip_policy and (ROOT / "bench" / "bench_policy.py").exists():
        report["policy"] = bench_policy()
    print_table(report)
    if "policy" in report:
        print("\nAllocation policy:", json.dumps(report["policy"], ensure_ascii=False))
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    print(f"\nwritten: {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")


if __name__ == "__main__":
    main()
