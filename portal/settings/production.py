"""Production: everything from the environment, secure transport, no embedded defaults."""

from portal.settings.base import *  # noqa: F403 -- a settings layer extends the base namespace

DEBUG = False
SECRET_KEY = env.str("SECRET_KEY")  # noqa: F405 -- required: no default in production
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")  # noqa: F405
# The public address (e-mail links, award notices' verification URL and QR code): required,
# no development default (system check portal.E003).
PORTAL_BASE_URL = env.str("PORTAL_BASE_URL", default="")  # noqa: F405
PORTAL_BASE_URL_REQUIRED = True
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)  # noqa: F405
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = 31536000
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
# Hashed names and pre-compressed copies (WhiteNoise), Brotli at quality 6 (portal/staticfiles.py).
STORAGES["staticfiles"] = {"BACKEND": "portal.staticfiles.PortalStaticFilesStorage"}  # noqa: F405
WHITENOISE_AUTOREFRESH = False
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")  # noqa: F405
# The image collects static files at build time; a test or a host may collect elsewhere.
STATIC_ROOT = env.path("STATIC_ROOT", default=STATIC_ROOT)  # noqa: F405
