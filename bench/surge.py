#!/usr/bin/env python
"""Deadline rush: 500 complete drafts submitted by 200 concurrent clients, spread evenly over a
window with the deadline in its middle, through the production shape — nginx stamping each
request's received time in front of gunicorn with ``deploy/gunicorn.conf.py`` (``--no-proxy``:
gunicorn alone, the database's clock stamps).

Each client sends its submissions at their scheduled moments through
``POST /api/v1/applications/{id}/submit/`` with its lead contact's token; meanwhile other
pages (the log-in page and an API list) are fetched several times a second. Afterwards the
database is checked: every 2xx has exactly one version, every refusal none, and no version
was received after the deadline.

Reported: submit p50/p95, errors (anything but 200 and 409), duplicates, refusals of
submissions *received* on time (the portal's own stamp at or before the deadline: must be 0),
refusals of submissions the client *sent* before the deadline (with how close to it they were
sent), the other pages' p50/p95 during the rush, and the web workers' peak memory.

    .venv/bin/python bench/surge.py [--applications 500] [--clients 200] [--window 20]
                                    [--workers 2] [--threads 16] [--no-proxy] [--port 8398]

``BENCH_DB_PREFIX`` names the database (``<prefix>_0``, created and dropped like bench/run.py's).
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
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import ROOT, fresh_database, manage  # noqa: E402 -- sibling script
from serving import Prober, Stack, ms, percentile, request  # noqa: E402 -- sibling script


async def rush(port: int, items: list[dict], clients: int, start: float, window: float, probe_token: str) -> dict:
    per_client = [[] for _ in range(clients)]
    spacing = window / len(items)
    for k, item in enumerate(items):
        per_client[k % clients].append((start + k * spacing, item))
    results: dict[int, dict] = {}

    async def client(mine):
        for due, item in mine:
            await asyncio.sleep(max(0.0, due - time.time()))
            status, elapsed, body, sent_at = await request(
                port, "POST", f"/api/v1/applications/{item['application_id']}/submit/",
                {"Authorization": f"Token {item['token']}", "Idempotency-Key": f"surge-{item['application_id']}"},
            )  # fmt: skip
            try:
                answer = json.loads(body) if body else {}
            except ValueError:
                answer = {}
            results[item["application_id"]] = {
                "status": status, "elapsed": elapsed, "sent_at": sent_at, "due": due,
                "received_at": answer.get("received_at"), "received_clock": answer.get("received_clock"),
                "code": answer.get("code"),
            }  # fmt: skip

    prober = Prober(
        port,
        {"/accounts/login/": {}, "/api/v1/applications/": {"Authorization": f"Token {probe_token}"}},
        every=0.2, per_path=2,
    )  # fmt: skip
    probes = prober.start()
    quiet_from = time.time() + 1.0  # after the probes' own warm-up: the same pages with no rush
    await asyncio.gather(*(client(c) for c in per_client))
    prober.stop.set()
    await asyncio.gather(*probes)
    return {
        "results": results, "probe": prober.report(start, start + window),
        "probe_before": prober.report(quiet_from, start),
    }  # fmt: skip


def set_deadline(database_url: str, programme_id: int, closes_at: float) -> None:
    import psycopg2

    conn = psycopg2.connect(database_url)
    with conn, conn.cursor() as cursor:
        cursor.execute(
            "UPDATE portal_programme SET closes_at = to_timestamp(%s) WHERE id = %s", [closes_at, programme_id]
        )
    conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--applications", type=int, default=500)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--window", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--no-proxy", action="store_true", help="gunicorn alone: the database's clock stamps")
    parser.add_argument("--port", type=int, default=8398, help="nginx; gunicorn listens on the next port")
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
        manage("seed_surge", "--applications", str(args.applications), "--closes-in", "3600",
               "--out", str(seed_file), env=env)  # fmt: skip
        seed = json.loads(seed_file.read_text())
        stack = Stack(env, args.port, args.workers, args.threads, proxy=not args.no_proxy, workdir=Path(tmp, "nginx"))
        try:
            stack.start()
            cpu_before = stack.cpu_seconds()
            # The deadline in the middle of the window, which starts 3 s from now.
            start = time.time() + 3.0
            closes_at = start + args.window / 2
            set_deadline(env["DATABASE_URL"], seed["programme_id"], closes_at)
            ran = asyncio.run(
                rush(stack.url_port, seed["items"], args.clients, start, args.window, seed["items"][0]["token"])
            )
            peaks = stack.worker_peak_mb()
            web_cpu = stack.cpu_seconds() - cpu_before
        finally:
            stack.stop()
        results = ran["results"]
        outcome_file = Path(tmp, "outcomes.json")
        outcome_file.write_text(json.dumps({k: v["status"] for k, v in results.items()}))
        verify = json.loads(manage("surge_verify", str(outcome_file), env=env))
    latencies = [r["elapsed"] for r in results.values()]
    statuses = [r["status"] for r in results.values()]
    refused = [r for r in results.values() if r["status"] == 409]
    sent_before = [r for r in refused if r["sent_at"] <= closes_at]
    received_on_time_refused = [
        r for r in refused if r["received_at"] and datetime.fromisoformat(r["received_at"]).timestamp() <= closes_at
    ]
    accepted = [r for r in results.values() if r["status"] == 200]
    stamp_lag = [
        datetime.fromisoformat(r["received_at"]).timestamp() - r["sent_at"] for r in accepted if r["received_at"]
    ]
    report = {
        "applications": args.applications, "clients": args.clients, "window_s": args.window,
        "proxy": not args.no_proxy, "workers": args.workers, "threads": args.threads,
        "accepted": statuses.count(200), "refused_late": statuses.count(409),
        "errors": sum(1 for s in statuses if s not in (200, 409)),
        "duplicates": verify["duplicates"], "mismatched": verify["mismatched"],
        "latest_version_at_or_before_deadline": verify["latest_version_at_or_before_deadline"],
        "refusal_codes": sorted({r["code"] or "" for r in refused}),
        "received_on_time_refused": len(received_on_time_refused),
        "sent_before_deadline_refused": len(sent_before),
        "sent_before_deadline_refused_max_margin_ms": ms(max((closes_at - r["sent_at"] for r in sent_before), default=None)),
        "received_clock": sorted({r["received_clock"] for r in accepted if r["received_clock"]}),
        "stamp_after_send_p50_ms": ms(statistics.median(stamp_lag)) if stamp_lag else None,
        "stamp_after_send_max_ms": ms(max(stamp_lag)) if stamp_lag else None,
        "submit_p50_ms": ms(percentile(latencies, 0.5)), "submit_p95_ms": ms(percentile(latencies, 0.95)),
        "submit_max_ms": ms(max(latencies)),
        "pages_before_rush": ran["probe_before"],
        "pages_during_rush": ran["probe"],
        "probe_ok": sum(p["requests"] - p["failed"] for p in ran["probe"].values()),
        "probe_failed": sum(p["failed"] for p in ran["probe"].values()),
        "probe_p95_ms": max((p["p95_ms"] or 0) for p in ran["probe"].values()),
        "web_worker_peak_mb": peaks,
        # The web processes' own CPU (not PostgreSQL's) for the whole rush, probes included.
        "web_cpu_s": round(web_cpu, 1), "web_cpu_ms_per_submit": round(web_cpu * 1000 / len(results), 1),
        "machine": f"{os.cpu_count()} cores, 1-min load average after the run {os.getloadavg()[0]:.1f}",
    }  # fmt: skip
    print(json.dumps(report, indent=2))
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
