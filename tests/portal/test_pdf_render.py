"""The PDF helper: only project static files and data: URIs reach WeasyPrint.

A tiny HTTP server on 127.0.0.1 stands in for "the network": every test that renders
something pointing at it asserts the server received zero requests.
"""

from __future__ import annotations

import base64
import io
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from pypdf import PdfReader

from portal.pdf import PDF_BASE_URL, ForbiddenResource, fetch_allowed, make_fetcher, render_pdf

ROOT = Path(__file__).resolve().parents[2]


def _png() -> str:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (2, 2), "#c8102e").save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode()


PNG_1PX = _png()


class _Recorder(BaseHTTPRequestHandler):
    hits: list[str]

    def do_GET(self):  # noqa: N802 -- the http.server API
        self.server.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()
        self.wfile.write(base64.b64decode(PNG_1PX))

    def log_message(self, *args):  # keep the test output clean
        return


@pytest.fixture
def trap_server():
    """An HTTP server on 127.0.0.1 that records every request it receives."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    server.hits = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _fonts(pdf: bytes) -> set[str]:
    names = set()
    for page in PdfReader(io.BytesIO(pdf)).pages:
        for font in page["/Resources"].get("/Font", {}).values():
            names.add(str(font.get_object()["/BaseFont"]))
    return names


def test_fetcher_serves_project_static_files_and_data_uris():
    body, media_type, _ = fetch_allowed(PDF_BASE_URL + "static/fonts/pretendard/Pretendard-Regular.otf")
    assert (media_type, body) == ("font/otf", (ROOT / "static/fonts/pretendard/Pretendard-Regular.otf").read_bytes())

    body, media_type, _ = fetch_allowed(f"data:image/png;base64,{PNG_1PX}")
    assert (media_type, body) == ("image/png", base64.b64decode(PNG_1PX))

    body, media_type, _ = fetch_allowed("data:text/plain,hello%20world")
    assert (media_type, body) == ("text/plain", b"hello world")


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "file://" + str(ROOT / "static/fonts/pretendard/Pretendard-Regular.otf"),
        "http://example.com/logo.png",
        "https://example.com/static/pdf/award_notice.css",
        "ftp://example.com/x",
        PDF_BASE_URL + "etc/passwd",
        PDF_BASE_URL + "media/notices/x.pdf",
        PDF_BASE_URL + "static/../../etc/passwd",
        PDF_BASE_URL + "static/%2e%2e/%2e%2e/etc/passwd",
        PDF_BASE_URL + "static/pdf/missing.css",
        PDF_BASE_URL + "static//etc/passwd",
        # Django's own app static files are not the project's static directories.
        PDF_BASE_URL + "static/admin/css/base.css",
        "https://user@pdf-assets.invalid/static/pdf/award_notice.css",
        "https://pdf-assets.invalid:8443/static/pdf/award_notice.css",
        "data:image/png;base64",  # no comma: malformed
    ],
)
def test_fetcher_refuses_everything_else(url, trap_server):
    with pytest.raises(ForbiddenResource):
        fetch_allowed(url)
    fetcher = make_fetcher()
    with pytest.raises(ForbiddenResource):
        fetcher.fetch(url)
    assert fetcher.refused == [url]


def test_fetcher_refuses_the_local_network(trap_server):
    url = f"http://127.0.0.1:{trap_server.server_port}/secret.png"
    fetcher = make_fetcher()
    with pytest.raises(ForbiddenResource):
        fetcher.fetch(url)
    assert trap_server.hits == []


def test_rendering_a_template_with_forbidden_resources_fetches_nothing(tmp_path, settings, trap_server):
    origin = f"http://127.0.0.1:{trap_server.server_port}"
    (tmp_path / "pdf").mkdir()
    (tmp_path / "pdf" / "forbidden.html").write_text(
        "{% load static %}<!DOCTYPE html><html lang='ko'><head><meta charset='utf-8'>"
        f"<link rel='stylesheet' href='{origin}/evil.css'>"
        "<link rel='stylesheet' href='{% static 'pdf/award_notice.css' %}'>"
        "<style>@font-face { font-family: X; src: url(" + origin + "/font.otf); }"
        " body { background: url(file:///etc/passwd); }</style></head><body>"
        f"<p>한글 본문 Korean body</p><img src='{origin}/pixel.png' alt='remote'>"
        "<img src='file:///etc/passwd' alt='file'><img src='/etc/passwd' alt='path'>"
        f"<img src='data:image/png;base64,{PNG_1PX}' alt='inline'>"
        "</body></html>",
        encoding="utf-8",
    )
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path, *settings.TEMPLATES[0]["DIRS"]]}]
    fetcher = make_fetcher()

    pdf = render_pdf(template_name="pdf/forbidden.html", context={}, fetcher=fetcher)

    assert pdf.startswith(b"%PDF-")
    assert trap_server.hits == []
    # WeasyPrint may ask twice for one URL; what matters is which URLs and that all were refused.
    assert set(fetcher.refused) == {
        f"{origin}/evil.css",
        f"{origin}/font.otf",
        f"{origin}/pixel.png",
        "file:///etc/passwd",
        PDF_BASE_URL + "etc/passwd",
    }
    assert PDF_BASE_URL + "static/pdf/award_notice.css" in fetcher.fetched
    assert "data:" in fetcher.fetched
    assert "한글 본문" in PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert any("Pretendard" in name for name in _fonts(pdf))
