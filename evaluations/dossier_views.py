"""The reviewer's download of the dossier of the version under review (``consortia/dossier.py``).

For the assignment's own reviewer once cleared of conflicts (``evaluations.review_application``,
as for the review's attachments) and only after the programme's deadline; the dossier is the
version the assignment is bound to, never a later one. Everyone else gets 404.
"""

from __future__ import annotations

from django.http import Http404
from django.views import View

from consortia.deadline import deadline_passed
from consortia.dossier import dossier_filename, version_dossier_zip
from consortia.dossier_views import download
from evaluations.views import AssignmentMixin


class ReviewDossierView(AssignmentMixin, View):
    permission_required = "evaluations.review_application"

    def get(self, request, pk):
        a = self.assignment
        version = a.version
        if version is None or not deadline_passed(version.application.programme):
            raise Http404
        return download(
            version_dossier_zip(version),
            content_type="application/zip",
            filename=dossier_filename(version, "dossier.zip"),
        )
