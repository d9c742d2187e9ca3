"""Settings shared by every mode; ``local``, ``test`` and ``production`` are thin layers."""

from django.utils.translation import gettext_lazy as _

from portal.env import BASE_DIR, REDIS_URL, database_config, default_storage_config, env

SECRET_KEY = env.str("SECRET_KEY", default="insecure-development-key-only-for-local-use")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_ID = 1
# Public address used in e-mails and on award notices (verification links).
PORTAL_BASE_URL = env.str("PORTAL_BASE_URL", default="http://127.0.0.1:8000")
# Number of reverse proxies in front of the portal whose X-Forwarded-For entries
# are trusted. 0 means the TCP peer address is the client (nothing spoofable).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
# The front proxy's received-time stamp (X-Request-Start) is believed only with this secret,
# which the proxy sends as X-Request-Start-Secret (and, if addresses are listed, only from
# them); otherwise the database's clock when handling begins is the received time (portal/received.py).
RECEIVED_STAMP_SECRET = env.str("RECEIVED_STAMP_SECRET", default="")
RECEIVED_STAMP_PROXIES = env.list("RECEIVED_STAMP_PROXIES", default=[])
# The front proxy's folder for upload bodies it hands over as files (portal/uploads.py);
# empty: bodies come over the socket only.
PROXY_BODY_DIR = env.str("PROXY_BODY_DIR", default="")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.sites",
    "django.contrib.messages",
    # Before staticfiles: `runserver` leaves static files to WhiteNoise, as every other server does.
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rules.apps.AutodiscoverRulesConfig",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_htmx",
    "template_partials",
    "django_celery_beat",
    "portal",
    "consortia",
    "evaluations",
    "gpu_allocation",
    "awards",
    "results",
    "reporting",
]

MIDDLEWARE = [
    # Outermost, so that every answer (health, static files, refusals, error pages) carries it.
    "portal.security_headers.PermissionsPolicyMiddleware",
    # First: /healthz is answered before the host check and the https redirect (portal/edge.py).
    "portal.edge.HealthCheckMiddleware",
    # Second: the received time of a request that changes something, before anything else (SPEC §4).
    "portal.received.ReceivedTimeMiddleware",
    "portal.edge.RequestQueueMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "portal.security_headers.CSPMiddleware",  # django-csp, its policy text built once
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Before any body is read (CSRF reads it in process_view, after every request phase).
    "portal.uploads.RequestSizeLimitMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "portal.middleware.RequestContextMiddleware",
    "portal.middleware.StaffTwoFactorMiddleware",
    "portal.middleware.RefusedAccessAuditMiddleware",
    "portal.middleware.AccessLogMiddleware",
    "portal.ratelimit.RateLimitedPageMiddleware",
]
# Access records of personal data are kept two years (portal/access_log.py).
ACCESS_LOG_RETENTION_DAYS = env.int("ACCESS_LOG_RETENTION_DAYS", default=730)

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"
AUTH_USER_MODEL = "portal.User"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context_processors.navigation",
            ],
        },
    }
]

