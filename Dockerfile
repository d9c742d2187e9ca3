# Production image: gunicorn serves the portal; the same image runs the migrate step and
# Celery worker and beat. Healthchecks use only what is here (python, celery).
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DJANGO_SETTINGS_MODULE=portal.settings.production
RUN apt-get update && apt-get install -y --no-install-recommends \
        libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 gettext \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN SECRET_KEY=build ALLOWED_HOSTS=build python manage.py compilemessages --ignore='.venv*' -v0 \
    && SECRET_KEY=build ALLOWED_HOSTS=build REDIS_URL=redis://build:6379/0 python manage.py collectstatic --noinput -v0
# /srv/portal/static is where the migrate step collects the files the proxy serves; a new
# named volume mounted there takes this folder's owner. User id 101 is the nginx image's
# worker user: the upload bodies the proxy stores (readable by their owner only) and hands
# over by name are then readable here, and can be given back to the kernel once read
# (portal/uploads.py, portal/stored_multipart.py).
RUN useradd --create-home --uid 101 --user-group portal && mkdir -p /app/var/media /srv/portal/static \
    && chown -R portal /app/var /srv/portal/static
USER portal
EXPOSE 8000
ENV PORT=8000
CMD ["gunicorn", "-c", "deploy/gunicorn.conf.py", "portal.wsgi:application"]
