"""Writes on organisations, consortia and applications. Each is atomic and audited.

Locking order: the programme row, then the application row — except submission, which
locks its application row and takes the programme row only for the last moment (the
receipt number), and withdrawal, which locks the application row alone. Both judge the
deadline by the time the portal *received* the request (``portal.received``: the front
proxy's stamp or the database's clock, never a web process's own), so waiting for a lock
or a worker never makes anyone late (SPEC §4).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from consortia.deadline import deadline_passed, deadline_refusal, refuse_after_deadline
from consortia.enums import COMPANY_KINDS, ApplicationState, InvitationState, MemberRole
from consortia.models import (
    Affiliation,
    Application,
    ApplicationVersion,
    Attachment,
    Consortium,
    ConsortiumMember,
    Invitation,
    Organisation,
)
from consortia.rules_application import (
    CONTENT_FIELDS,
    TEXT_FIELDS,
    application_checklist,
    checklist_passes,
    field_errors,
)
from consortia.validators import check_pdf, normalise_business_number
from consortia.workflow import application_transition
from portal.audit import audit_record, model_snapshot
from portal.errors import DomainError, InvalidInput, PayloadTooLarge
from portal.formatting import kst
from portal.korean import particles
from portal.mail import mail_queue
from portal.models import Programme
from portal.received import DATABASE, Received, database_now
from portal.validators import clean_text

INVITATION_DAYS = 7
ORGANISATION_FIELDS = ["name_ko", "name_en", "kind", "business_number", "is_domestic", "is_gpu_supplier"]


def _invalid_input(exc: ValidationError, field: str) -> InvalidInput:
    """The 400 naming ``field`` for a validator's refusal."""
    return InvalidInput(
        " ".join(exc.messages), code=getattr(exc, "code", None), details={"errors": {field: exc.messages}}
    )


def _clean_texts(data: dict, fields, *, single_line=("title", "name", "name_en", "name_ko")) -> dict:
    """``data`` with each present text field NFC-normalised; control and direction-override
    characters are refused with a 400 naming the field (``portal.validators.clean_text``)."""
    for field in fields:
        if field in data:
            try:
                data[field] = clean_text(data[field], label=field, multiline=field not in single_line)
            except ValidationError as exc:
                raise _invalid_input(exc, field) from exc
    return data


# ---------------------------------------------------------------------------------------
# Organisations
# ---------------------------------------------------------------------------------------


@transaction.atomic
def organisation_create(*, by, data: dict) -> Organisation:
    """Create an organisation and affiliate ``by`` with it.

    Companies must carry a valid business registration number (stored as ten digits);
    other kinds carry none. A number already registered is refused.
    """
    data = _clean_texts({k: v for k, v in data.items() if k in ORGANISATION_FIELDS}, ("name_ko", "name_en"))
    number = (data.get("business_number") or "").strip()
    if data.get("kind") in COMPANY_KINDS:
        if not number:
            raise InvalidInput(
                _("Business registration number: a company must give its business registration number."),
                details={"errors": {"business_number": ["required"]}},
            )
        try:
            data["business_number"] = normalise_business_number(number)
        except ValidationError as exc:
            raise _invalid_input(exc, "business_number") from exc
    elif number:
        try:
            data["business_number"] = normalise_business_number(number)
        except ValidationError as exc:
            raise _invalid_input(exc, "business_number") from exc
    else:
        data["business_number"] = None
    if data.get("business_number") and Organisation.objects.filter(business_number=data["business_number"]).exists():
        raise InvalidInput(
            _("Business registration number: an organisation with this number is already registered."),
            details={"errors": {"business_number": ["duplicate"]}},
        )
    organisation = Organisation(created_by=by, **data)
    organisation.full_clean(exclude=["business_number"])
    organisation.save()
    Affiliation.objects.get_or_create(user=by, organisation=organisation)
    audit_record(
        action="organisation.create",
        obj=organisation,
        actor=by,
        after=model_snapshot(organisation, ORGANISATION_FIELDS),
    )
    return organisation


# ---------------------------------------------------------------------------------------
# Consortia and membership
# ---------------------------------------------------------------------------------------


def _lock_programme(programme_id: int) -> Programme:
    return Programme.objects.select_for_update().get(pk=programme_id)


