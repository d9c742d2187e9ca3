"""Re-open a seeded phase for scoring and time its live ranking page in-process.

    python manage.py bench_live_ranking PHASE_ID USERNAME [--repeat 5]

The seeded selection phase is finalised; the evening a phase closes, the officer looks at
it before finalisation, when the ranking is computed over every submitted sheet on the
first request after a change and read from the cache afterwards. This command removes
the phase's frozen results (the benchmark database only), then prints as JSON the mean
time and SQL queries of a computed request (cache cleared before each) and of a cached one.
"""

import json
import time

from django.core.cache import cache
from django.core.management.base import BaseCommand
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from evaluations.enums import PhaseStatus
from evaluations.models import Phase, PhaseResult
from gpu_allocation.management.commands.bench_queries import signed_in_client


class Command(BaseCommand):
    help = "Time a re-opened phase's live ranking page, computed and cached (benchmark databases only)."

    def add_arguments(self, parser):
        parser.add_argument("phase_id", type=int)
        parser.add_argument("username")
        parser.add_argument("--repeat", type=int, default=5)

    def handle(self, *args, **options):
        phase = Phase.objects.get(pk=options["phase_id"])
        PhaseResult.objects.filter(phase=phase).delete()
        Phase.objects.filter(pk=phase.pk).update(status=PhaseStatus.SCORING)
        client = signed_in_client(options["username"])
        path = reverse("evaluations:phase_ranking", args=[phase.pk])

        def measure(cold: bool, repeat: int) -> tuple[float, int, int]:
            took, queries, status = [], 0, 0
            for _ in range(repeat):
                if cold:
                    cache.clear()
                started = time.perf_counter()
                with CaptureQueriesContext(connection) as ctx:
                    status = client.get(path).status_code
                took.append(time.perf_counter() - started)
                queries = len(ctx.captured_queries)
            return round(sum(took) / len(took) * 1000, 1), queries, status

        computed_ms, computed_queries, status = measure(True, options["repeat"])
        client.get(path)
        cached_ms, cached_queries, _ = measure(False, options["repeat"] * 4)
        self.stdout.write(
            json.dumps(
                {
                    "path": path,
                    "status": status,
                    "computed_ms": computed_ms,
                    "computed_queries": computed_queries,
                    "cached_ms": cached_ms,
                    "cached_queries": cached_queries,
                }
            )
        )
