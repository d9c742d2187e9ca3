"""Writes on portal-level objects. Each is atomic and audited."""

from django.db import transaction

from portal.audit import audit_changes, audit_record, model_snapshot
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
    for name, value in data.items():
        setattr(programme, name, value)
    programme.full_clean()
    programme.save()
    after = model_snapshot(programme, PROGRAMME_FIELDS)
    action = "programme.deadline_change" if after["closes_at"] != before["closes_at"] else "programme.update"
    audit_changes(action=action, obj=programme, actor=by, before=before, after=after, reason=reason)
    return programme