def _ensure_free_in_programme(programme: Programme, organisation: Organisation, *, exclude_consortium=None) -> None:
    """An organisation belongs to at most one consortium per programme (a programme setting)."""
    if not programme.one_consortium_per_organisation:
        return
    taken = ConsortiumMember.objects.filter(programme=programme, organisation=organisation)
    if exclude_consortium is not None:
        taken = taken.exclude(consortium=exclude_consortium)
    if taken.exists():
        raise DomainError(
            particles(
                _("%(org)s already belongs to a consortium of this programme; an organisation may join only one.")
                % {"org": organisation}
            ),
            code="organisation_taken",
        )


@transaction.atomic
def consortium_create(
    *, by, programme: Programme, name: str, lead_organisation: Organisation, name_en: str = ""
) -> Consortium:
    """Create a consortium led by ``lead_organisation`` with ``by`` as lead contact, and its draft.

    The lead must be a domestic company with a business registration number, ``by`` must be
    affiliated with it, and it must not already be in a consortium of the programme.
    """
    programme = _lock_programme(programme.pk)
    refuse_after_deadline(programme)
    if not Affiliation.objects.filter(user=by, organisation=lead_organisation).exists():
        raise InvalidInput(
            _("Lead organisation: you may only lead with an organisation you belong to."),
            details={"errors": {"lead_organisation": ["not affiliated"]}},
        )
    if (
        lead_organisation.kind not in COMPANY_KINDS
        or not lead_organisation.business_number
        or not lead_organisation.is_domestic
    ):
        raise InvalidInput(
            _("Lead organisation: the lead must be a domestic company with a business registration number."),
            details={"errors": {"lead_organisation": ["not a domestic company"]}},
        )
    if not (name or "").strip():
        raise InvalidInput(_("Consortium name: enter a name."), details={"errors": {"name": ["required"]}})
    cleaned = _clean_texts({"name": name, "name_en": name_en or ""}, ("name", "name_en"))
    name, name_en = cleaned["name"], cleaned["name_en"]
    _ensure_free_in_programme(programme, lead_organisation)
    now = timezone.now()
    consortium = Consortium.objects.create(
        programme=programme,
        name=name.strip(),
        name_en=(name_en or "").strip(),
        lead_organisation=lead_organisation,
        lead_contact=by,
    )
    # Creating the consortium is the lead's confirmation of its own participation.
    ConsortiumMember.objects.create(
        consortium=consortium,
        programme=programme,
        organisation=lead_organisation,
        role=MemberRole.LEAD,
        contact=by,
        confirmed_at=now,
    )
    application = Application.objects.create(consortium=consortium, programme=programme, saved_at=now, saved_by=by)
    audit_record(
        action="consortium.create",
        obj=consortium,
        actor=by,
        after={"name": consortium.name, "lead": lead_organisation.pk},
    )
    audit_record(action="application.create", obj=application, actor=by, after={"consortium": consortium.pk})
    return consortium


def invitation_link(invitation: Invitation, *, base_url: str) -> str:
    return f"{base_url.rstrip('/')}/consortia/invitations/{invitation.token}/"


@transaction.atomic
def invitation_create(
    *, consortium: Consortium, by, email: str, role: str = MemberRole.MEMBER, base_url: str
) -> Invitation:
    """Invite an organisation's contact by e-mail with a link that expires in seven days."""
    programme = Programme.objects.get(pk=consortium.programme_id)
    refuse_after_deadline(programme)
    if role == MemberRole.LEAD or role not in MemberRole.values:
        raise InvalidInput(
            _("Role: choose member, supplier/partner or demand-side user."), details={"errors": {"role": ["invalid"]}}
        )
    invitation = Invitation.objects.create(
        consortium=consortium,
        email=email.strip().lower(),
        role=role,
        token=secrets.token_urlsafe(32),
        expires_at=timezone.now() + timedelta(days=INVITATION_DAYS),
        invited_by=by,
    )
    link = invitation_link(invitation, base_url=base_url)
    subject = _("Invitation to join the consortium %(name)s") % {"name": consortium.name}
    body = _(
        "%(who)s invites your organisation to join the consortium %(name)s for the programme %(programme)s.\n\n"
        "Accept the invitation here (the link expires at %(expires)s):\n%(link)s\n"
    ) % {
        "who": by,
        "name": consortium.name,
        "programme": programme,
        "expires": kst(invitation.expires_at),
        "link": link,
    }
    # Sent after commit through the outbox: never twice, never for a rolled-back request.
    mail_queue(key=f"invitation:{invitation.pk}", to=[invitation.email], subject=str(subject), body=str(body))
    audit_record(action="invitation.create", obj=invitation, actor=by, after={"email": invitation.email, "role": role})
    return invitation


