"""Small PDFs with active content, built with pypdf for the upload tests.

Each builder returns the bytes of a one-page PDF that a reader would open normally, plus
one kind of active content put where real documents carry it.
"""

from __future__ import annotations

import io
import random
import zlib

from pypdf import PdfWriter
from pypdf.generic import (
    ArrayObject,
    DecodedStreamObject,
    DictionaryObject,
    NameObject,
    NumberObject,
    TextStringObject,
)


def _writer() -> PdfWriter:
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    return writer


def _bytes(writer: PdfWriter) -> bytes:
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _js_action(code: str = "app.alert('hello');") -> DictionaryObject:
    return DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Action"),
            NameObject("/S"): NameObject("/JavaScript"),
            NameObject("/JS"): TextStringObject(code),
        }
    )


def plain() -> bytes:
    return _bytes(_writer())


def open_action_javascript() -> bytes:
    """JavaScript run when the document opens (/OpenAction → /S /JavaScript)."""
    writer = _writer()
    writer._root_object[NameObject("/OpenAction")] = writer._add_object(_js_action())
    return _bytes(writer)


def names_javascript() -> bytes:
    """A document-level script in the /Names /JavaScript tree."""
    writer = _writer()
    tree = DictionaryObject(
        {NameObject("/Names"): ArrayObject([TextStringObject("init"), writer._add_object(_js_action())])}
    )
    writer._root_object[NameObject("/Names")] = DictionaryObject({NameObject("/JavaScript"): writer._add_object(tree)})
    return _bytes(writer)


def launch_action() -> bytes:
    """A /Launch action that opens another program, on the page's additional actions."""
    writer = _writer()
    launch = DictionaryObject(
        {
            NameObject("/S"): NameObject("/Launch"),
            NameObject("/F"): TextStringObject("cmd.exe"),
        }
    )
    writer.pages[0][NameObject("/AA")] = DictionaryObject({NameObject("/O"): writer._add_object(launch)})
    return _bytes(writer)


def embedded_file() -> bytes:
    """A file attached to the document (/Names /EmbeddedFiles)."""
    writer = _writer()
    writer.add_attachment("payload.exe", b"MZ\x90\x00 not really a program")
    return _bytes(writer)


def xfa_form() -> bytes:
    """An XFA form in the AcroForm dictionary."""
    writer = _writer()
    xfa = DecodedStreamObject()
    xfa.set_data(b"<xdp:xdp xmlns:xdp='http://ns.adobe.com/xdp/'></xdp:xdp>")
    writer._root_object[NameObject("/AcroForm")] = DictionaryObject(
        {NameObject("/Fields"): ArrayObject(), NameObject("/XFA"): writer._add_object(xfa)}
    )
    return _bytes(writer)


def rich_media() -> bytes:
    """A RichMedia (Flash) annotation on the page."""
    writer = _writer()
    annotation = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Annot"),
            NameObject("/Subtype"): NameObject("/RichMedia"),
            NameObject("/Rect"): ArrayObject([NumberObject(0), NumberObject(0), NumberObject(100), NumberObject(100)]),
        }
    )
    writer.pages[0][NameObject("/Annots")] = ArrayObject([writer._add_object(annotation)])
    return _bytes(writer)


def escaped_name_javascript() -> bytes:
    """/OpenAction JavaScript spelled with #xx escapes (/J#61vaScript, /J#53): a byte search
    for "/JavaScript" misses it, a PDF reader does not."""
    data = open_action_javascript()
    return data.replace(b"/S /JavaScript", b"/S /J#61vaScript").replace(b"/JS ", b"/J#53 ")


