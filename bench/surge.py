#!/usr/bin/env python
"""Deadline surge: 500 complete drafts submitted by 50 concurrent clients within 60 s,
while the deadline falls inside that window.

Serves the portal with gunicorn (2 workers) on 127.0.0.1, fires the submissions through
``POST /api/v1/applications/{id}/submit/`` with each lead contact's token, probes a page
every half second meanwhile, then checks in the database that every 2xx has exactly one
version and every refusal none.

    .venv/bin/python bench/surge.py [--applications 500] [--clients 50] [--window 60]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import ROOT, fresh_database, manage, serve  # noqa: E402 -- sibling script


async def request(port: int, method: str, path: str, headers: dict, body: bytes = b"") -> tuple[int, float, bytes]:
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    writer.write(
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{head}Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        + body
    )
    await writer.drain()
    data = await reader.read()
    writer.close()
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0
    return status, time.perf_counter() - started, data


async def surge(port: int, items: list[dict], clients: int, window: float) -> tuple[dict, list, dict]:
    outcomes: dict[int, int] = {}
    latencies: list[float] = []
    probe = {"ok": 0, "failed": 0, "latencies": []}
    start = time.perf_counter()
    per_client = [items[i::clients] for i in range(clients)]
    spacing = window / max(len(c) for c in per_client)

    async def client(index: int, mine: list[dict]):
        for k, item in enumerate(mine):
            due = start + k * spacing + (index / clients) * spacing
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            status, elapsed, _ = await request(
                port, "POST", f"/api/v1/applications/{item['application_id']}/submit/",
                {"Authorization": f"Token {item['token']}", "Idempotency-Key": f"surge-{item['application_id']}"},
            )  # fmt: skip
            outcomes[item["application_id"]] = status
            latencies.append(elapsed)

    async def prober(stop: asyncio.Event):
        while not stop.is_set():
            status, elapsed, _ = await request(port, "GET", "/healthz", {})
            probe["ok" if status == 200 else "failed"] += 1
            probe["latencies"].append(elapsed)
            await asyncio.sleep(0.5)

    stop = asyncio.Event()
    probe_task = asyncio.create_task(prober(stop))
    await asyncio.gather(*(client(i, c) for i, c in enumerate(per_client)))
    stop.set()
    await probe_task
    return outcomes, latencies, probe


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--applications", type=int, default=500)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--window", type=float, default=60.0)
    parser.add_argument("--port", type=int, default=8398)
    parser.add_argument("--json", default=str(ROOT / "bench" / "results" / "surge.json"))
    args = parser.parse_args()
    env = {
        **os.environ,
        "DATABASE_URL": fresh_database(0),
        "DJANGO_SETTINGS_MODULE": "portal.settings.bench",
        "DEBUG": "0",
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
    }
    manage("migrate", "--noinput", "-v0", env=env)
    with tempfile.TemporaryDirectory() as tmp:
        seed_file = Path(tmp, "surge.json")
        proc = None
        try:
            proc = serve(env, args.port)
            # The deadline falls in the middle of the submission window.
            manage(
                "seed_surge",
                "--applications",
                str(args.applications),
                "--closes-in",
                str(args.window / 2 + 2),
                "--out",
                str(seed_file),
                env=env,
            )
            seed = json.loads(seed_file.read_text())
            outcomes, latencies, probe = asyncio.run(surge(args.port, seed["items"], args.clients, args.window))
        finally:
            if proc:
                proc.terminate()
                proc.wait(timeout=10)
        outcome_file = Path(tmp, "outcomes.json")
        outcome_file.write_text(json.dumps(outcomes))
        verify = json.loads(manage("surge_verify", str(outcome_file), env=env))
    latencies.sort()
    statuses = list(outcomes.values())
    report = {
        "applications": args.applications, "clients": args.clients, "window_s": args.window,
        "accepted": statuses.count(200), "refused_late": statuses.count(409),
        "errors": sum(1 for s in statuses if s not in (200, 409)),
        "duplicates": verify["duplicates"], "mismatched": verify["mismatched"],
        "latest_version_at_or_before_deadline": verify["latest_version_at_or_before_deadline"],
        "submit_p50_ms": round(statistics.median(latencies) * 1000, 1),
        "submit_p95_ms": round(latencies[int(len(latencies) * 0.95) - 1] * 1000, 1),
        "probe_ok": probe["ok"], "probe_failed": probe["failed"],
        "probe_p95_ms": round(sorted(probe["latencies"])[int(len(probe["latencies"]) * 0.95) - 1] * 1000, 1),
    }  # fmt: skip
    print(json.dumps(report, indent=2))
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
