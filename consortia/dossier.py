"""Printable documents of a submitted version: the receipt PDF and the dossier (SPEC §4).

Both are rendered with WeasyPrint through ``portal.pdf.render_pdf`` from the version's frozen
content only (``consortia.versions.read_version``), never from the editable draft, in the
language of the request. The dossier is a ZIP: ``dossier.pdf`` (every frozen field, the
members and the attachment list with each file's SHA-256), the attachment files exactly as
they were frozen (a stored file whose SHA-256 no longer matches is left out and the PDF says
so), and ``SHA256SUMS`` for checking them. Access is decided by the views, as for attachments.
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from dataclasses import dataclass

from django.utils import timezone

from consortia.models import ApplicationVersion, Attachment
from consortia.versions import VersionAttachment, VersionContent, read_version
from portal.formatting import kst
from portal.pdf import render_pdf


@dataclass(frozen=True)
class DossierFile:
    """An attachment of the version and whether the stored file is the frozen one."""

    item: VersionAttachment
    attachment: Attachment | None
    included: bool
    zip_name: str


def _safe_name(name: str) -> str:
    """A file name that is safe inside a ZIP on every system (no directories, no control characters)."""
    base = re.sub(r"[\x00-\x1f\\/:*?\"<>|]+", "_", name).strip(" .") or "attachment"
    return base if base.lower().endswith(".pdf") else base + ".pdf"


def dossier_files(version: ApplicationVersion, frozen: VersionContent) -> list[DossierFile]:
    """The version's attachments matched with their stored files (one query)."""
    ids = [a.id for a in frozen.attachments if a.id is not None]
    stored = {a.pk: a for a in Attachment.objects.filter(application_id=version.application_id, pk__in=ids)}
    files = []
    for index, item in enumerate(frozen.attachments, 1):
        attachment = stored.get(item.id)
        included = attachment is not None and bool(item.sha256) and attachment.sha256 == item.sha256
        files.append(
            DossierFile(
                item=item,
                attachment=attachment,
                included=included,
                zip_name=f"attachments/{index:02d}-{_safe_name(item.original_name or item.name)}",
            )
        )
    return files


def _context(version: ApplicationVersion, *, files: list[DossierFile] | None = None) -> dict:
    frozen = read_version(version)
    application = version.application
    programme = application.programme
    return {
        "version": version,
        "c": frozen,
        "programme": programme,
        "received_kst": kst(version.submitted_at),
        "deadline_kst": kst(programme.closes_at),
        "printed_kst": kst(timezone.now()),
        "files": files if files is not None else dossier_files(version, frozen),
    }


def version_receipt_pdf(version: ApplicationVersion) -> bytes:
    """The printable receipt: receipt number, received time (KST), SHA-256 of the version."""
    return render_pdf(template_name="pdf/version_receipt.html", context=_context(version))


def version_dossier_pdf(version: ApplicationVersion, *, files: list[DossierFile] | None = None) -> bytes:
    """Every frozen field of the version as a PDF, with the list of its attachments."""
    return render_pdf(template_name="pdf/version_dossier.html", context=_context(version, files=files))


def version_dossier_zip(version: ApplicationVersion) -> bytes:
    """``dossier.pdf``, the frozen attachment files and ``SHA256SUMS``, as one ZIP."""
    frozen = read_version(version)
    files = dossier_files(version, frozen)
    pdf = version_dossier_pdf(version, files=files)
    sums = [f"{hashlib.sha256(pdf).hexdigest()}  dossier.pdf"]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("dossier.pdf", pdf)
        for entry in files:
            if not entry.included:
                continue
            with entry.attachment.file.open("rb") as handle:
                data = handle.read()
            if hashlib.sha256(data).hexdigest() != entry.item.sha256:
                continue  # NOTE: the stored bytes changed under the row; never ship them as the frozen file
            archive.writestr(entry.zip_name, data)
            sums.append(f"{entry.item.sha256}  {entry.zip_name}")
        archive.writestr("SHA256SUMS", "\n".join(sums) + "\n")
    return out.getvalue()


def dossier_filename(version: ApplicationVersion, kind: str) -> str:
    return f"{version.receipt_number}-v{version.number}-{kind}"
