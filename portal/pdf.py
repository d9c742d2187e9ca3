"""PDF rendering: the one place that imports WeasyPrint.

``render_pdf(template_name=..., context=...)`` renders a Django template to PDF bytes.
WeasyPrint only ever sees resources through :class:`StaticOnlyFetcher`:

* ``/static/<path>`` (resolved against :data:`PDF_BASE_URL`) is served from the project's
  own static directories (``settings.STATICFILES_DIRS``), found with Django's staticfiles
  finders; path traversal and files outside those directories are refused;
* ``data:`` URIs are decoded in memory (size-capped);
* everything else — ``http(s)://`` to any other host, ``file://``, ``ftp:``, other paths on
  the base host — raises :class:`ForbiddenResource`, so nothing leaves the process and no
  local file outside the static directories is read.

Templates therefore reference static files as ``{% static 'fonts/...' %}`` (a ``/static/``
URL); WeasyPrint joins it with :data:`PDF_BASE_URL`, an address under the reserved
``.invalid`` top-level domain that can never be resolved on a network.
"""

from __future__ import annotations

import base64
import logging
import mimetypes
from pathlib import Path
from urllib.parse import unquote, unquote_to_bytes, urlsplit

from django.conf import settings
from django.template.loader import render_to_string

logger = logging.getLogger(__name__)

# A base URL no network can resolve: only its /static/ paths mean anything, and those
# are answered from the project's static directories.
PDF_BASE_URL = "https://pdf-assets.invalid/"
_BASE_HOST = urlsplit(PDF_BASE_URL).netloc
# A data: URI larger than this is refused (QR codes and small logos are a few kB).
DATA_URI_MAX_BYTES = 2 * 1024 * 1024


class ForbiddenResource(ValueError):
    """The PDF fetcher refused a URL (not a project static file, not a data: URI)."""


def _static_roots() -> list[Path]:
    roots = []
    for entry in settings.STATICFILES_DIRS:
        directory = entry[1] if isinstance(entry, tuple | list) else entry
        roots.append(Path(directory).resolve())
    return roots


def resolve_static(path: str) -> Path:
    """Map a ``/static/...`` URL path to a file of the project's static directories.

    Raises :class:`ForbiddenResource` for anything else (other prefixes, traversal,
    files that exist elsewhere).
    """
    from django.contrib.staticfiles import finders
    from django.core.exceptions import SuspiciousFileOperation

    prefix = settings.STATIC_URL if settings.STATIC_URL.startswith("/") else "/" + settings.STATIC_URL
    if not path.startswith(prefix):
        raise ForbiddenResource(f"not a static file path: {path}")
    relative = unquote(path[len(prefix) :])
    if not relative or relative.startswith("/") or "\\" in relative or "\x00" in relative:
        raise ForbiddenResource(f"not a static file path: {path}")
    if any(part in ("..", "") for part in relative.split("/")):
        raise ForbiddenResource(f"not a static file path: {path}")
    try:
        found = finders.find(relative)
    except SuspiciousFileOperation as exc:
        raise ForbiddenResource(f"not a static file path: {path}") from exc
    if not found:
        raise ForbiddenResource(f"no such static file: {path}")
    resolved = Path(found).resolve()
    if not any(resolved.is_relative_to(root) for root in _static_roots()) or not resolved.is_file():
        raise ForbiddenResource(f"outside the project's static directories: {path}")
    return resolved


def decode_data_uri(url: str) -> tuple[bytes, str]:
    """Decode ``data:[<media type>][;base64],<data>`` into (bytes, media type)."""
    header, comma, payload = url[len("data:") :].partition(",")
    if not comma:
        raise ForbiddenResource("malformed data: URI")
    if len(payload) > DATA_URI_MAX_BYTES * 4 // 3 + 4:
        raise ForbiddenResource("data: URI too large")
    params = header.split(";")
    media_type = params[0].strip().lower() or "text/plain"
    try:
        body = base64.b64decode(payload, validate=False) if "base64" in params[1:] else unquote_to_bytes(payload)
    except ValueError as exc:
        raise ForbiddenResource("malformed data: URI") from exc
    return body, media_type


