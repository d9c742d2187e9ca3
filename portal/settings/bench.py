"""Benchmarks (``bench/run.py``): the local settings, with the benchmark floors mounted.

The floors (``/bench/floor/…``) live only in ``portal.bench_urls``; no other settings
module serves that URLconf (``tests/security/test_headers_redirects.py`` checks that the
production URLconf resolves none of them).
"""

from portal.settings.local import *  # noqa: F403 -- a settings layer extends the base namespace

ROOT_URLCONF = "portal.bench_urls"