DATABASES = {"default": database_config()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Caches and sessions never live in one process's memory once Redis is configured.
if REDIS_URL:
    # Failing open: with Redis unreachable a read is a miss and a page still answers (portal/cache.py).
    CACHES = {"default": {"BACKEND": "portal.cache.FailOpenRedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
SESSION_ENGINE = "django.contrib.sessions.backends.db"
# Idle expiry: a session lapses after 30 minutes without a request...
SESSION_COOKIE_AGE = env.int("SESSION_IDLE_SECONDS", default=30 * 60)
# The expiry slides when RequestContextMiddleware touches the session, at most once a
# minute: idle expiry stays exact to the minute without a session write on every request.
SESSION_SAVE_EVERY_REQUEST = False
SESSION_TOUCH_SECONDS = env.int("SESSION_TOUCH_SECONDS", default=60)
# ...and whatever the activity, after 12 hours (checked by RequestContextMiddleware).
SESSION_ABSOLUTE_SECONDS = env.int("SESSION_ABSOLUTE_SECONDS", default=12 * 60 * 60)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "portal.validators.CharacterClassPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "rules.permissions.ObjectPermissionBackend",
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]

# django-allauth: sign-up with e-mail verification, log-in by username or e-mail,
# TOTP second factor, rate limits on failed logins per address and per account.
ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "username*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = True
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_ADAPTER = "portal.adapters.PortalAccountAdapter"
ACCOUNT_RATE_LIMITS = {
    "login_failed": "10/m/ip,5/5m/key",
    "signup": "20/m/ip",
    "reset_password": "20/m/ip,5/m/key",
}
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[IAFM] "
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "IAFM Portal"
LOGIN_REDIRECT_URL = "portal:home"
LOGIN_URL = "account_login"

LANGUAGE_CODE = "ko"
LANGUAGES = [("ko", _("Korean")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Seoul"
USE_I18N = True
USE_TZ = True
USE_THOUSAND_SEPARATOR = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "var" / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Uploaded attachments and generated PDFs go through Django's storage API and live
# outside the web root; an S3-compatible store can replace this by configuration.
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "var" / "media")
STORAGES = {
    # STORAGE_BACKEND=s3 selects the shared object store (portal/env.py).
    "default": default_storage_config(MEDIA_ROOT),
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
# The largest body of any request but an attachment upload (whose limit is the programme's
# per-file limit): refused with 413 from Content-Length, before it is read (portal/uploads.py).
REQUEST_BODY_MAX_MB = env.int("REQUEST_BODY_MAX_MB", default=25)
# Uploaded PDFs are parsed in a child process capped at this much memory and CPU time, looking
# through at most this many objects (consortia/validators.py, portal/pdf_inspect.py).
PDF_CHECK_MEMORY_MB = env.int("PDF_CHECK_MEMORY_MB", default=512)
PDF_CHECK_SECONDS = env.int("PDF_CHECK_SECONDS", default=10)
PDF_CHECK_MAX_OBJECTS = env.int("PDF_CHECK_MAX_OBJECTS", default=200_000)
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FILES = 10

EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="IAFM Portal <no-reply@iafm.example.kr>")
# A mail server that accepts the connection and then says nothing must not hold a worker.
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
# A mail server answering 4xx or unreachable is asked again for this long after its first
# refusal, then the message is failed and an alert logged (portal/mail.py).
MAIL_RETRY_SECONDS = env.int("MAIL_RETRY_SECONDS", default=60 * 60)
# Media on the local disk: a write cut short (the disk full) leaves no partial file behind
# and fails the request with 507 (portal/storage.py, portal/outage.py).
if STORAGES["default"]["BACKEND"] == "django.core.files.storage.FileSystemStorage":
    STORAGES["default"]["BACKEND"] = "portal.storage.MediaStorage"

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        # DRF's token, refused to officers and administrators without TOTP (portal/api_auth.py).
        "portal.api_auth.StaffTokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "portal.api.exception_handler",
    # The API contract (docs/api.md): bodies are JSON (uploads declare multipart themselves);
    # every datetime leaves in one form, written by the renderer's encoder.
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": [
        "portal.api_renderers.PortalJSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DATETIME_FORMAT": None,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "IAFM Portal API",
    "DESCRIPTION": "Independent AI Foundation Model Project portal (독자 AI 파운데이션 모델 프로젝트).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Request and response components differ (read-only fields are not asked for), and the
    # schema is generated in English whatever the caller's language.
    "COMPONENT_SPLIT_REQUEST": True,
    "DEFAULT_GENERATOR_CLASS": "portal.api.PortalSchemaGenerator",
    # Swagger UI from the installed sidecar package: no CDN, CSP-compatible.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Every operation documents the portal's error answers (400/401/403/404/409).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "portal.api.document_error_responses",
    ],
    # Several models have a "status"/"state" field with their own choices; name each set.
    "ENUM_NAME_OVERRIDES": {
        "ApplicationStateEnum": "consortia.enums.ApplicationState",
        "InvitationStateEnum": "consortia.enums.InvitationState",
        "PhaseStatusEnum": "evaluations.enums.PhaseStatus",
        "AssignmentStatusEnum": "evaluations.enums.AssignmentStatus",
        "AppealStatusEnum": "evaluations.enums.AppealStatus",
        "DecisionEnum": "evaluations.enums.Decision",
        "JobStatusEnum": "gpu_allocation.enums.RunStatus",
    },
}

# Content-Security-Policy: scripts only from our own static files; inline styles are
# allowed because progress bars and charts set widths through style attributes.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
    }
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Celery. With REDIS_URL: Redis is broker and result store. Without: tasks run
# in-process (eagerly) so the demo needs no server; production refuses that mode
# (see portal/checks.py).
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
# With a worker, each change of a live ranking's inputs has it recomputed into the cache
# in the background (in-process it would only slow the reviewer's request down).
EVALUATIONS_WARM_LIVE_RANKING = env.bool("EVALUATIONS_WARM_LIVE_RANKING", default=not CELERY_TASK_ALWAYS_EAGER)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
# Late acknowledgement: a task is removed from the queue only after it finished, so
# a killed worker leads to redelivery. Only idempotent tasks set acks_late themselves.
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# One message at a time per worker process: long allocation and PDF jobs must not
# sit prefetched behind another long job.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Redelivery of unacknowledged messages after this many seconds; longer than the
# longest task's hard time limit so a running task is never handed out twice.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)}
CELERY_RESULT_EXPIRES = 3600
# Progress and outcomes live on database rows; results are stored only for tasks that
# ask (the health ping). Publishing then never waits on the result store.
CELERY_TASK_IGNORE_RESULT = True
# A web request never waits long on the broker.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_SOFT_TIME_LIMIT = 600
CELERY_TASK_TIME_LIMIT = 900
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# An executing allocation run refreshes its heartbeat this often; one whose heartbeat is
# older than the stale limit lost its worker and is handed to another by the reclaim
# (beat, every ALLOCATION_RECLAIM_SECONDS): recovered within about two minutes whatever
# the broker's visibility timeout.
ALLOCATION_HEARTBEAT_SECONDS = env.float("ALLOCATION_HEARTBEAT_SECONDS", default=10.0)
ALLOCATION_RUN_STALE_SECONDS = env.float("ALLOCATION_RUN_STALE_SECONDS", default=60.0)
ALLOCATION_RECLAIM_SECONDS = env.float("ALLOCATION_RECLAIM_SECONDS", default=30.0)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.security.DisallowedHost": {"level": "ERROR"}},
}

