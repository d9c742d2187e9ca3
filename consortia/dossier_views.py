"""Downloads of a submitted version: the receipt PDF and the dossier ZIP (``consortia/dossier.py``).

Allowed exactly as the version's contents and attachments are: the consortium's members at
any time, officers after the deadline (sealed before it). Everyone else gets 404. Reviewers
download the dossier of the version they review from their scoring page
(``evaluations.views.ReviewDossierView``).
"""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.views import View

from consortia.dossier import dossier_filename, version_dossier_zip, version_receipt_pdf
from consortia.selectors import versions_of
from consortia.views import ApplicationMixin


def download(body: bytes, *, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


class VersionReceiptPdfView(ApplicationMixin, View):
    def get(self, request, pk, number):
        application = self.get_application(request, pk)
        version = get_object_or_404(versions_of(application).select_related("application__programme"), number=number)
        return download(
            version_receipt_pdf(version),
            content_type="application/pdf",
            filename=dossier_filename(version, "receipt.pdf"),
        )


class VersionDossierView(ApplicationMixin, View):
    def get(self, request, pk, number):
        application = self.get_application(request, pk)
        version = get_object_or_404(versions_of(application).select_related("application__programme"), number=number)
        return download(
            version_dossier_zip(version),
            content_type="application/zip",
            filename=dossier_filename(version, "dossier.zip"),
        )
