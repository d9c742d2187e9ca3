"""Pages: my consortium, invitations, the multi-step application, receipts, officer list.

Views are thin: a permission (refusals are 404), a form, one service call, then a redirect
or a page. Domain errors (deadline, conflicts) are shown with their message and status.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.paginator import Paginator
from django.db.models import Count, Prefetch
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import View

from consortia import services
from consortia.deadline import deadline_passed
from consortia.enums import ApplicationState, InvitationState, MemberRole
from consortia.forms import (
    STEPS,
    AcceptInvitationForm,
    AttachmentForm,
    ConsortiumForm,
    InvitationForm,
    OrganisationForm,
    UnsealForm,
)
from consortia.models import Attachment, ConsortiumMember, Invitation
from consortia.rules_application import application_checklist, checklist_passes
from consortia.selectors import (
    application_state_counts,
    applications_listed_for,
    applications_visible_to,
    attachments_of,
    consortia_visible_to,
    organisations_of_user,
    pending_invitations_of,
    versions_of,
)
from portal.errors import DomainError
from portal.korean import particles
from portal.models import Programme
from portal.ratelimit import rate_limit_check
from portal.received import received
from portal.views import NotFoundPermissionMixin


def _deny_unless(user, perm: str, obj=None) -> None:
    if not user.has_perm(perm, obj):
        raise Http404


def _domain_message(request, error: DomainError) -> None:
    messages.error(request, error.message)


class ApplicantMixin(NotFoundPermissionMixin):
    """Applicant pages (other roles get 404)."""

    permission_required = "consortia.add_consortium"


# --- my consortium ---------------------------------------------------------------------


class MyConsortiaView(ApplicantMixin, View):
    def _context(self, request, **forms):
        user = request.user
        consortia = consortia_visible_to(user).prefetch_related(
            Prefetch("members", queryset=ConsortiumMember.objects.select_related("organisation", "contact"))
        )
        programmes = Programme.objects.filter(closes_at__gte=timezone.now()).order_by("closes_at")
        organisation_form = forms.get("organisation_form") or OrganisationForm()
        organisation_form.helper.form_action = reverse("consortia:organisation_create")
        consortium_form = forms.get("consortium_form") or ConsortiumForm(user=user, programmes=programmes)
        consortium_form.helper.form_action = reverse("consortia:consortium_create")
        return {
            "consortia": consortia,
            "organisations": organisations_of_user(user),
            "organisation_form": organisation_form,
            "consortium_form": consortium_form,
            "programme": programmes.first(),
        }

    def get(self, request):
        return render(request, "consortia/my_consortia.html", self._context(request))


class OrganisationCreateView(MyConsortiaView):
    def post(self, request):
        form = OrganisationForm(request.POST)
        if form.is_valid():
            try:
                org = services.organisation_create(by=request.user, data=form.cleaned_data)
            except DomainError as error:
                form.add_error("business_number" if "business" in error.message.lower() else None, error.message)
            else:
                messages.success(request, particles(_("The organisation %(name)s was registered.") % {"name": org}))
                return redirect("consortia:my_consortia")
        return render(
            request, "consortia/my_consortia.html", self._context(request, organisation_form=form), status=400
        )


class ConsortiumCreateView(MyConsortiaView):
    def post(self, request):
        programmes = Programme.objects.filter(closes_at__gte=timezone.now())
        form = ConsortiumForm(request.POST, user=request.user, programmes=programmes)
        status = 400
        if form.is_valid():
            try:
                consortium = services.consortium_create(by=request.user, **form.cleaned_data)
            except DomainError as error:
                form.add_error(None, error.message)
                status = error.status_code
            else:
                messages.success(request, _("The consortium was created; its application draft is ready."))
                return redirect("consortia:consortium_detail", pk=consortium.pk)
        return render(
            request, "consortia/my_consortia.html", self._context(request, consortium_form=form), status=status
        )


class ConsortiumDetailView(LoginRequiredMixin, View):
    def get_consortium(self, request, pk):
        consortium = get_object_or_404(consortia_visible_to(request.user), pk=pk)
        _deny_unless(request.user, "consortia.view_consortium", consortium)
        return consortium

    def render_page(self, request, consortium, *, invite_form=None, status=200):
        members = consortium.members.select_related("organisation", "contact").order_by("id")
        is_lead = consortium.lead_contact_id == request.user.pk
        invite_form = invite_form or InvitationForm()
        invite_form.helper.form_action = reverse("consortia:invitation_create", kwargs={"pk": consortium.pk})
        context = {
            "consortium": consortium,
            "members": members,
            "is_lead": is_lead,
            "invitations": pending_invitations_of(consortium) if is_lead else [],
            "invite_form": invite_form,
            "role_choices": [c for c in MemberRole.choices if c[0] != MemberRole.LEAD],
            "programme": consortium.programme,
            "application": getattr(consortium, "application", None),
            "closed": deadline_passed(consortium.programme),
        }
        return render(request, "consortia/consortium_detail.html", context, status=status)

    def get(self, request, pk):
        return self.render_page(request, self.get_consortium(request, pk))


class InvitationCreateView(ConsortiumDetailView):
    def post(self, request, pk):
        consortium = self.get_consortium(request, pk)
        _deny_unless(request.user, "consortia.manage_consortium", consortium)
        form = InvitationForm(request.POST)
        if not form.is_valid():
            return self.render_page(request, consortium, invite_form=form, status=400)
        try:
            services.invitation_create(
                consortium=consortium, by=request.user, email=form.cleaned_data["email"], role=form.cleaned_data["role"],
                base_url=request.build_absolute_uri("/"),
            )  # fmt: skip
        except DomainError as error:
            _domain_message(request, error)
            return self.render_page(request, consortium, invite_form=form, status=error.status_code)
        messages.success(
            request, particles(_("The invitation was sent to %(email)s.") % {"email": form.cleaned_data["email"]})
        )
        return redirect("consortia:consortium_detail", pk=consortium.pk)


class InvitationRevokeView(ConsortiumDetailView):
    def post(self, request, pk, invitation_pk):
        consortium = self.get_consortium(request, pk)
        _deny_unless(request.user, "consortia.manage_consortium", consortium)
        invitation = get_object_or_404(Invitation, pk=invitation_pk, consortium=consortium)
        try:
            services.invitation_revoke(invitation=invitation, by=request.user)
        except DomainError as error:
            _domain_message(request, error)
        return redirect("consortia:consortium_detail", pk=consortium.pk)


class MemberActionView(ConsortiumDetailView):
    """POST confirm (the member's contact), or role / remove (the lead contact)."""

    def post(self, request, pk, member_pk, verb):
        consortium = self.get_consortium(request, pk)
        member = get_object_or_404(ConsortiumMember, pk=member_pk, consortium=consortium)
        try:
            if verb == "confirm":
                _deny_unless(request.user, "consortia.confirm_member", member)
                services.member_confirm(member=member, by=request.user)
                messages.success(request, _("Participation confirmed."))
            elif verb == "role":
                _deny_unless(request.user, "consortia.manage_consortium", consortium)
                services.member_update(member=member, by=request.user, role=request.POST.get("role", ""))
                messages.success(request, _("The member's role was changed; its contact must confirm again."))
            elif verb == "remove":
                _deny_unless(request.user, "consortia.manage_consortium", consortium)
                services.member_remove(member=member, by=request.user)
                messages.success(request, _("The member was removed."))
            else:
                raise Http404
        except DomainError as error:
            _domain_message(request, error)
        return redirect("consortia:consortium_detail", pk=consortium.pk)


class InvitationAcceptView(LoginRequiredMixin, View):
    """The e-mailed link: a signed-in applicant joins with their organisation and becomes its contact."""

    def get_invitation(self, token):
        invitation = get_object_or_404(
            Invitation.objects.select_related("consortium", "consortium__programme"), token=token
        )
        return invitation

    def render_page(self, request, invitation, *, form=None, org_form=None, status=200):
        usable = invitation.state == InvitationState.PENDING and invitation.expires_at >= timezone.now()
        context = {
            "invitation": invitation,
            "usable": usable,
            "form": form or AcceptInvitationForm(user=request.user),
            "org_form": org_form or OrganisationForm(prefix="new", submit_label=False),
        }
        return render(request, "consortia/invitation_accept.html", context, status=status)

    def get(self, request, token):
        if not request.user.is_applicant:
            raise Http404
        return self.render_page(request, self.get_invitation(token))

    def post(self, request, token):
        if not request.user.is_applicant:
            raise Http404
        invitation = self.get_invitation(token)
        form = AcceptInvitationForm(request.POST, user=request.user)
        org_form = OrganisationForm(request.POST, prefix="new", submit_label=False)
        if not form.is_valid():
            return self.render_page(request, invitation, form=form, org_form=org_form, status=400)
        organisation = form.cleaned_data["organisation"]
        new_organisation = None
        if organisation is None:
            if not org_form.is_valid():
                return self.render_page(request, invitation, form=form, org_form=org_form, status=400)
            new_organisation = org_form.cleaned_data
        try:
            member = services.invitation_accept(
                invitation=invitation, by=request.user, organisation=organisation, new_organisation=new_organisation
            )
        except DomainError as error:
            _domain_message(request, error)
            return self.render_page(request, invitation, form=form, org_form=org_form, status=error.status_code)
        messages.success(request, _("You joined the consortium. Please confirm your organisation's participation."))
        return redirect("consortia:consortium_detail", pk=member.consortium_id)


# --- the application ---------------------------------------------------------------------


class MyApplicationsView(ApplicantMixin, View):
    def get(self, request):
        applications = applications_listed_for(request.user)
        page = Paginator(applications, 50).get_page(request.GET.get("page"))
        return render(request, "consortia/my_applications.html", {"page": page})


class ApplicationMixin(LoginRequiredMixin):
    """Finds the application among those the user may see; contents need the contents permission."""

    def get_application(self, request, pk, perm="consortia.view_application_contents"):
        application = get_object_or_404(applications_visible_to(request.user), pk=pk)
        _deny_unless(request.user, perm, application)
        return application

    def base_context(self, application, step):
        closed = deadline_passed(application.programme)
        return {
            "application": application,
            "programme": application.programme,
            "consortium": application.consortium,
            "steps": STEPS,
            "step": step,
            "closed": closed,
            "read_only": closed or not self.request.user.is_applicant,
        }


def _initial(application) -> dict:
    return {**services.draft_texts(application), "revision": application.revision}


class ApplicationStepView(ApplicationMixin, View):
    """Steps 1–4: a part of the draft. Saving names the revision; a stale one shows both texts."""

    def form_class(self, step):
        for number, _label, form_class in STEPS:
            if number == step and form_class is not None:
                return form_class
        raise Http404

    def get(self, request, pk, step):
        if step == 5:
            return redirect("consortia:application_attachments", pk=pk)
        if step == 6:
            return redirect("consortia:application_review", pk=pk)
        application = self.get_application(request, pk)
        context = self.base_context(application, step)
        form = self.form_class(step)(
            initial=_initial(application), programme=application.programme, read_only=context["read_only"]
        )
        return render(request, "consortia/application_step.html", {**context, "form": form})

    def post(self, request, pk, step):
        application = self.get_application(request, pk, perm="consortia.change_application")
        context = self.base_context(application, step)
        form = self.form_class(step)(request.POST, programme=application.programme)
        if not form.is_valid():
            return render(request, "consortia/application_step.html", {**context, "form": form}, status=400)
        try:
            saved = services.application_save(
                application=application,
                by=request.user,
                data=form.draft_values(),
                revision=form.cleaned_data["revision"],
            )
        except DomainError as error:
            conflict = None
            if error.code == "stale_revision":
                # Keep the person's text in the form, point it at the current revision, and
                # show what the other person saved next to it.
                data = request.POST.copy()
                data["revision"] = str(error.details["current_revision"])
                form = self.form_class(step)(data, programme=application.programme)
                form.is_valid()
                labels = {name: form.fields[name].label for name in form.fields_in_step}
                conflict = {
                    "saved_by": error.details["saved_by"],
                    "saved_at": error.details["saved_at"],
                    "rows": [
                        {
                            "label": labels[name],
                            "theirs": error.details["theirs"].get(name),
                            "yours": error.details["yours"].get(name),
                        }
                        for name in form.fields_in_step
                    ],
                }
            _domain_message(request, error)
            return render(
                request,
                "consortia/application_step.html",
                {**context, "form": form, "conflict": conflict},
                status=error.status_code,
            )
        messages.success(request, _("Draft saved (revision %(rev)s).") % {"rev": saved.revision})
        target = step + 1 if "next" in request.POST else step
        return redirect("consortia:application_step", pk=pk, step=target)


class ApplicationAttachmentsView(ApplicationMixin, View):
    def render_page(self, request, application, form=None, status=200):
        context = self.base_context(application, 5)
        context.update({"form": form or AttachmentForm(), "attachments": attachments_of(application)})
        return render(request, "consortia/application_attachments.html", context, status=status)

    def get(self, request, pk):
        return self.render_page(request, self.get_application(request, pk))

    def post(self, request, pk):
        application = self.get_application(request, pk, perm="consortia.change_application")
        rate_limit_check(scope="upload", user=request.user, application=application)  # 429 page
        form = AttachmentForm(request.POST, request.FILES)
        if not form.is_valid():
            return self.render_page(request, application, form, status=400)
        try:
            attachment = services.attachment_add(
                application=application,
                by=request.user,
                uploaded=form.cleaned_data["file"],
                title=form.cleaned_data["title"],
                received=received(request),
            )
        except DomainError as error:
            form.add_error("file", error.message)
            return self.render_page(request, application, form, status=error.status_code)
        messages.success(
            request,
            particles(
                _("%(name)s was uploaded (SHA-256 %(sha)s).")
                % {"name": attachment.original_name, "sha": attachment.sha256[:16] + "…"}
            ),
        )
        return redirect("consortia:application_attachments", pk=pk)


class AttachmentRemoveView(ApplicationMixin, View):
    def post(self, request, pk, attachment_pk):
        application = self.get_application(request, pk, perm="consortia.change_application")
        attachment = get_object_or_404(Attachment, pk=attachment_pk, application=application)
        try:
            services.attachment_remove(attachment=attachment, by=request.user)
            messages.success(request, _("The attachment was removed from the draft."))
        except DomainError as error:
            _domain_message(request, error)
        return redirect("consortia:application_attachments", pk=pk)


class AttachmentDownloadView(ApplicationMixin, View):
    """Served through the view (never from a public URL) to those who may see the contents."""

    def get(self, request, pk, attachment_pk):
        application = self.get_application(request, pk)
        attachment = get_object_or_404(Attachment, pk=attachment_pk, application=application)
        response = FileResponse(
            attachment.file.open("rb"),
            content_type="application/pdf",
            as_attachment=True,
            filename=attachment.original_name,
        )
        response["X-Content-Type-Options"] = "nosniff"
        return response


class ApplicationReviewView(ApplicationMixin, View):
    """Step 6: the checklist, then submit (lead contact) or withdraw."""

    def get(self, request, pk):
        application = self.get_application(request, pk)
        members = list(application.consortium.members.select_related("organisation", "contact"))
        attachments = list(attachments_of(application))
        checklist = application_checklist(application, members=members, attachments=attachments)
        context = self.base_context(application, 6)
        latest = versions_of(application).first()
        context.update({
            "checklist": checklist,
            "ready": checklist_passes(checklist),
            "members": members,
            "is_lead": application.consortium.lead_contact_id == request.user.pk,
            "latest": latest,
            "unsubmitted_changes": latest is not None and latest.content.get("draft_revision") != application.revision,
            "attachments": attachments,
        })  # fmt: skip
        return render(request, "consortia/application_review.html", context)


class ApplicationSubmitView(ApplicationMixin, View):
    def post(self, request, pk):
        application = self.get_application(request, pk, perm="consortia.submit_application")
        key = request.POST.get("request_key", "")
        rate_limit_check(scope="submit", user=request.user, application=application, request_key=key)  # 429 page
        try:
            result = services.application_submit(
                application=application,
                by=request.user,
                request_key=request.POST.get("request_key", ""),
                received=received(request),
            )
        except DomainError as error:
            _domain_message(request, error)
            return redirect("consortia:application_review", pk=pk)
        messages.success(
            request, _("Submitted. Your receipt number is %(receipt)s.") % {"receipt": result.version.receipt_number}
        )
        return redirect("consortia:application_version", pk=pk, number=result.version.number)


class ApplicationWithdrawView(ApplicationMixin, View):
    def post(self, request, pk):
        application = self.get_application(request, pk, perm="consortia.withdraw_application")
        try:
            services.application_withdraw(
                application=application,
                by=request.user,
                reason=request.POST.get("reason", ""),
                received=received(request),
            )
            messages.success(request, _("The application was withdrawn. You may submit again before the deadline."))
        except DomainError as error:
            _domain_message(request, error)
        return redirect("consortia:application_review", pk=pk)


class VersionListView(ApplicationMixin, View):
    def get(self, request, pk):
        application = self.get_application(request, pk)
        context = self.base_context(application, None)
        context["versions"] = versions_of(application)
        return render(request, "consortia/version_list.html", context)


class VersionDetailView(ApplicationMixin, View):
    """The on-screen receipt and the frozen content of one version."""

    def get(self, request, pk, number):
        application = self.get_application(request, pk)
        version = get_object_or_404(versions_of(application), number=number)
        context = self.base_context(application, None)
        context["version"] = version
        return render(request, "consortia/version_detail.html", context)


# --- officers ---------------------------------------------------------------------------


class OfficerApplicationListView(NotFoundPermissionMixin, View):
    """States and counts for every application; contents stay sealed until the deadline."""

    permission_required = "portal.add_programme"  # officers and administrators

    def get(self, request):
        programmes = Programme.objects.order_by("-year", "-id")
        programme_id = request.GET.get("programme")
        programme = (
            programmes.filter(pk=programme_id).first() if str(programme_id or "").isdigit() else programmes.first()
        )
        applications = applications_visible_to(request.user)
        counts = {}
        if programme is not None:
            applications = applications.filter(programme=programme)
            counts = application_state_counts(programme=programme)
        page = Paginator(applications.annotate(member_count=Count("consortium__members", distinct=True)), 50).get_page(
            request.GET.get("page")
        )
        context = {
            "programmes": programmes,
            "programme": programme,
            "page": page,
            "counts": counts,
            "count_rows": [
                (state, ApplicationState(state).label, counts.get(state, 0)) for state in ApplicationState.values
            ],
            "total": sum(counts.values()),
            "sealed": programme is not None and not deadline_passed(programme),
        }
        return render(request, "consortia/officer_applications.html", context)


class OfficerApplicationDetailView(NotFoundPermissionMixin, View):
    permission_required = "portal.add_programme"

    def get_application(self, request, pk):
        application = get_object_or_404(applications_visible_to(request.user), pk=pk)
        _deny_unless(request.user, "consortia.view_application", application)
        return application

    def render_page(self, request, application, *, unsealed=False, form=None, status=200):
        can_see = unsealed or request.user.has_perm("consortia.view_application_contents", application)
        context = {
            "application": application,
            "programme": application.programme,
            "consortium": application.consortium,
            "sealed": not can_see,
            "can_unseal": request.user.has_perm("consortia.unseal_application", application) and not can_see,
            "form": form or UnsealForm(),
            "versions": versions_of(application) if can_see else None,
            "version_count": application.version_count,
            "attachments": attachments_of(application) if can_see else None,
            "unsealed": unsealed,
            "not_unsealed": not unsealed,
        }
        return render(request, "consortia/officer_application_detail.html", context, status=status)

    def get(self, request, pk):
        return self.render_page(request, self.get_application(request, pk))

    def post(self, request, pk):
        """An administrator's exceptional look at a sealed application, with a reason (audited)."""
        application = self.get_application(request, pk)
        _deny_unless(request.user, "consortia.unseal_application", application)
        form = UnsealForm(request.POST)
        if not form.is_valid():
            return self.render_page(request, application, form=form, status=400)
        services.application_unseal_view(application=application, by=request.user, reason=form.cleaned_data["reason"])
        return self.render_page(request, application, unsealed=True)


def application_home(request, pk):
    return redirect(reverse("consortia:application_step", kwargs={"pk": pk, "step": 1}))