@transaction.atomic
def invitation_revoke(*, invitation: Invitation, by) -> Invitation:
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.state != InvitationState.PENDING:
        raise DomainError(_("This invitation is no longer pending."), code="invitation_not_pending")
    invitation.state = InvitationState.REVOKED
    invitation.save(update_fields=["state"])
    audit_record(
        action="invitation.revoke", obj=invitation, actor=by, before={"state": "pending"}, after={"state": "revoked"}
    )
    return invitation


@transaction.atomic
def invitation_accept(
    *, invitation: Invitation, by, organisation: Organisation | None = None, new_organisation: dict | None = None
) -> ConsortiumMember:
    """Accept: ``by`` joins with an organisation they belong to (or a new one) and becomes its contact.

    Refused when the invitation has expired, was used or revoked, or when the organisation
    already belongs to a consortium of the programme.
    """
    consortium = invitation.consortium
    programme = _lock_programme(consortium.programme_id)
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    now = timezone.now()
    if invitation.state != InvitationState.PENDING:
        raise DomainError(_("This invitation has already been used or was revoked."), code="invitation_not_pending")
    if invitation.expires_at < now:
        raise DomainError(
            _("This invitation expired at %(when)s; ask the lead contact for a new one.")
            % {"when": kst(invitation.expires_at)},
            code="invitation_expired",
        )
    refuse_after_deadline(programme, now=now)
    if new_organisation:
        organisation = organisation_create(by=by, data=new_organisation)
    if organisation is None:
        raise InvalidInput(
            _("Organisation: choose your organisation or register a new one."),
            details={"errors": {"organisation": ["required"]}},
        )
    if not Affiliation.objects.filter(user=by, organisation=organisation).exists():
        raise InvalidInput(
            _("Organisation: you may only join with an organisation you belong to."),
            details={"errors": {"organisation": ["not affiliated"]}},
        )
    if ConsortiumMember.objects.filter(consortium=consortium, organisation=organisation).exists():
        raise DomainError(
            particles(_("%(org)s is already a member of this consortium.") % {"org": organisation}),
            code="already_member",
        )
    _ensure_free_in_programme(programme, organisation)
    member = ConsortiumMember.objects.create(
        consortium=consortium, programme=programme, organisation=organisation, role=invitation.role, contact=by
    )
    invitation.state = InvitationState.ACCEPTED
    invitation.accepted_by = by
    invitation.accepted_at = now
    invitation.save(update_fields=["state", "accepted_by", "accepted_at"])
    audit_record(
        action="invitation.accept",
        obj=invitation,
        actor=by,
        after={"organisation": organisation.pk, "member": member.pk},
    )
    return member


@transaction.atomic
def member_confirm(*, member: ConsortiumMember, by) -> ConsortiumMember:
    """The member organisation's contact confirms participation (recorded with the time)."""
    member = ConsortiumMember.objects.select_for_update().get(pk=member.pk)
    if member.contact_id != by.pk:
        raise DomainError(
            _("Only the member organisation's contact may confirm its participation."), code="not_contact"
        )
    programme = Programme.objects.get(pk=member.programme_id)
    now = timezone.now()
    refuse_after_deadline(programme, now=now)
    if member.confirmed_at is None:
        member.confirmed_at = now
        member.save(update_fields=["confirmed_at"])
        audit_record(action="member.confirm", obj=member, actor=by, after={"confirmed_at": now})
    return member


