"""The audit trail: every state change and security event is appended here.

``audit_record`` is the only writer. Entries are hash-chained (see
``AuditEntry``); ``audit_verify_chain`` recomputes the chain and reports the first
entry that no longer matches, which reveals an edited or deleted entry.
"""

from __future__ import annotations

import contextvars
import json
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Model

from portal.models import AuditEntry, _json_default

GENESIS_HASH = "0" * 64
# Any constant: the key of the advisory lock that serialises appends on PostgreSQL.
_CHAIN_LOCK_KEY = 720_250_001


@dataclass(frozen=True)
class RequestContext:
    user: object | None
    ip: str | None


current_request: contextvars.ContextVar[RequestContext | None] = contextvars.ContextVar("current_request", default=None)


def _jsonable(value):
    if value is None:
        return None
    return json.loads(json.dumps(value, default=_json_default, ensure_ascii=False))


def audit_record(
    *,
    action: str,
    obj: Model | None = None,
    actor=None,
    before: dict | None = None,
    after: dict | None = None,
    reason: str = "",
    ip: str | None = None,
    object_type: str = "",
    object_id: str = "",
    object_repr: str = "",
) -> AuditEntry:
    """Append one entry. Actor and address default to the current request's."""
    context = current_request.get()
    if actor is None and context is not None and getattr(context.user, "is_authenticated", False):
        actor = context.user
    if ip is None and context is not None:
        ip = context.ip
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
        object_repr = object_repr or getattr(obj, "audit_label", None) or str(obj)[:255]
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_KEY])
        last = AuditEntry.objects.order_by("-id").values_list("entry_hash", flat=True).first()
        entry = AuditEntry(
            actor=actor if getattr(actor, "pk", None) else None,
            actor_repr=(getattr(actor, "username", "") or "")[:150] if actor else "system",
            ip_address=ip,
            action=action,
            object_type=object_type,
            object_id=object_id,
            object_repr=object_repr[:255],
            before=_jsonable(before),
            after=_jsonable(after),
            reason=reason,
            previous_hash=last or GENESIS_HASH,
        )
        entry.entry_hash = entry.compute_hash()
        entry.save()
    return entry


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    first_bad_id: int | None = None
    problem: str = ""


def audit_verify_chain(*, batch_size: int = 2000) -> ChainReport:
    """Recompute every hash in order; report the first break (edit, deletion or insertion)."""
    previous = GENESIS_HASH
    checked = 0
    for entry in AuditEntry.objects.order_by("id").iterator(chunk_size=batch_size):
        if entry.previous_hash != previous:
            return ChainReport(False, checked, entry.id, "an entry before this one was deleted or altered")
        if entry.compute_hash() != entry.entry_hash:
            return ChainReport(False, checked, entry.id, "this entry was altered")
        previous = entry.entry_hash
        checked += 1
    return ChainReport(True, checked)


def audit_changes(*, action: str, obj: Model, actor, before: dict, after: dict, reason: str = "") -> list[str]:
    """Record only the fields that changed between two snapshots; nothing if none did.

    Returns the names of the changed fields.
    """
    changed = [name for name in after if after[name] != before.get(name)]
    if changed:
        audit_record(
            action=action,
            obj=obj,
            actor=actor,
            before={name: before.get(name) for name in changed},
            after={name: after[name] for name in changed},
            reason=reason,
        )
    return changed


def model_snapshot(obj: Model, fields: list[str]) -> dict:
    """The named fields of ``obj`` as a JSON-friendly dict, for before/after."""
    return _jsonable({name: getattr(obj, name) for name in fields})
