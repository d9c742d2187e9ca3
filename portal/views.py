from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.paginator import Paginator
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import TemplateView
from rules.contrib.views import PermissionRequiredMixin

from portal.audit import audit_verify_chain
from portal.errors import DomainError
from portal.forms import ProgrammeForm
from portal.health import health_report
from portal.labels import AUDIT_ACTIONS, audit_action_label
from portal.models import AccessLog, AuditEntry, Programme


class NotFoundPermissionMixin(PermissionRequiredMixin):
    """Refusals answer 404 to signed-in users, so ids cannot be probed (SPEC §2).

    Anonymous users are sent to log in instead.
    """

    raise_exception = False

    def handle_no_permission(self):
        if self.request.user.is_authenticated:
            raise Http404
        return super().handle_no_permission()


class HomeView(LoginRequiredMixin, TemplateView):
    template_name = "portal/home.html"

    def get_context_data(self, **kwargs):
        from portal.home import home_sections_for

        context = super().get_context_data(**kwargs)
        context["sections"] = home_sections_for(self.request)
        return context


class AuditLogView(NotFoundPermissionMixin, View):
    permission_required = "portal.view_auditentry"
    page_size = 50

    def get(self, request):
        entries = AuditEntry.objects.select_related(None).order_by("-id")
        action = request.GET.get("action", "").strip()
        if action:
            entries = entries.filter(action__startswith=action)
        page = Paginator(entries, self.page_size).get_page(request.GET.get("page"))
        report = audit_verify_chain() if request.GET.get("verify") else None
        action_choices = sorted(
            ((code, audit_action_label(code)) for code in AUDIT_ACTIONS), key=lambda choice: choice[1]
        )
        return render(
            request,
            "portal/audit_log.html",
            {"page": page, "action": action, "report": report, "action_choices": action_choices},
        )


class AccessLogView(NotFoundPermissionMixin, View):
    """The access records of personal data, newest first, filtered by account and day."""

    permission_required = "portal.view_accesslog"
    page_size = 50

    def get(self, request):
        records = AccessLog.objects.order_by("-id")
        account = request.GET.get("account", "").strip()
        if account:
            records = records.filter(username=account)
        raw_day = request.GET.get("day", "").strip()
        try:
            day = parse_date(raw_day) if raw_day else None
        except ValueError:  # a well-formed but impossible date (2026-02-30)
            day = None
        if day is not None:
            records = records.filter(at__date=day)
        page = Paginator(records, self.page_size).get_page(request.GET.get("page"))
        return render(request, "portal/access_log.html", {"page": page, "account": account, "day": day})


def healthz(request):
    report = health_report()
    return JsonResponse(report, status=200 if report["status"] == "ok" else 503)


class ProgrammeListView(NotFoundPermissionMixin, View):
    permission_required = "portal.add_programme"

    def get(self, request):
        return render(request, "portal/programme_list.html", {"programmes": Programme.objects.order_by("-year", "id")})


class ProgrammeEditView(NotFoundPermissionMixin, View):
    """Create (no pk) or change a programme's settings; deadline moves are audited."""

    permission_required = "portal.change_programme"

    def get_object(self):
        pk = self.kwargs.get("pk")
        return get_object_or_404(Programme, pk=pk) if pk else None

    def get(self, request, pk=None):
        return render(request, "portal/programme_form.html", {"form": ProgrammeForm(instance=self.get_object())})

    def post(self, request, pk=None):
        from portal.services import PROGRAMME_FIELDS, programme_create, programme_update

        instance = self.get_object()
        form = ProgrammeForm(request.POST, instance=instance)
        if not form.is_valid():
            return render(request, "portal/programme_form.html", {"form": form}, status=400)
        data = {name: form.cleaned_data[name] for name in PROGRAMME_FIELDS}
        try:
            if instance is None:
                programme_create(by=request.user, data=data)
            else:
                # NOTE: the form mutated ``instance`` in place; the service reloads it under a lock.
                programme_update(programme=instance, by=request.user, data=data, reason=form.cleaned_data["reason"])
        except DomainError as exc:
            form.add_error(None, exc.message)
            return render(request, "portal/programme_form.html", {"form": form}, status=exc.status_code)
        messages.success(request, _("The programme settings were saved."))
        return redirect("portal:programme_list")
