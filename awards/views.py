"""Pages for award notices: the officers' and teams' list, downloads, ZIP exports with a
progress bar, and the public verification page (``/verify/<code>/``)."""

from __future__ import annotations

import time

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.cache import cache
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from awards import selectors, services
from awards.confirmations import notice_issue_confirmation
from awards.signing import notice_validate_pdf, trust_roots
from evaluations.confirmations import open_appeal_windows
from gpu_allocation.enums import ExportStatus
from gpu_allocation.models import Allocation, AllocationRun, NoticeExport
from portal.confirm import is_confirmed, render_confirmation
from portal.errors import DomainError
from portal.net import client_ip
from portal.reauth import require_recent_authentication_page

PAGE_SIZE = 50
# Public verification: lookups per client address per minute, and the largest upload compared.
VERIFY_RATE_PER_MINUTE = 20
VERIFY_MAX_UPLOAD_BYTES = 10 * 1024 * 1024


def _file_response(field, *, filename: str, content_type: str) -> FileResponse:
    handle = field.open("rb")
    return FileResponse(handle, as_attachment=True, filename=filename, content_type=content_type)


def _default_run() -> AllocationRun | None:
    """The approved run in force of the most recent programme that has one."""
    return (
        AllocationRun.objects.filter(approved_at__isnull=False, superseded_at__isnull=True)
        .select_related("programme")
        .order_by("-programme__year", "-programme_id")
        .first()
    )


class NoticeListView(LoginRequiredMixin, View):
    """Officers: the notices of one run (``?run=<id>``, default the approved run in force) with
    *Issue notices* and, for administrators, *Build ZIP*. Teams: their own notices."""

    def get(self, request):
        user = request.user
        if not user.is_officer:
            page = Paginator(selectors.award_notices_visible_to(user), PAGE_SIZE).get_page(request.GET.get("page"))
            return render(request, "awards/notice_list_team.html", {"page": page})
        run = None
        if request.GET.get("run"):
            try:
                run_id = int(request.GET["run"])
            except ValueError as exc:
                raise Http404 from exc
            run = get_object_or_404(AllocationRun.objects.select_related("programme"), pk=run_id)
        else:
            run = _default_run()
        context = {
            "run": run,
            "page": None,
            "exports": [],
            "can_export": user.has_perm("gpu_allocation.export_awardnotice"),
        }
        if run is not None:
            allocations = (
                Allocation.objects.filter(run=run)
                .select_related("consortium__lead_organisation", "notice__superseded_by")
                .order_by("rank", "id")
            )
            context["page"] = Paginator(allocations, PAGE_SIZE).get_page(request.GET.get("page"))
            # NOTE: reverse one-to-one: a missing notice raises on access, so test with hasattr.
            context["missing"] = sum(1 for a in context["page"] if not hasattr(a, "notice"))
            context["in_force"] = services._run_in_force(run)
            # Only while notices are missing: the latest request or failure of issuing them.
            context["issue_state"] = selectors.notice_issue_state(run) if context["missing"] else None
            if context["can_export"]:
                context["exports"] = list(NoticeExport.objects.filter(run=run).order_by("-created_at")[:5])
        context["runs"] = list(
            AllocationRun.objects.filter(approved_at__isnull=False)
            .select_related("programme")
            .order_by("-approved_at")[:20]
        )
        return render(request, "awards/notice_list.html", context)


class NoticeIssueView(LoginRequiredMixin, View):
    """POST: ask the worker to issue the missing notices of a run (officers); the page never signs."""

    def post(self, request, run_id: int):
        if not request.user.has_perm("gpu_allocation.issue_awardnotice"):
            raise Http404
        run = get_object_or_404(AllocationRun, pk=run_id)
        require_recent_authentication_page(request)
        warnings = open_appeal_windows(run.programme)
        if warnings and not is_confirmed(request):
            # Issuing while an appeal window is open: the page warns and asks to confirm.
            confirmation = notice_issue_confirmation(run, action_url=request.path, warnings=warnings)
            return render_confirmation(request, confirmation)
        warnings = open_appeal_windows(run.programme)
        if warnings and not is_confirmed(request):
            # Issuing while an appeal window is open: the page warns and asks to confirm.
            confirmation = notice_issue_confirmation(run, action_url=request.path, warnings=warnings)
            return render_confirmation(request, confirmation)
        try:
            services.notice_issue_request(run=run, by=request.user)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request,
                _("The notices are being issued and signed in the background; reload this page to see them."),
            )
        return redirect(reverse("gpu_allocation:notice_list") + f"?run={run.pk}")


class NoticePdfView(LoginRequiredMixin, View):
    """GET: one notice's PDF, for officers, administrators and the team itself (others 404)."""

    def get(self, request, pk: int):
        notice = get_object_or_404(selectors.award_notices_visible_to(request.user), pk=pk)
        if not request.user.has_perm("gpu_allocation.view_awardnotice", notice):
            raise Http404
        return _file_response(notice.pdf, filename=f"{notice.number}.pdf", content_type="application/pdf")


