"""Reusable validators: the business registration number and PDF attachments by content.

Both are used by the model forms, the API serializers and the services alike, and raise
``ValidationError`` with messages that name the field so a person can correct it.
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

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
    return digits


def validate_business_number(value: str) -> None:
    normalise_business_number(value)


def make_business_number(prefix: str) -> str:
    """A valid number completing nine digits with their check digit (demo data and tests)."""
    return prefix + str(business_number_check_digit(prefix))


@dataclass(frozen=True)
class CheckedPdf:
    """What the PDF check learned: the bytes' digest, size and page count."""

    sha256: str
    size: int
    page_count: int
    content: bytes


def check_pdf(uploaded, *, max_bytes: int) -> CheckedPdf:
    """Accept ``uploaded`` only if it is a readable, unencrypted PDF with pages within ``max_bytes``.

    The size is checked before the file is read; the content is judged by its magic bytes
    (``%PDF-``) and by a real parse with pypdf, never by its name or declared type.
    """
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    size = getattr(uploaded, "size", None)
    if size is not None and size > max_bytes:
        raise ValidationError(
            _("Attachment: the file is larger than the limit of %(mb)s MB.") % {"mb": max_bytes // (1024 * 1024)},
            code="attachment_too_large",
        )
    if hasattr(uploaded, "seek"):
        uploaded.seek(0)
    content = uploaded.read(max_bytes + 1)
    if len(content) > max_bytes:
        raise ValidationError(
            _("Attachment: the file is larger than the limit of %(mb)s MB.") % {"mb": max_bytes // (1024 * 1024)},
            code="attachment_too_large",
        )
    if len(content) == 0:
        raise ValidationError(_("Attachment: the file is empty."), code="attachment_empty")
    if not content.startswith(b"%PDF-"):
        raise ValidationError(
            _("Attachment: this file is not a PDF (its content does not start like a PDF), whatever its name."),
            code="attachment_not_pdf",
        )
    if b"%%EOF" not in content[-2048:]:
        raise ValidationError(
            _("Attachment: the PDF is damaged or truncated (its end marker is missing)."),
            code="attachment_damaged",
        )
    try:
        reader = PdfReader(io.BytesIO(content), strict=False)
        if reader.is_encrypted:
            raise ValidationError(
                _("Attachment: the PDF is encrypted or password-protected; upload an unprotected copy."),
                code="attachment_encrypted",
            )
        pages = len(reader.pages)
        # Touch every page so a truncated body is found now rather than by a reviewer.
        for page in reader.pages:
            page.get_contents()
    except ValidationError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError, OSError) as exc:
        raise ValidationError(
            _("Attachment: the PDF is damaged or truncated and cannot be read (%(reason)s).")
            % {"reason": type(exc).__name__},
            code="attachment_damaged",
        ) from exc
    if pages == 0:
        raise ValidationError(_("Attachment: the PDF has no pages."), code="attachment_no_pages")
    return CheckedPdf(sha256=hashlib.sha256(content).hexdigest(), size=len(content), page_count=pages, content=content)
