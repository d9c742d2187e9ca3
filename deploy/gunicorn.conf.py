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
holds a few MB of a file at a time at most, not the file. 8 threads: since the front proxy hands
an upload's stored body over (round 7), an upload keeps a thread busy for tens of milliseconds,
not seconds, and fewer of them at once share the processor better — in the 200-upload rush,
alternating runs gave upload p95 8.1–8.4 s with 8 threads against 8.6–8.8 s with 16, the pages
answering as fast, and the deadline rush of submits was the same with either (p95 31 against
29 ms; bench/RESULTS.md, round 8). Round 6, before the hand-over, had found 16 better than 8.
"""

import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", "8"))
# Connections the kernel holds for the processes while every thread is busy (a rush at the deadline).
backlog = 2048
timeout = 60
graceful_timeout = 30
keepalive = 5
