#!/usr/bin/env python
"""Profile one page in-process (pyinstrument) against an already seeded database.

    DATABASE_URL=postgres://.../bench_2000 python bench/profile_page.py USERNAME /path/ [--repeat 20]

Signs USERNAME in with the Django test client (second factor marked done), warms the
page once, then prints the mean wall time, the SQL query count and (with pyinstrument
installed) a call-tree profile of the repeated requests. pyinstrument is a developer
tool, not a project requirement: ``pip install pyinstrument``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.local")
os.environ.setdefault("DEBUG", "0")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("username")
    parser.add_argument("path")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--sql", action="store_true", help="print every query of one request")
    parser.add_argument("--cold", action="store_true", help="clear the cache before every request")
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from portal.models import User

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    client = Client(HTTP_ACCEPT="text/html,application/json")
    client.force_login(User.objects.get(username=args.username))
    session = client.session
    session["portal_second_factor_ok"] = True
    session.save()

    def get():
        if args.cold:
            cache.clear()
        return client.get(args.path)

    response = get()
    with CaptureQueriesContext(connection) as ctx:
        response = get()
    all_queries = list(ctx.captured_queries)
    n_queries = len(all_queries)
    slowest = sorted(ctx.captured_queries, key=lambda q: -float(q["time"]))[:5]
    profiler = None
    if not args.no_profile:
        try:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0005)
        except ImportError:
            print("pyinstrument is not installed: timing only")
    if profiler:
        profiler.start()
    started = time.perf_counter()
    for _ in range(args.repeat):
        get()
    mean_ms = (time.perf_counter() - started) / args.repeat * 1000
    if profiler:
        profiler.stop()
        print(profiler.output_text(unicode=True, color=False, show_all=False))
    print(f"{args.path}: status {response.status_code}, {n_queries} queries, "
          f"{len(response.content)} bytes, mean {mean_ms:.1f} ms over {args.repeat}")  # fmt: skip
    for q in slowest:
        print(f"  {q['time']} s  {q['sql'][:300]}")
    if args.sql:
        for q in all_queries:
            print(f"-- {q['time']} s\n{q['sql']};")


if __name__ == "__main__":
    main()
