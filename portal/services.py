"""Writes on portal-level objects. Each is atomic and audited."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.audit import audit_changes, audit_record, model_snapshot
from portal.errors import DomainError, InvalidInput
from portal.models import Programme

PROGRAMME_FIELDS = [
    "name", "name_en", "year", "receipt_prefix", "opens_at", "closes_at", "max_teams", "gpu_cap_per_team",
    "gpu_node_size", "budget_min", "budget_max", "budget_envelope", "model_categories",
    "attachment_max_file_mb", "attachment_max_total_mb", "required_attachments", "one_consortium_per_organisation",
    "require_university", "appeal_window_days",
]  # fmt: skip


@transaction.atomic
def programme_create(*, by, data: dict) -> Programme:
    programme = Programme(**data)
    programme.full_clean()
    programme.save()
    audit_record(action="programme.create", obj=programme, actor=by, after=model_snapshot(programme, PROGRAMME_FIELDS))
    return programme


@transaction.atomic
def programme_update(*, programme: Programme, by, data: dict, reason: str = "") -> Programme:
    """Change programme settings. Moving ``closes_at`` is recorded as a deadline change."""
    programme = Programme.objects.select_for_update().get(pk=programme.pk)
    before = model_snapshot(programme, PROGRAMME_FIELDS)
    old_closes_at = programme.closes_at
    for name, value in data.items():
        setattr(programme, name, value)
    programme.full_clean()
    _check_deadline_move(programme, old_closes_at=old_closes_at, by=by, reason=reason)
    _check_places_still_fit(programme)
    programme.save()
    after = model_snapshot(programme, PROGRAMME_FIELDS)
    action = "programme.deadline_change" if after["closes_at"] != before["closes_at"] else "programme.update"
    audit_changes(action=action, obj=programme, actor=by, before=before, after=after, reason=reason)
    return programme


def _check_deadline_move(programme: Programme, *, old_closes_at, by, reason: str) -> None:
    """Once a call is open its deadline may be extended, never brought forward — except by an
    administrator with a written reason (bringing it forward would close the call and unseal
    every submission at once)."""
    now = timezone.now()
    call_open = programme.opens_at <= now < old_closes_at
    if not call_open or programme.closes_at >= old_closes_at:
        return
    if by is not None and by.is_portal_admin and (reason or "").strip():
        return
    raise DomainError(
        _(
            "The call is open: its deadline may be extended but not brought forward. "
            "Only an administrator may bring it forward, with a written reason."
        ),
        code="deadline_forward",
    )


def _check_places_still_fit(programme: Programme) -> None:
    """``max_teams`` may not drop below the places a phase of the programme already keeps."""
    widest = programme.phases.order_by("-teams_to_keep").values_list("teams_to_keep", flat=True).first()
    if widest is not None and widest > programme.max_teams:
        message = _("A phase of this programme keeps %(count)d teams; the maximum cannot be lower.") % {"count": widest}
        raise InvalidInput(message, details={"errors": {"max_teams": [message]}})