@transaction.atomic
def member_update(*, member: ConsortiumMember, by, role: str | None = None, contact=None) -> ConsortiumMember:
    """The lead contact changes a member's role or contact; the member must then confirm again."""
    member = ConsortiumMember.objects.select_for_update().get(pk=member.pk)
    before = model_snapshot(member, ["role", "contact_id", "confirmed_at"])
    if member.role == MemberRole.LEAD and role is not None and role != MemberRole.LEAD:
        raise DomainError(_("The lead organisation's role cannot be changed."), code="lead_role")
    if role is not None:
        if role not in MemberRole.values or (role == MemberRole.LEAD and member.role != MemberRole.LEAD):
            raise InvalidInput(
                _("Role: choose member, supplier/partner or demand-side user."),
                details={"errors": {"role": ["invalid"]}},
            )
        member.role = role
    if contact is not None:
        if not Affiliation.objects.filter(user=contact, organisation=member.organisation).exists():
            raise InvalidInput(
                _("Contact: the contact must belong to the member organisation."),
                details={"errors": {"contact": ["not affiliated"]}},
            )
        member.contact = contact
    after = model_snapshot(member, ["role", "contact_id", "confirmed_at"])
    if after["role"] != before["role"] or after["contact_id"] != before["contact_id"]:
        # NOTE: a confirmation covers the membership as it was; a change asks for a new one.
        member.confirmed_at = None
        member.save(update_fields=["role", "contact", "confirmed_at"])
        audit_record(
            action="member.update",
            obj=member,
            actor=by,
            before=before,
            after=model_snapshot(member, ["role", "contact_id", "confirmed_at"]),
        )
    return member


@transaction.atomic
def member_remove(*, member: ConsortiumMember, by) -> None:
    """The lead contact removes a member organisation (never the lead itself)."""
    member = ConsortiumMember.objects.select_for_update().get(pk=member.pk)
    if member.role == MemberRole.LEAD:
        raise DomainError(_("The lead organisation cannot be removed."), code="lead_member")
    programme = Programme.objects.get(pk=member.programme_id)
    refuse_after_deadline(programme)
    audit_record(
        action="member.remove",
        obj=member,
        actor=by,
        before={"organisation": member.organisation_id, "role": member.role},
    )
    member.delete()


# ---------------------------------------------------------------------------------------
# The draft
# ---------------------------------------------------------------------------------------


def draft_texts(application: Application) -> dict:
    """The draft's fields as JSON-friendly values (also what a conflict shows)."""
    return {name: getattr(application, name) for name in CONTENT_FIELDS}


@transaction.atomic
def application_save(*, application: Application, by, data: dict, revision: int | None) -> Application:
    """Save draft fields if ``revision`` is the draft's current revision.

    A stale revision raises a 409 whose details carry both texts (``yours`` and ``theirs``)
    so nothing is lost. Values present are checked by the field rules (400 naming the field);
    absent values stay as they are. A save that changes a field increments the revision;
    one that changes nothing leaves the draft, its revision and the audit trail as they were.
    """
    application = Application.objects.select_for_update().select_related("programme").get(pk=application.pk)
    programme = application.programme
    now = timezone.now()
    refuse_after_deadline(programme, now=now)
    data = _clean_texts({k: v for k, v in data.items() if k in CONTENT_FIELDS}, TEXT_FIELDS)
    if revision is None:
        raise InvalidInput(
            _("Revision: say which revision you edited (field revision or If-Match)."),
            details={"errors": {"revision": ["required"]}},
        )
    if int(revision) != application.revision:
        raise DomainError(
            particles(
                _(
                    "Someone else saved this draft (revision %(current)s, by %(who)s at %(when)s) after you opened "
                    "revision %(yours)s. Your text was not saved: compare both versions below, merge, and save again."
                )
                % {
                    "current": application.revision,
                    "who": application.saved_by or "-",
                    "when": kst(application.saved_at or now),
                    "yours": revision,
                }
            ),
            code="stale_revision",
            details={
                "current_revision": application.revision,
                "your_revision": int(revision),
                "yours": data,
                "theirs": draft_texts(application),
                "saved_by": str(application.saved_by or ""),
                "saved_at": application.saved_at,  # the API writes it in its one datetime form
            },
        )
    errors = field_errors(programme, data)
    if errors:
        raise InvalidInput(" ".join(errors.values()), details={"errors": {k: [v] for k, v in errors.items()}})
    before = draft_texts(application)
    for name, value in data.items():
        setattr(application, name, value if value is not None or name in ("requested_gpus", "requested_budget") else "")
    changed = [name for name in data if before[name] != getattr(application, name)]
    if not changed:  # the same text saved again: no new revision, nothing to audit
        return application
    application.revision += 1
    application.saved_at = now
    application.saved_by = by
    application.save(update_fields=[*changed, "revision", "saved_at", "saved_by"])
    audit_record(
        action="application.save",
        obj=application,
        actor=by,
        before={k: before[k] for k in changed},
        after={k: getattr(application, k) for k in changed},
    )
    return application