# Letterhead printed on award notices.
NOTICE_ISSUER_KO = env.str("NOTICE_ISSUER_KO", default="과학기술정보통신부")
NOTICE_ISSUER_EN = env.str("NOTICE_ISSUER_EN", default="Ministry of Science and ICT")
# The ministry's signing key for award notices (PAdES, docs/notices.md "Signatures"). Files
# named by the environment of the Celery worker; the key never enters the database or the
# repository. NOTICE_SIGNING_KEY_FILE: a PKCS#12 file, or a PEM private key together with
# NOTICE_SIGNING_CERT_FILE; NOTICE_SIGNING_CHAIN_FILE: intermediate certificates (PEM);
# the passphrase in NOTICE_SIGNING_PASSPHRASE or in the file NOTICE_SIGNING_PASSPHRASE_FILE.
# Without a usable key, issuing fails with a message; no notice is ever issued unsigned.
NOTICE_SIGNING_KEY_FILE = env.str("NOTICE_SIGNING_KEY_FILE", default="")
NOTICE_SIGNING_CERT_FILE = env.str("NOTICE_SIGNING_CERT_FILE", default="")
NOTICE_SIGNING_CHAIN_FILE = env.str("NOTICE_SIGNING_CHAIN_FILE", default="")
NOTICE_SIGNING_PASSPHRASE = env.str("NOTICE_SIGNING_PASSPHRASE", default="")
NOTICE_SIGNING_PASSPHRASE_FILE = env.str("NOTICE_SIGNING_PASSPHRASE_FILE", default="")
# Root certificates (PEM) the verification page trusts for notice signatures.
NOTICE_SIGNING_TRUST_ROOTS = env.str("NOTICE_SIGNING_TRUST_ROOTS", default="")
NOTICE_SIGNING_LOCATION = env.str("NOTICE_SIGNING_LOCATION", default="Sejong, Republic of Korea")
# An RFC 3161 timestamp authority (PAdES B-T); empty: no timestamp and no network use.
NOTICE_TSA_URL = env.str("NOTICE_TSA_URL", default="")
# Only a Celery worker signs; True lets another process sign (tests, the bench). With
# Celery in-process (no broker: the embedded `make run`) the web process is the worker.
NOTICE_SIGNING_OUTSIDE_WORKER = env.bool("NOTICE_SIGNING_OUTSIDE_WORKER", default=CELERY_TASK_ALWAYS_EAGER)
# Where seed_demo writes the demo CA and signing certificate (ignored by git).
NOTICE_SIGNING_DEMO_DIR = BASE_DIR / "var" / "signing"

# Static files: collected into STATIC_ROOT in production; found in place otherwise.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = env.bool("WHITENOISE_AUTOREFRESH", default=True)
# /favicon.ico (and any other file a browser asks for at the site's root) from static/root/.
WHITENOISE_ROOT = BASE_DIR / "static" / "root"
# STATIC_COLLECTED=1 (`make run`, after collectstatic): serve the collected copies as production
# does, with their Brotli and gzip copies (portal/staticfiles.py); with DEBUG off, also by
# hashed names with far-future caching.
if env.bool("STATIC_COLLECTED", default=False):
    STORAGES["staticfiles"] = {"BACKEND": "portal.staticfiles.PortalStaticFilesStorage"}
    WHITENOISE_USE_FINDERS = False
    WHITENOISE_AUTOREFRESH = False

# Periodic jobs (celery beat): drain the outbox of anything published while the broker was down.
# ...and make a published phase's results final once its appeal window has closed.
# ...and prune access records past their retention once a day.
# The outbox (portal/outbox.py): a row published this long ago whose effect is still not
# recorded is published again (the broker lost it, or its worker died); a refused effect
# is tried again after a back-off doubling from the base up to the maximum.
OUTBOX_REPUBLISH_SECONDS = env.float("OUTBOX_REPUBLISH_SECONDS", default=5 * 60.0)
OUTBOX_RETRY_BASE_SECONDS = env.float("OUTBOX_RETRY_BASE_SECONDS", default=30.0)
OUTBOX_RETRY_MAX_SECONDS = env.float("OUTBOX_RETRY_MAX_SECONDS", default=10 * 60.0)
CELERY_BEAT_SCHEDULE = {
    "outbox-drain": {"task": "portal.outbox_drain", "schedule": env.float("OUTBOX_SWEEP_SECONDS", default=30.0)},
    "access-log-prune": {"task": "portal.access_log_prune", "schedule": 24 * 60 * 60.0},
    "phases-make-final": {"task": "evaluations.make_final_due", "schedule": 15 * 60.0},
    # Reminders two days and one day before a scoring window closes (each sent once).
    "scoring-reminders": {"task": "evaluations.send_scoring_reminders", "schedule": 10 * 60.0},
}
