"""The one place that reads the environment.

Every setting that differs between a laptop, CI and production comes from an
environment variable read here (django-environ). With nothing set, the portal
runs on embedded defaults: SQLite in ``var/`` and Celery tasks executed
in-process, so ``make run`` needs no server.
"""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# NOTE: a developer's .env is read when present; it is never committed.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def database_config() -> dict:
    """Return ``DATABASES['default']``: ``DATABASE_URL`` or the embedded SQLite file."""
    if env.str("DATABASE_URL", default=""):
        config = env.db_url("DATABASE_URL")
        if config["ENGINE"] == "django.db.backends.postgresql":
            # NOTE: verify pooled connections before use so a restarted database
            # costs one reconnect, not a failed request.
            config["CONN_HEALTH_CHECKS"] = True
            config["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
        return config
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(BASE_DIR / "var" / "db.sqlite3"),
        "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
    }


REDIS_URL: str = env.str("REDIS_URL", default="")