class NoticeExportStartView(LoginRequiredMixin, View):
    """POST: start (or rejoin) the ZIP export of a run (administrators)."""

    def post(self, request, run_id: int):
        if not request.user.has_perm("gpu_allocation.export_awardnotice"):
            raise Http404
        run = get_object_or_404(AllocationRun, pk=run_id)
        require_recent_authentication_page(request)
        try:
            services.notice_export_start(run=run, by=request.user)
        except DomainError as exc:
            messages.error(request, exc.message)
        return redirect(reverse("gpu_allocation:notice_list") + f"?run={run.pk}")


class NoticeExportProgressView(LoginRequiredMixin, View):
    """GET: the export's progress bar (an htmx fragment that polls itself until final)."""

    def get(self, request, pk: int):
        export = get_object_or_404(selectors.notice_exports_visible_to(request.user), pk=pk)
        return render(request, "awards/notice_export_progress.html", {"export": export})


class NoticeExportDownloadView(LoginRequiredMixin, View):
    def get(self, request, pk: int):
        export = get_object_or_404(selectors.notice_exports_visible_to(request.user), pk=pk)
        if export.status != ExportStatus.SUCCEEDED or not export.file:
            raise Http404
        return _file_response(
            export.file, filename=f"award-notices-run-{export.run_id}.zip", content_type="application/zip"
        )


# --------------------------------------------------------------------------- public verification


class VerifyUploadForm(forms.Form):
    pdf = forms.FileField(
        label=gettext_lazy("Notice PDF"),
        help_text=gettext_lazy(
            "The PDF file you received; it is compared by its SHA-256, its digital signature is checked, "
            "and it is not stored."
        ),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_method = "post"
        self.helper.attrs = {"enctype": "multipart/form-data"}
        self.helper.add_input(Submit("check", gettext_lazy("Check the file")))


def verify_throttled(request) -> bool:
    """Count one lookup for the client's address; True once it exceeds the per-minute limit.

    A fixed one-minute window in the shared cache (Redis in production), so every web
    process counts together.
    """
    window = int(time.time() // 60)
    key = f"verify-rate:{client_ip(request) or 'unknown'}:{window}"
    cache.add(key, 0, timeout=90)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=90)
        count = 1
    return count > getattr(settings, "VERIFY_RATE_PER_MINUTE", VERIFY_RATE_PER_MINUTE)


class VerifyNoticeView(View):
    """Public (no login): confirm a notice by its code; for an uploaded PDF, compare its digest
    and validate its PAdES signature (signer, intact or altered, chain to the trust root)."""

    template_name = "awards/verify_notice.html"

    def _guard(self, request, code: str):
        if verify_throttled(request):
            response = render(request, "awards/verify_throttled.html", status=429)
            response["Retry-After"] = "60"
            return None, response
        notice = selectors.notice_for_code(code)
        if notice is None:
            # The branded page, whatever DEBUG says: a mistyped code is an ordinary visitor's error.
            return None, render(request, "404.html", status=404)
        return notice, None

    def _context(self, notice, **extra) -> dict:
        return {
            "notice": notice,
            "trust_configured": bool(trust_roots()),
            "consortium": notice.allocation.consortium,
            "programme": notice.allocation.run.programme,
            "notice_in_force": selectors.notice_is_current(notice),
            "issuer_ko": settings.NOTICE_ISSUER_KO,
            "issuer_en": settings.NOTICE_ISSUER_EN,
            **extra,
        }

    def get(self, request, code: str):
        notice, refused = self._guard(request, code)
        if refused:
            return refused
        return render(request, self.template_name, self._context(notice, form=VerifyUploadForm()))

    def post(self, request, code: str):
        notice, refused = self._guard(request, code)
        if refused:
            return refused
        form = VerifyUploadForm(request.POST, request.FILES)
        status, check, signature, problem = 200, None, None, ""
        if not form.is_valid():
            status, problem = 400, _("Choose the notice's PDF file to check.")
        else:
            upload = form.cleaned_data["pdf"]
            if upload.size > VERIFY_MAX_UPLOAD_BYTES:
                status = 413
                problem = _(
                    "The file is larger than %(mb)d MB; an award notice is much smaller. Nothing was compared."
                ) % {"mb": VERIFY_MAX_UPLOAD_BYTES // (1024 * 1024)}
            else:
                data = upload.read()
                if not data.startswith(b"%PDF-"):
                    status, problem = 400, _("This file is not a PDF. Upload the notice's PDF file.")
                else:
                    check = services.notice_check_upload(notice=notice, data=data)
                    signature = notice_validate_pdf(data)
        context = self._context(notice, form=VerifyUploadForm(), check=check, signature=signature, problem=problem)
        return render(request, self.template_name, context, status=status)
