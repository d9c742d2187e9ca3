"""What each middleware of the portal costs on the floor page, measured in-process.

    python manage.py bench_middleware USERNAME [--path /bench/floor/list/] [--repeat 300]

Method: the stack is rebuilt with a timing shim before every middleware and one before the
view, so each request records when it entered each layer and when it left it. A middleware's
own cost is the time spent in its layer minus the time spent in the layer inside it (its
``__call__`` before and after calling the next one). What the view phase does (Django's
``process_view`` hooks such as CSRF's, URL resolution, the view and template) is the last
layer. Work a middleware leaves lazy is charged to whichever code touches it first: the
session row and the user row are read when ``request.user`` is first used (the portal's own
middleware near the end of the stack), not in Session/AuthenticationMiddleware. Each figure
is the median over the requests, in microseconds, together with the SQL queries run in that
layer. The requests are the signed-in GETs the load test sends (session cookie, Korean).
"""

from __future__ import annotations

import json
import statistics
import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connection
from django.test import Client
from django.test.utils import override_settings

from gpu_allocation.management.commands.bench_queries import signed_in_client

_marks: list[tuple[int, str, float, int]] = []  # (layer, "in"/"out", time, queries so far)


def _queries() -> int:
    return len(connection.queries_log)


class _Shim:
    layer = 0

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        _marks.append((self.layer, "in", time.perf_counter(), _queries()))
        try:
            return self.get_response(request)
        finally:
            _marks.append((self.layer, "out", time.perf_counter(), _queries()))


def _shim(layer: int) -> str:
    name = f"_Shim{layer}"
    globals()[name] = type(name, (_Shim,), {"layer": layer})
    return f"{__name__}.{name}"


def measure(client: Client, path: str, stack: list[str], repeat: int) -> list[dict]:
    layers = len(stack) + 1  # one per middleware, then the view phase
    wrapped: list[str] = []
    for k, name in enumerate(stack):
        wrapped += [_shim(k), name]
    wrapped.append(_shim(len(stack)))
    own: list[list[float]] = [[] for _ in range(layers)]
    queries = [0] * layers
    with override_settings(MIDDLEWARE=wrapped):
        client.handler.load_middleware()
        connection.force_debug_cursor = True
        try:
            for n in range(repeat + 10):
                _marks.clear()
                connection.queries_log.clear()
                response = client.get(path)
                if response.status_code != 200:
                    raise SystemExit(f"{path}: status {response.status_code}")
                inside = {(layer, kind): (at, q) for layer, kind, at, q in _marks}
                if n < 10:
                    continue  # warm-up
                for layer in range(layers):
                    t_in, q_in = inside[(layer, "in")]
                    t_out, q_out = inside[(layer, "out")]
                    spent, ran = t_out - t_in, q_out - q_in
                    if layer + 1 < layers:
                        c_in, cq_in = inside[(layer + 1, "in")]
                        c_out, cq_out = inside[(layer + 1, "out")]
                        spent -= c_out - c_in
                        ran -= cq_out - cq_in
                    own[layer].append(spent)
                    queries[layer] = ran
        finally:
            connection.force_debug_cursor = False
    names = [*stack, "(view phase: process_view hooks, URL, view, template)"]
    return [
        {"middleware": name, "median_us": round(statistics.median(own[k]) * 1e6, 1), "queries": queries[k]}
        for k, name in enumerate(names)
    ]


class Command(BaseCommand):
    help = "Print as JSON the in-process cost of each middleware on one page (median µs and queries)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--path", default="/bench/floor/list/")
        parser.add_argument("--repeat", type=int, default=300)

    def handle(self, *args, **options):
        client = signed_in_client(options["username"])
        client.cookies["django_language"] = "ko"
        stack = list(settings.MIDDLEWARE)
        rows = measure(client, options["path"], stack, options["repeat"])
        client.handler.load_middleware()  # the stack as configured, without the shims
        started = time.perf_counter()
        for _ in range(options["repeat"]):
            client.get(options["path"])
        whole_us = (time.perf_counter() - started) / options["repeat"] * 1e6
        self.stdout.write(json.dumps({"path": options["path"], "request_us": round(whole_us, 1), "layers": rows}))
