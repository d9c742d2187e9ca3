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


def _s3_transfer_config():
    from boto3.s3.transfer import TransferConfig

    part = 8 * 1024 * 1024
    return TransferConfig(multipart_threshold=part, multipart_chunksize=part, max_concurrency=2)


def default_storage_config(media_root: Path) -> dict:
    """Return ``STORAGES['default']``: uploads, award notices and exports.

    ``STORAGE_BACKEND=s3`` puts them in an S3-compatible object store (django-storages),
    shared by every web and worker process on every machine; otherwise they live in
    ``media_root`` on this machine's disk (the demo and the tests).
    """
    backend = env.str("STORAGE_BACKEND", default="filesystem")
    if backend == "filesystem":
        return {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(media_root)}}
    if backend != "s3":
        raise ValueError(f"STORAGE_BACKEND must be 'filesystem' or 's3', not {backend!r}")
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env.str("AWS_STORAGE_BUCKET_NAME"),
            "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default="") or None,
            "region_name": env.str("AWS_S3_REGION_NAME", default="") or None,
            "access_key": env.str("AWS_ACCESS_KEY_ID", default="") or None,
            "secret_key": env.str("AWS_SECRET_ACCESS_KEY", default="") or None,
            # Self-hosted stores (SeaweedFS, MinIO, Ceph) answer on one host, bucket in the path.
            "addressing_style": env.str("AWS_S3_ADDRESSING_STYLE", default="path"),
            "signature_version": "s3v4",
            "location": env.str("AWS_LOCATION", default="media"),
            # Files are private: the portal streams each one after its own permission check,
            # never hands out a link to the store.
            "default_acl": None,
            "querystring_auth": True,
            # A name already taken gets a suffix instead of overwriting another upload.
            "file_overwrite": False,
            # An upload goes up from its temporary file in 8 MB parts, two at a time: a 20 MB
            # attachment holds at most 16 MB of a web process's memory, not boto3's default of
            # ten parts in flight (the 150 MB budget per web process, docs/consortia.md).
            "transfer_config": _s3_transfer_config(),
        },
    }