@transaction.atomic
def attachment_add(*, application: Application, by, uploaded, title: str = "", received=None) -> Attachment:
    """Store a PDF attachment after checking it by content; its SHA-256 is recorded.

    On time if the upload was *received* at or before the deadline (``received``, as for a
    submission: an upload that waited in the portal's queue or for its PDF check past the
    deadline is still taken); the database's clock now when no request gave one.
    Limits per file and in total come from the programme. The file goes through Django's
    storage under a random name (outside the web root); the original name is kept in the row.
    """
    application = Application.objects.select_for_update().select_related("programme").get(pk=application.pk)
    programme = application.programme
    received = _received(received)
    refuse_after_deadline(programme, now=received.at, received=True)
    max_file = programme.attachment_max_file_mb * 1024 * 1024
    try:
        checked = check_pdf(uploaded, max_bytes=max_file)
    except ValidationError as exc:
        if exc.code == "attachment_too_large":
            raise PayloadTooLarge(
                " ".join(exc.messages), code=exc.code, details={"errors": {"file": exc.messages}}
            ) from exc
        raise _invalid_input(exc, "file") from exc
    used = application.attachments.filter(removed_at__isnull=True).aggregate(total=Sum("size"))["total"] or 0
    if used + checked.size > programme.attachment_max_total_mb * 1024 * 1024:
        raise InvalidInput(
            _("Attachment: together the attachments would exceed the total limit of %(mb)s MB.")
            % {"mb": programme.attachment_max_total_mb},
            details={"errors": {"file": ["total too large"]}},
        )
    # NFC: a name typed on a system that decomposes Hangul (NFD) is stored as everyone else's.
    name = unicodedata.normalize("NFC", (getattr(uploaded, "name", "") or "attachment.pdf").rsplit("/", 1)[-1])[:255]
    attachment = Attachment(
        application=application,
        title=unicodedata.normalize("NFC", (title or "").strip())[:200] or name,
        original_name=name,
        size=checked.size,
        sha256=checked.sha256,
        page_count=checked.page_count,
        uploaded_by=by,
    )
    # The uploaded file itself goes to storage: moved from its temporary file on the same disk,
    # or streamed from it in pieces (another disk, the object store) — never read into memory.
    uploaded.seek(0)
    attachment.file.save("attachment.pdf", uploaded, save=False)
    stored_name = attachment.file.name
    try:
        attachment.save()
    except Exception:
        attachment.file.storage.delete(stored_name)
        raise
    audit_record(
        action="attachment.add",
        obj=attachment,
        actor=by,
        after={"application": application.pk, "sha256": checked.sha256, "size": checked.size},
    )
    return attachment


@transaction.atomic
def attachment_remove(*, attachment: Attachment, by) -> Attachment:
    """Remove from the draft; the file stays because earlier versions may refer to it."""
    application = Application.objects.select_for_update().select_related("programme").get(pk=attachment.application_id)
    refuse_after_deadline(application.programme)
    attachment = Attachment.objects.select_for_update().get(pk=attachment.pk)
    if attachment.removed_at is None:
        attachment.removed_at = timezone.now()
        attachment.save(update_fields=["removed_at"])
        audit_record(
            action="attachment.remove",
            obj=attachment,
            actor=by,
            before={"removed_at": None},
            after={"removed_at": attachment.removed_at},
        )
    return attachment


# ---------------------------------------------------------------------------------------
# Submission
# ---------------------------------------------------------------------------------------


def canonical_json(value) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def content_digest(content: dict) -> str:
    """SHA-256 of the canonical JSON of a version's content."""
    return hashlib.sha256(canonical_json(content).encode()).hexdigest()


def version_content(
    *, application: Application, members, attachments, number: int, receipt_number: str, submitted_at, by
) -> dict:
    """Everything a version freezes: the fields, the consortium, attachment digests, the receipt."""
    consortium = application.consortium
    return {
        "application_id": application.pk,
        "programme_id": application.programme_id,
        "version": number,
        "receipt_number": receipt_number,
        "submitted_at": submitted_at.isoformat(),
        "submitted_by": by.username,
        "draft_revision": application.revision,
        "fields": draft_texts(application),
        "requested_gpus": application.requested_gpus,
        "requested_budget": application.requested_budget,
        "consortium": {
            "id": consortium.pk,
            "name": consortium.name,
            "lead_organisation": {
                "id": consortium.lead_organisation_id,
                "name_ko": consortium.lead_organisation.name_ko,
                "business_number": consortium.lead_organisation.business_number,
            },
            "members": [
                {
                    "organisation_id": m.organisation_id,
                    "name_ko": m.organisation.name_ko,
                    "name_en": m.organisation.name_en,
                    "kind": m.organisation.kind,
                    "role": m.role,
                    "is_gpu_supplier": m.organisation.is_gpu_supplier,
                    "confirmed_at": m.confirmed_at.isoformat() if m.confirmed_at else None,
                }
                for m in members
            ],
        },
        "attachments": [
            {
                "id": a.pk,
                "title": a.title,
                "original_name": a.original_name,
                "size": a.size,
                "pages": a.page_count,
                "sha256": a.sha256,
            }
            for a in attachments
        ],
    }