def fetch_allowed(url: str) -> tuple[bytes, str, str]:
    """The fetch policy as a plain function: (body, media type, final url) or ForbiddenResource.

    Used by :class:`StaticOnlyFetcher` and directly by tests.
    """
    if url[:5].lower() == "data:":
        body, media_type = decode_data_uri(url)
        return body, media_type, "data:"
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise ForbiddenResource(f"malformed URL: {url[:200]}") from exc
    if parts.scheme not in ("http", "https") or parts.netloc != _BASE_HOST or parts.username or parts.port:
        raise ForbiddenResource(f"refused: {url[:200]}")
    path = resolve_static(parts.path)
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if path.suffix.lower() == ".otf":
        media_type = "font/otf"
    return path.read_bytes(), media_type, url


def _fetcher_class():
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class StaticOnlyFetcher(URLFetcher):
        """WeasyPrint fetcher that answers only project static files and data: URIs.

        Refused URLs are recorded in ``refused`` and raise, so WeasyPrint skips them
        (it logs the failure and renders without the resource).
        """

        def __init__(self):
            super().__init__(allowed_protocols=("data", "https", "http"), allow_redirects=False)
            self.fetched: list[str] = []
            self.refused: list[str] = []

        def fetch(self, url, headers=None):
            try:
                body, media_type, final_url = fetch_allowed(url)
            except ForbiddenResource:
                self.refused.append(url)
                logger.warning("PDF renderer refused a resource: %s", url[:200])
                raise
            self.fetched.append(url if not url.startswith("data:") else "data:")
            return URLFetcherResponse(final_url, body, {"Content-Type": media_type})

        def open(self, url, data=None, timeout=None):  # the urllib OpenerDirector signature
            target = url.full_url if hasattr(url, "full_url") else url
            return self.fetch(target)

    return StaticOnlyFetcher


def make_fetcher():
    """A fresh restricted fetcher (one per rendering; it records what it served and refused)."""
    return _fetcher_class()()


def render_html_to_pdf(html: str, *, fetcher=None) -> bytes:
    """Render an HTML string with the restricted fetcher (for callers that already hold HTML)."""
    import weasyprint

    fetcher = fetcher or make_fetcher()
    document = weasyprint.HTML(string=html, base_url=PDF_BASE_URL, url_fetcher=fetcher, media_type="print")
    return document.write_pdf()


def render_pdf(*, template_name: str, context: dict, fetcher=None) -> bytes:
    """Render ``template_name`` with ``context`` (autoescaped Django template) to PDF bytes.

    Effects: none beyond CPU; fonts and images come only from the project's static files
    or data: URIs. Pass ``fetcher=make_fetcher()`` to inspect what was fetched or refused.
    """
    html = render_to_string(template_name, context)
    return render_html_to_pdf(html, fetcher=fetcher)


# WeasyPrint reports each rendering step at INFO; one line per step per notice is noise.
logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)


def render_pdf_with_anchors(*, template_name: str, context: dict, fetcher=None) -> tuple[bytes, dict]:
    """Like :func:`render_pdf`, and also where the elements with an ``id`` landed.

    Returns ``(pdf, anchors)``; ``anchors`` maps each id to ``(page index, (x1, y1, x2, y2))``,
    the element's border box in PDF points with the origin at the bottom-left of the page
    (the PDF's own coordinates), so a caller can place something — a signature field —
    exactly over a rendered element.
    """
    import weasyprint

    html = render_to_string(template_name, context)
    fetcher = fetcher or make_fetcher()
    document = weasyprint.HTML(string=html, base_url=PDF_BASE_URL, url_fetcher=fetcher, media_type="print").render()
    anchors = {}
    px_to_pt = 0.75  # CSS px are 1/96 in, PDF points 1/72 in
    for index, page in enumerate(document.pages):
        for name, (x1, y1, x2, y2) in page.anchors.items():
            box = (x1 * px_to_pt, (page.height - y2) * px_to_pt, x2 * px_to_pt, (page.height - y1) * px_to_pt)
            anchors.setdefault(name, (index, box))
    return document.write_pdf(), anchors
