"""Reusable validators: the business registration number and PDF attachments by content.

Both are used by the model forms, the API serializers and the services alike, and raise
``ValidationError`` with messages that name the field so a person can correct it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import threading
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from portal.korean import particles

# 사업자등록번호: the first nine digits are weighted; the tenth is the check digit.
_BRN_WEIGHTS = (1, 3, 7, 1, 3, 7, 1, 3, 5)
_BRN_FORMAT = re.compile(r"^(\d{3})-?(\d{2})-?(\d{5})$", re.ASCII)  # ASCII digits only


def business_number_check_digit(first_nine: str) -> int:
    """The check digit of a business registration number from its first nine digits.

    sum(d_i * w_i) with weights 1,3,7,1,3,7,1,3,5, plus floor(d9 * 5 / 10);
    the check digit is (10 - sum mod 10) mod 10.
    """
    digits = [int(c) for c in first_nine]
    total = sum(d * w for d, w in zip(digits, _BRN_WEIGHTS, strict=True))
    total += (digits[8] * 5) // 10
    return (10 - total % 10) % 10


def normalise_business_number(value: str) -> str:
    """Ten digits without hyphens, or ``ValidationError`` naming the field.

    Accepts ``XXX-XX-XXXXX`` or ten digits; refuses a wrong check digit.
    """
    text = (value or "").strip()
    match = _BRN_FORMAT.match(text)
    if not match:
        raise ValidationError(
            _("Business registration number: enter 10 digits as XXX-XX-XXXXX or digits only."),
            code="business_number_format",
        )
    digits = "".join(match.groups())
    if business_number_check_digit(digits[:9]) != int(digits[9]):
        raise ValidationError(
            _("Business registration number: the check digit is wrong; please check the number."),
            code="business_number_check_digit",
        )
    if business_number_is_reserved(digits):
        raise ValidationError(
            particles(
                _(
                    "Business registration number: %(number)s is a placeholder that is never issued to an "
                    "organisation; enter the organisation's own number."
                )
                % {"number": f"{digits[:3]}-{digits[3:5]}-{digits[5:]}"}
            ),
            code="business_number_reserved",
        )
    return digits


def business_number_is_reserved(digits: str) -> bool:
    """Whether ten digits with a correct check digit are still never issued: a part of the
    number that is all zeros (the tax office ``000``, the kind of business ``00``, the serial
    ``0000`` — so ``000-00-00000``) or one digit repeated ten times."""
    office, kind, serial = digits[:3], digits[3:5], digits[5:9]
    return office == "000" or kind == "00" or serial == "0000" or len(set(digits)) == 1


def validate_business_number(value: str) -> None:
    normalise_business_number(value)


def make_business_number(prefix: str) -> str:
    """A valid number completing nine digits with their check digit (demo data and tests)."""
    return prefix + str(business_number_check_digit(prefix))


@dataclass(frozen=True)
class CheckedPdf:
    """What the PDF check learned: the bytes' digest, size and page count (the bytes stay in
    the uploaded file, on disk: the caller stores that file as it is)."""

    sha256: str
    size: int
    page_count: int


def _too_large(max_bytes: int) -> ValidationError:
    return ValidationError(
        _("Attachment: the file is larger than the limit of %(mb)s MB.") % {"mb": f"{max_bytes / (1024 * 1024):g}"},
        code="attachment_too_large",
    )


def active_content_labels() -> dict[str, str]:
    """What a person is told was found, for each kind of active content (``portal.pdf_inspect``)."""
    return {
        "javascript": _("JavaScript (/JavaScript, /JS)"),
        "open_action": _("an action run when the document opens (/OpenAction)"),
        "launch": _("a Launch action that starts another program or file (/Launch)"),
        "embedded_files": _("embedded files (/EmbeddedFiles)"),
        "xfa": _("an XFA form (/XFA)"),
        "rich_media": _("RichMedia content such as Flash or video (/RichMedia)"),
    }


def inspect_pdf_isolated(content: bytes) -> dict:
    """Run ``portal/pdf_inspect.py`` on ``content`` in a child process capped in memory and CPU
    time and killed after a wall-clock timeout (settings ``PDF_CHECK_MEMORY_MB``,
    ``PDF_CHECK_SECONDS``, ``PDF_CHECK_MAX_OBJECTS``); its JSON answer, or ``too_complex``."""
    import json
    import subprocess  # noqa: S404 -- a fixed command: this interpreter running the portal's own script
    import sys
    from pathlib import Path

    from django.conf import settings

    import portal

    seconds = getattr(settings, "PDF_CHECK_SECONDS", 10)
    command = [
        sys.executable, "-I", str(Path(portal.__file__).with_name("pdf_inspect.py")),
        str(getattr(settings, "PDF_CHECK_MEMORY_MB", 512)), str(seconds),
        str(getattr(settings, "PDF_CHECK_MAX_OBJECTS", 200_000)),
    ]  # fmt: skip
    try:
        done = subprocess.run(command, input=content, capture_output=True, timeout=seconds + 5, check=False)  # noqa: S603
    except subprocess.TimeoutExpired:
        return {"status": "too_complex", "reason": "time"}
    try:
        return json.loads(done.stdout)
    except ValueError:
        # Killed (SIGXCPU, SIGKILL past the CPU limit) or out of memory before it could answer.
        return {"status": "too_complex", "reason": "time" if done.returncode < 0 else "memory"}


class PdfInspector:
    """This process's PDF inspection server (``portal/pdf_inspect.py --server``): started on
    first use, one per web process, shared by its threads. Each file is looked at by a fresh
    child forked from it, limited in memory and CPU time and killed after the wall-clock limit
    (settings ``PDF_CHECK_MEMORY_MB``, ``PDF_CHECK_SECONDS``, ``PDF_CHECK_MAX_OBJECTS``)."""

    _lock = threading.Lock()
    _instance: PdfInspector | None = None

    def __init__(self):
        import subprocess  # noqa: S404 -- a fixed command: this interpreter running the portal's own script
        import sys
        from pathlib import Path

        import portal

        seconds = getattr(settings, "PDF_CHECK_SECONDS", 10)
        self.pid = os.getpid()
        self.proc = subprocess.Popen(  # noqa: S603
            [
                sys.executable, "-I", str(Path(portal.__file__).with_name("pdf_inspect.py")), "--server",
                str(getattr(settings, "PDF_CHECK_MEMORY_MB", 512)), str(seconds),
                str(getattr(settings, "PDF_CHECK_MAX_OBJECTS", 200_000)), str(seconds),
            ],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0,
        )  # fmt: skip
        self.waiting: dict[int, list] = {}
        self.next_id = 0
        self.write_lock = threading.Lock()
        threading.Thread(target=self._read_answers, daemon=True, name="pdf-inspector").start()

    @classmethod
    def get(cls) -> PdfInspector:
        with cls._lock:
            current = cls._instance
            if current is None or current.pid != os.getpid() or current.proc.poll() is not None:
                cls._instance = current = cls()
            return current

    def _read_answers(self) -> None:
        for line in self.proc.stdout:
            request_id, _, payload = line.decode().partition(" ")
            slot = self.waiting.get(int(request_id))
            if slot is not None:
                slot[1] = json.loads(payload)
                slot[0].set()
        for slot in list(self.waiting.values()):  # the server ended: nobody waits for ever
            slot[0].set()

    def inspect(self, path: str) -> dict:
        seconds = getattr(settings, "PDF_CHECK_SECONDS", 10)
        request = {
            "path": path, "memory_mb": getattr(settings, "PDF_CHECK_MEMORY_MB", 512), "cpu_seconds": seconds,
            "max_objects": getattr(settings, "PDF_CHECK_MAX_OBJECTS", 200_000), "wall_seconds": wall_seconds(),
        }  # fmt: skip
        with self.write_lock:
            self.next_id += 1
            request_id = request["id"] = self.next_id
            slot = self.waiting[request_id] = [threading.Event(), None]
            self.proc.stdin.write(json.dumps(request).encode() + b"\n")
        try:
            slot[0].wait(wall_seconds() + 5)
        finally:
            self.waiting.pop(request_id, None)
        return slot[1] or {"status": "too_complex", "reason": "time"}


def wall_seconds() -> float:
    """How long a check may take by the clock: its CPU limit bounds a hostile file; the clock
    only catches a child that hangs without using CPU, so it leaves room for a busy machine
    (a check waiting for a core in an upload rush is not a file that is too complex)."""
    return 2 * getattr(settings, "PDF_CHECK_SECONDS", 10) + 1


def inspect_pdf_path(path: str) -> dict:
    """``inspect_pdf_isolated`` for a file on disk, through this process's inspection server
    (no new interpreter per file); the one-shot child if the server cannot be used."""
    try:
        return PdfInspector.get().inspect(path)
    except OSError:  # the server could not be started or its pipe broke: the one-shot child
        with open(path, "rb") as handle:
            return inspect_pdf_isolated(handle.read())


def _uploaded_path(uploaded):
    """The path of ``uploaded``'s bytes on disk and a clean-up, copying it (in 64 kB pieces)
    to a temporary file if it is held in memory."""
    if hasattr(uploaded, "temporary_file_path"):
        return uploaded.temporary_file_path(), lambda: None
    handle = tempfile.NamedTemporaryFile(prefix="pdf-check-", suffix=".pdf", delete=False)  # noqa: SIM115
    with handle:
        uploaded.seek(0)
        for chunk in (
            uploaded.chunks(64 * 1024) if hasattr(uploaded, "chunks") else iter(lambda: uploaded.read(65536), b"")
        ):
            handle.write(chunk)
    return handle.name, lambda: os.unlink(handle.name)


def _sha256_of(uploaded) -> str:
    digest = getattr(uploaded, "sha256", None)  # computed while the upload streamed in (portal/uploads.py)
    if digest:
        return digest
    hasher = hashlib.sha256()
    uploaded.seek(0)
    for chunk in iter(lambda: uploaded.read(1024 * 1024), b""):
        hasher.update(chunk)
    return hasher.hexdigest()


def check_pdf(uploaded, *, max_bytes: int) -> CheckedPdf:
    """Accept ``uploaded`` only if it is a readable, unencrypted PDF with pages within
    ``max_bytes``, and without active content.

    The size is checked before the file is read; the content is judged by its magic bytes
    (``%PDF-``) and by a real parse with pypdf, never by its name or declared type. The parse
    runs in a separate process bounded in memory and time (``inspect_pdf_isolated``), and looks
    through every object for JavaScript, actions run on opening, Launch actions, embedded
    files, XFA forms and RichMedia: a file with any of them is refused, saying what was found.
    Messages say what is wrong in a person's words (never the parser's exception).
    """
    size = getattr(uploaded, "size", None)
    if size is not None and size > max_bytes:
        raise _too_large(max_bytes)
    # Never the whole file in this process: its first bytes, its last 2 kB, then the check's
    # child reads it from disk. The digest was computed while the upload streamed in.
    uploaded.seek(0, os.SEEK_END)
    size = uploaded.tell()
    if size > max_bytes:
        raise _too_large(max_bytes)
    if size == 0:
        raise ValidationError(_("Attachment: the file is empty."), code="attachment_empty")
    uploaded.seek(0)
    if uploaded.read(5) != b"%PDF-":
        raise ValidationError(
            _("Attachment: this file is not a PDF (its content does not start like a PDF), whatever its name."),
            code="attachment_not_pdf",
        )
    uploaded.seek(max(0, size - 2048))
    if b"%%EOF" not in uploaded.read(2048):
        raise ValidationError(
            _("Attachment: the PDF is damaged or truncated (its end marker is missing)."),
            code="attachment_damaged",
        )
    path, clean_up = _uploaded_path(uploaded)
    try:
        result = inspect_pdf_path(path)
    finally:
        clean_up()
    status = result.get("status")
    if status == "encrypted":
        raise ValidationError(
            _("Attachment: the PDF is encrypted or password-protected; upload an unprotected copy."),
            code="attachment_encrypted",
        )
    if status == "no_pages":
        raise ValidationError(_("Attachment: the PDF has no pages."), code="attachment_no_pages")
    if status == "too_complex":
        raise ValidationError(
            _(
                "Attachment: the PDF is too complex to check within the portal's limits (%(seconds)s seconds, "
                "%(mb)s MB); save it again as a plain PDF (for example with “Print to PDF”) and upload that copy."
            )
            % {
                "seconds": getattr(settings, "PDF_CHECK_SECONDS", 10),
                "mb": getattr(settings, "PDF_CHECK_MEMORY_MB", 512),
            },
            code="attachment_too_complex",
        )
    if status != "ok":
        raise ValidationError(
            _("Attachment: the PDF is damaged or truncated and cannot be read; save it again and upload the new copy."),
            code="attachment_damaged",
        )
    if result["active"]:
        labels = active_content_labels()
        raise ValidationError(
            _(
                "Attachment: the PDF contains active content, which is not accepted: %(found)s. Save it again "
                "without scripts, attachments or interactive forms (for example with “Print to PDF”) and upload that copy."
            )
            % {"found": ", ".join(labels.get(key, key) for key in result["active"])},
            code="attachment_active_content",
        )
    uploaded.seek(0)
    return CheckedPdf(sha256=_sha256_of(uploaded), size=size, page_count=result["pages"])
