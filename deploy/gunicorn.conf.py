"""gunicorn settings of the web processes (docker-compose.yml, the Dockerfile, bench/surge.py
and bench/uploads.py): ``gunicorn -c deploy/gunicorn.conf.py portal.wsgi:application``.

Threaded workers (``gthread``): a request mostly waits — for PostgreSQL (locks, the commit's
flush), Redis, the PDF check's child process, the disk — and while one thread waits another
runs. With sync workers a deadline rush of 200 people queued behind 2–3 processes one request
at a time (submit p95 22 s); with ``WEB_CONCURRENCY`` processes × ``WEB_THREADS`` threads as
many requests are in progress at once, and the database's own locks order what must be
ordered. Each thread holds at most one database connection (``CONN_MAX_AGE``): processes ×
threads must stay below PostgreSQL's ``max_connections`` together with the Celery workers.

Uploads stream to a temporary file and from it to storage (``portal/uploads.py``), so a thread
holds a few MB of a file at a time at most, not the file. 16 threads: in an upload rush most of a
thread's time is waiting for its file's PDF check, and with 8 the pages queued behind the
uploads for seconds (bench/RESULTS.md, round 6: with 16 all 200 files were stored in 10.0–15.6 s,
median 11.4, against 12.0–15.2 s with 8, and a process stayed below 130 MB).
"""

import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", "16"))
# Connections the kernel holds for the processes while every thread is busy (a rush at the deadline).
backlog = 2048
timeout = 60
graceful_timeout = 30
keepalive = 5