def _take_receipt_number(programme: Programme, received_at) -> str | None:
    """Take the next ``<prefix>-<year>-<seq>`` receipt number, or ``None`` when the deadline
    (as committed now) is before ``received_at``.

    One statement both decides and numbers: ``UPDATE … SET receipt_sequence + 1 WHERE
    closes_at >= received_at RETURNING …`` waits for an officer's deadline change in flight
    and judges by the deadline it committed. The row stays locked only from here to the
    commit (the version's insert, the state change, the audit and the mail row), so
    submissions of different applications overlap everywhere else and numbers stay unique
    and gapless among accepted submissions (a number another programme with the same prefix
    and year holds is skipped by the caller).
    """
    from django.db import connection

    table = connection.ops.quote_name(Programme._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET receipt_sequence = receipt_sequence + 1 "  # noqa: S608 -- the model's own table
            "WHERE id = %s AND closes_at >= %s RETURNING receipt_sequence, receipt_prefix, year",
            [programme.pk, received_at],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    sequence, prefix, year = row
    programme.receipt_sequence = sequence
    return f"{prefix}-{year}-{sequence:04d}"


def _received(received: Received | None) -> Received:
    """The received time given by the request, or (outside a request) the database's clock now."""
    return received if received is not None else Received(at=database_now(), clock=DATABASE)


@dataclass(frozen=True)
class SubmitResult:
    version: ApplicationVersion
    replayed: bool  # True when an identical earlier request (same key) produced this version


@transaction.atomic
def application_submit(
    *, application: Application, by, request_key: str = "", notify: bool = True, received=None
) -> SubmitResult:
    """Freeze the draft into a new immutable version with a receipt number.

    Accepted if and only if ``received`` — the time the portal received the submit request
    (``portal.received``: the front proxy's stamp, or the database's clock when handling
    began; outside a request, the database's clock now) — is at or before ``closes_at`` and
    the whole version commits; otherwise a 409 naming the deadline and nothing changes. The
    time spent waiting for a worker, a lock or the database never counts against anyone,
    and no web process's own clock is read. A repeated request with the same
    ``request_key`` returns the version it created. The checklist must pass entirely.
    The lead contact is e-mailed the receipt after commit (``notify=False`` skips it).

    Only the application row is locked for the whole transaction (one submission per
    application at a time); the programme row only for the last moment, when the receipt
    number is taken (``_take_receipt_number``).
    """
    received = _received(received)
    request_key = (request_key or "").strip()[:64]
    programme = Programme.objects.get(pk=application.programme_id)
    if deadline_passed(programme, now=received.at):  # late: answered without taking any lock
        earlier = request_key and ApplicationVersion.objects.filter(application=application, request_key=request_key)
        if earlier and earlier.first() is not None:
            return SubmitResult(version=earlier.first(), replayed=True)
        raise deadline_refusal(programme, now=received.at, received=True)
    application = (
        Application.objects.select_for_update(of=("self",))
        .select_related("consortium", "consortium__lead_organisation", "consortium__lead_contact")
        .get(pk=application.pk)
    )
    application.programme = programme
    earlier = list(ApplicationVersion.objects.filter(application=application).values_list("number", "request_key"))
    replayed = [n for n, key in earlier if request_key and key == request_key]
    if replayed:
        return SubmitResult(version=application.versions.get(number=replayed[0]), replayed=True)
    refuse_after_deadline(programme, now=received.at, received=True)
    if by.pk != application.consortium.lead_contact_id:
        raise DomainError(_("Only the consortium's lead contact may submit."), code="not_lead_contact")
    members = list(application.consortium.members.select_related("organisation", "contact").order_by("id"))
    attachments = list(application.attachments.filter(removed_at__isnull=True).order_by("id"))
    checklist = application_checklist(application, members=members, attachments=attachments)
    if not checklist_passes(checklist):
        failing = [item.as_dict() for item in checklist if not item.ok and item.blocking]
        raise DomainError(
            _("The application is not complete yet: %(items)s")
            % {"items": " ".join(item["message"] for item in failing)},
            code="incomplete",
            details={"checklist": failing},
        )
    number = max((n for n, _key in earlier), default=0) + 1
    while True:
        receipt_number = _take_receipt_number(programme, received.at)
        if receipt_number is None:  # the deadline was moved before ``received`` while this request ran
            programme.refresh_from_db(fields=["closes_at"])
            raise deadline_refusal(programme, now=received.at, received=True)
        content = version_content(
            application=application,
            members=members,
            attachments=attachments,
            number=number,
            receipt_number=receipt_number,
            submitted_at=received.at,
            by=by,
        )
        content["received_clock"] = received.clock
        try:
            with transaction.atomic():
                version = ApplicationVersion.objects.create(
                    application=application,
                    number=number,
                    receipt_number=receipt_number,
                    submitted_at=received.at,
                    submitted_by=by,
                    content=content,
                    sha256=content_digest(content),
                    request_key=request_key,
                )
            break
        except IntegrityError as exc:
            # Receipt numbers are unique across the portal: should two programmes share a prefix
            # and year, a number the other one took is skipped. Anything else cannot happen
            # under the application's row lock.
            if not ApplicationVersion.objects.filter(receipt_number=receipt_number).exists():  # pragma: no cover
                raise DomainError(
                    _("This submission is already being processed; reload the page."), code="duplicate"
                ) from exc
    application_transition(
        application=application,
        to=ApplicationState.SUBMITTED,
        by=by,
        extra={
            "version": number, "receipt_number": receipt_number, "sha256": version.sha256,
            "received_at": received.at.isoformat(), "received_clock": received.clock,
        },
    )  # fmt: skip
    if notify:
        _mail_receipt(version=version, application=application, programme=programme)
    return SubmitResult(version=version, replayed=False)


def _mail_receipt(*, version: ApplicationVersion, application: Application, programme: Programme) -> None:
    lead = application.consortium.lead_contact
    if not lead.email:
        return
    subject = _("Receipt %(receipt)s: your application was submitted") % {"receipt": version.receipt_number}
    body = _(
        "Your consortium's application was received.\n\n"
        "Receipt number: %(receipt)s\nVersion: %(version)s\nReceived at: %(when)s\nSHA-256: %(sha)s\n\n"
        "You may resubmit or withdraw until the deadline (%(deadline)s).\n"
    ) % {
        "receipt": version.receipt_number,
        "version": version.number,
        "when": kst(version.submitted_at),
        "sha": version.sha256,
        "deadline": kst(programme.closes_at),
    }
    mail_queue(key=f"receipt:{version.receipt_number}", to=[lead.email], subject=str(subject), body=str(body))


@transaction.atomic
def application_withdraw(*, application: Application, by, reason: str = "", received=None) -> Application:
    """Withdraw before the deadline (recorded), judged by the received time like a submission.
    Versions are kept; a later submit revives it."""
    received = _received(received)
    programme = Programme.objects.get(pk=application.programme_id)
    application = (
        Application.objects.select_for_update(of=("self",)).select_related("consortium").get(pk=application.pk)
    )
    refuse_after_deadline(programme, now=received.at, received=True)
    if by.pk != application.consortium.lead_contact_id:
        raise DomainError(_("Only the consortium's lead contact may withdraw."), code="not_lead_contact")
    if application.state != ApplicationState.SUBMITTED:
        raise DomainError(_("Only a submitted application can be withdrawn."), code="not_submitted")
    application_transition(application=application, to=ApplicationState.WITHDRAWN, by=by, reason=reason)
    return application


@transaction.atomic
def application_unseal_view(*, application: Application, by, reason: str) -> None:
    """Record an administrator's exceptional look at a sealed application (reason required)."""
    if not by.is_portal_admin:
        raise DomainError(_("Only an administrator may open a sealed application."), code="not_admin")
    if not (reason or "").strip():
        raise InvalidInput(
            _("Reason: give the reason for opening the sealed application."),
            details={"errors": {"reason": ["required"]}},
        )
    audit_record(action="application.unsealed_view", obj=application, actor=by, reason=reason.strip())