def javascript_in_object_stream(*, padding: int = 0, unreadable: bool = False) -> bytes:
    """The script's action dictionary inside a compressed object stream (PDF 1.5), so its
    names never appear in the file's bytes. ``padding``: that many random bytes after it in
    the stream (a large object stream); ``unreadable``: the catalog also refers to an object
    whose cross-reference entry points at nonsense."""
    head = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
    inner = b"<< /Type /Action /S /JavaScript /JS (app.alert\\(1\\)) >>"
    index = b"5 0 "
    objstm_body = index + inner + (b"\n" + random.Random(15).randbytes(padding) if padding else b"")
    compressed = zlib.compress(objstm_body)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R /OpenAction 5 0 R%s >>" % (b" /PieceInfo 7 0 R" if unreadable else b""),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
        b"<< /Type /ObjStm /N 1 /First %d /Filter /FlateDecode /Length %d >>\nstream\n" % (len(index), len(compressed))
        + compressed
        + b"\nendstream",
    ]
    body = bytearray(head)
    offsets = []
    for number, obj in enumerate(objects, start=1):
        offsets.append(len(body))
        body += b"%d 0 obj\n" % number + obj + b"\nendobj\n"
    nonsense = len(body)
    if unreadable:
        body += b"7 0 obj\n<<<<<<<<\n"  # a dictionary that never begins: pypdf cannot read it
    # A cross-reference stream (object 6): objects 1-4 in the file, object 5 in object stream 4,
    # object 7 (if any) at the nonsense.
    xref_offset = len(body)
    rows = [b"\x00\x00\x00\x00\xff\xff"]
    rows += [b"\x01" + offset.to_bytes(4, "big") + b"\x00" for offset in offsets]
    rows += [b"\x02" + (4).to_bytes(4, "big") + b"\x00"]
    size = 6
    if unreadable:
        rows += [b"\x01" + xref_offset.to_bytes(4, "big") + b"\x00", b"\x01" + nonsense.to_bytes(4, "big") + b"\x00"]
        size = 8
    data = b"".join(rows)
    body += b"6 0 obj\n<< /Type /XRef /Size %d /W [1 4 1] /Root 1 0 R /Length %d >>\nstream\n" % (size, len(data))
    body += data + b"\nendstream\nendobj\n"
    body += b"startxref\n%d\n%%%%EOF\n" % xref_offset
    return bytes(body)


def javascript_after_a_large_image(megabytes: float = 2) -> bytes:
    """A page drawing a photo of ``megabytes`` MB, and JavaScript run on opening written
    after the photo's bytes."""
    writer = _writer()
    image = DecodedStreamObject()
    image._data = random.Random(18).randbytes(int(megabytes * 1024 * 1024))
    image.update(
        {
            NameObject("/Type"): NameObject("/XObject"),
            NameObject("/Subtype"): NameObject("/Image"),
            NameObject("/Width"): NumberObject(1000),
            NameObject("/Height"): NumberObject(1000),
            NameObject("/ColorSpace"): NameObject("/DeviceRGB"),
            NameObject("/BitsPerComponent"): NumberObject(8),
            NameObject("/Filter"): NameObject("/DCTDecode"),
        }
    )
    writer.pages[0][NameObject("/Resources")] = DictionaryObject(
        {NameObject("/XObject"): DictionaryObject({NameObject("/Im0"): writer._add_object(image)})}
    )
    writer._root_object[NameObject("/OpenAction")] = writer._add_object(_js_action())
    return _bytes(writer)


ACTIVE = {
    "open-action javascript": (open_action_javascript, "JavaScript"),
    "names javascript": (names_javascript, "JavaScript"),
    "launch action": (launch_action, "/Launch"),
    "embedded file": (embedded_file, "/EmbeddedFiles"),
    "xfa form": (xfa_form, "/XFA"),
    "rich media": (rich_media, "/RichMedia"),
    "escaped names": (escaped_name_javascript, "JavaScript"),
    "object stream": (javascript_in_object_stream, "JavaScript"),
    "after a 2 MB image": (javascript_after_a_large_image, "JavaScript"),
    "in a 2 MB object stream": (lambda: javascript_in_object_stream(padding=2 * 1024 * 1024), "JavaScript"),
    "object stream beside an unreadable object": (lambda: javascript_in_object_stream(unreadable=True), "JavaScript"),
}


def many_objects(count: int) -> bytes:
    """A plain page plus ``count`` small objects reachable from the catalog (written by hand:
    pypdf's writer would take longer than the check)."""
    head = b"%PDF-1.7\n"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R /PieceInfo 4 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
        b"[" + b" ".join(b"%d 0 R" % n for n in range(5, 5 + count)) + b"]",
    ]
    objects += [b"<< /N %d >>" % n for n in range(count)]
    body = bytearray(head)
    offsets = []
    for number, obj in enumerate(objects, start=1):
        offsets.append(len(body))
        body += b"%d 0 obj\n" % number + obj + b"\nendobj\n"
    xref_offset = len(body)
    body += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    body += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    body += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref_offset)
    return bytes(body)


def decompression_bomb(megabytes: int = 200) -> bytes:
    """A page whose content stream inflates from a few hundred kB to ``megabytes`` MB."""
    writer = _writer()
    stream = DecodedStreamObject()
    stream.set_data(b"")
    page = writer.pages[0]
    content = zlib.compress(b"0" * (megabytes * 1024 * 1024), 9)
    encoded = writer._add_object(stream)
    stream_obj = encoded.get_object()
    stream_obj._data = content
    stream_obj[NameObject("/Filter")] = NameObject("/FlateDecode")
    page[NameObject("/Contents")] = encoded
    return _bytes(writer)
