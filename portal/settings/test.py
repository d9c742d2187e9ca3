"""Test settings: fast hashing, mail kept in memory, static files found in place."""

from portal.settings.base import *  # noqa: F403 -- a settings layer extends the base namespace

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# A worker started by a fault test may be pointed at a real SMTP server instead.
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.locmem.EmailBackend")  # noqa: F405
MEDIA_ROOT = BASE_DIR / "var" / "test-media"  # noqa: F405
STORAGES["default"]["OPTIONS"]["location"] = str(MEDIA_ROOT)  # noqa: F405
# Tests exercise rate limits explicitly; ordinary tests log in many times.
ACCOUNT_RATE_LIMITS = {**ACCOUNT_RATE_LIMITS, "login_failed": "10/m/ip,5/5m/key"}  # noqa: F405
if not REDIS_URL:  # noqa: F405
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Tasks run in-process in tests, with or without REDIS_URL; tests that need a real
# worker start one and switch this off for their duration (tests/conftest.py).
# A worker process started by a test sets CELERY_TASK_ALWAYS_EAGER=0, so that what it
# publishes itself (retries, follow-up tasks) goes through the broker too.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=True)  # noqa: F405
# Scoring tests submit many sheets; the background ranking warm-up is tested on its own.
EVALUATIONS_WARM_LIVE_RANKING = env.bool("EVALUATIONS_WARM_LIVE_RANKING", default=False)  # noqa: F405
# A test client marked as re-authenticated stays so for the whole run; the tests of the
# re-authentication itself set the window they check.
ACCOUNT_REAUTHENTICATION_TIMEOUT = 3600
# Tests sign award notices in their own process too (eager tasks, direct service calls);
# the key is a test CA made per test session (tests/conftest.py), a worker gets it by env.
NOTICE_SIGNING_OUTSIDE_WORKER = env.bool("NOTICE_SIGNING_OUTSIDE_WORKER", default=True)  # noqa: F405
