"""Words for the codes the portal stores, so no page shows a code to a person.

* ``audit_action_label("auth.login")`` → "Signed in" (로그인);
* ``audit_object_label("evaluations.phase")`` → the model's name (평가 단계);
* ``audit_change_lines(entry)`` → ``[("Status", "Set-up", "Scoring")]``, one row per field, each value
  in words: choices by their label, times in KST, yes/no, lists by their names;
* ``access_target_label("evaluations:assignment_score")`` → the page's title (채점표).

An unknown code still comes out readable ("some_code.do_it" → "some code: do it"), never raw.
"""

from __future__ import annotations

import re
from datetime import datetime

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import get_language, gettext, ngettext
from django.utils.translation import gettext_lazy as _  # the tables are translated when shown

from portal import formatting

AUDIT_ACTIONS = {
    "auth.login": _("Signed in"),
    "auth.logout": _("Signed out"),
    "auth.login_failed": _("Failed sign-in"),
    "access.refused": _("Refused access (page not found or not allowed)"),
    "programme.create": _("Programme created"),
    "programme.update": _("Programme changed"),
    "programme.deadline_change": _("Application deadline changed"),
    "organisation.create": _("Organisation registered"),
    "consortium.create": _("Consortium formed"),
    "invitation.create": _("Member invited"),
    "invitation.accept": _("Invitation accepted"),
    "invitation.revoke": _("Invitation revoked"),
    "member.confirm": _("Membership confirmed"),
    "member.update": _("Member changed"),
    "member.remove": _("Member removed"),
    "application.create": _("Application started"),
    "application.save": _("Draft saved"),
    "application.submit": _("Application submitted"),
    "application.withdraw": _("Application withdrawn"),
    "application.unsealed_view": _("Sealed submission opened before the deadline"),
    "attachment.add": _("Attachment uploaded"),
    "attachment.remove": _("Attachment removed"),
    "phase.create": _("Phase created"),
    "phase.update": _("Phase settings changed"),
    "phase.criteria_set": _("Phase criteria set"),
    "phase.objectives_set": _("Benchmark objectives set"),
    "phase.reviewers_invite": _("Reviewers invited to the pool"),
    "phase.scoring": _("Scoring opened"),
    "phase.finalised": _("Phase finalised"),
    "phase.published": _("Results published"),
    "phase.final": _("Results made final"),
    "phase.snapshot": _("Frozen results recorded"),
    "assignment.create": _("Reviewer assigned"),
    "assignment.auto_assign": _("Reviewers assigned automatically"),
    "assignment.replace": _("Reviewer replaced"),
    "assignment.declare": _("Conflict of interest declared"),
    "assignment.save_draft": _("Scoring sheet saved as a draft"),
    "assignment.submit": _("Scoring sheet submitted"),
    "tie_break.decide": _("Tie decided by the officer"),
    "benchmark_result.submit": _("Benchmark result entered"),
    "panel_scores.import": _("User-panel scores imported"),
    "gate.decide": _("Gate decided"),
    "appeal.file": _("Appeal filed"),
    "appeal.decide": _("Appeal decided"),
    "gpu_cluster.create": _("GPU cluster added"),
    "gpu_cluster.update": _("GPU cluster changed"),
    "allocation_run.start": _("Allocation run started"),
    "allocation_run.execute": _("Allocation run computing"),
    "allocation_run.succeed": _("Allocation run succeeded"),
    "allocation_run.fail": _("Allocation run failed"),
    "allocation_run.retry": _("Allocation run retried"),
    "allocation_run.reclaim": _("Stalled allocation run taken over"),
    "allocation_run.reuse": _("Allocation run reused"),
    "allocation_run.approve": _("Allocation approved"),
    "allocation_run.supersede": _("Allocation superseded"),
    "award_notice.issue": _("Award notice issued"),
    "award_notice.supersede": _("Award notice superseded"),
    "notice_export.start": _("Notice export started"),
    "notice_export.finish": _("Notice export finished"),
    "notice_export.fail": _("Notice export failed"),
    "outbox.failed": _("Background task given up"),
}

# Object types that are not models.
AUDIT_OBJECTS = {
    "auth.attempt": _("sign-in attempt"),
    "path": _("page"),
    "portal.programme": _("programme"),
    "portal.user": _("user"),
    "portal.outboxmessage": _("background task"),
    "consortia.organisation": _("organisation"),
    "consortia.consortium": _("consortium"),
    "consortia.consortiummember": _("consortium member"),
    "consortia.invitation": _("invitation"),
    "consortia.application": _("application"),
    "consortia.attachment": _("attachment"),
    "evaluations.phase": _("evaluation phase"),
    "evaluations.assignment": _("review assignment"),
    "evaluations.benchmarkresult": _("benchmark result"),
    "evaluations.gatedecision": _("gate decision"),
    "evaluations.appeal": _("appeal"),
    "gpu_allocation.gpucluster": _("GPU cluster"),
    "gpu_allocation.allocationrun": _("allocation run"),
    "gpu_allocation.awardnotice": _("award notice"),
    "gpu_allocation.noticeexport": _("notice export"),
}
# Objects whose stored description is a code (a background task's name): not shown.
AUDIT_OBJECTS_WITHOUT_REPR = {"portal.outboxmessage"}

# Before/after keys that are not model fields (or read better with their own word).
FIELD_LABELS = {
    "state": _("state"),
    "status": _("status"),
    "sha256": _("SHA-256"),
    "inputs_sha256": _("SHA-256 of the inputs"),
    "version": _("version"),
    "received_at": _("received at"),
    "received_clock": _("clock used"),
    "receipt_number": _("receipt number"),
    "approved_at": _("approved at"),
    "approved_run_in_force": _("allocation in force before"),
    "attempts": _("attempts"),
    "gpus": _("GPUs"),
    "teams": _("teams"),
    "budget_allocated": _("data budget allocated"),
    "created": _("assignments made"),
    "released": _("assignments released"),
    "shortfalls": _("applications short of reviewers"),
    "automatic": _("automatic"),
    "has_conflict": _("conflict of interest"),
    "scores": _("scores"),
    "submitted": _("submitted"),
    "size": _("size (bytes)"),
    "application": _("application"),
    "objective": _("objective"),
    "criterion": _("criterion"),
    "passed": _("passed"),
    "rows": _("rows"),
    "criteria": _("criteria"),
    "objectives": _("objectives"),
    "reviewer_ids": _("reviewers"),
    "results": _("results"),
    "finalised_at": _("finalised at"),
    "published_at": _("published at"),
    "method": _("request method"),
    "reason": _("reason"),
    "count": _("count"),
    "failures": _("failures"),
    "error": _("error"),
    "superseded_by": _("superseded by"),
}

# Internal keys of a record, not shown to people.
HIDDEN_FIELDS = {"dedupe_key"}

# Portal pages and API resources of the access records → what a person calls them.
ACCESS_TARGETS = {
    "consortia:consortium_detail": _("Consortium"),
    "consortia:officer_applications": _("Applications (officer list)"),
    "consortia:officer_application_detail": _("Application (officer view)"),
    "consortia:version_list": _("Submitted versions"),
    "consortia:application_version": _("Submitted version"),
    "consortia:attachment_download": _("Attachment download"),
    "consortia:version_receipt_pdf": _("Receipt PDF of a version"),
    "consortia:version_dossier": _("Dossier of a version"),
    "consortia:officer_applications_export": _("Applications export (officer list)"),
    "evaluations:phase_detail": _("Evaluation phase"),
    "evaluations:phase_assignments": _("Reviewer assignments"),
    "evaluations:appeal_list": _("Appeals"),
    "evaluations:assignment_score": _("Scoring sheet"),
    "evaluations:review_attachment": _("Attachment download (reviewer)"),
    "evaluations:review_dossier": _("Dossier of a version (reviewer)"),
    "evaluations:phase_export": _("Phase results export"),
    "gpu_allocation:notice_list": _("Award notices"),
    "gpu_allocation:notice_pdf": _("Award notice PDF"),
    "gpu_allocation:notice_export_download": _("Award notice export download"),
    "portal:audit_log": _("Audit trail"),
    "portal:access_log": _("Access records"),
}
API_RESOURCES = {
    "organisation": _("organisations"),
    "consortium": _("consortia"),
    "application": _("applications"),
    "assignment": _("assignments"),
    "appeal": _("appeals"),
    "award-notice": _("award notices"),
    "notice-export": _("notice exports"),
}
_LIST_SHOWN = 6


def localized(obj, field: str = "name") -> str:
    """``obj.<field>`` in the language of the page: ``<field>_en`` on English pages when it is set."""
    if obj is None:
        return ""
    if (get_language() or "ko").startswith("en"):
        english = getattr(obj, f"{field}_en", "") if not isinstance(obj, dict) else obj.get(f"{field}_en", "")
        if english:
            return str(english)
    value = getattr(obj, field, "") if not isinstance(obj, dict) else obj.get(field, "")
    return str(value or "")


def localized_other(obj, field: str = "name") -> str:
    """The same field in the other language, "" when there is none or it says the same."""
    if obj is None:
        return ""
    shown = localized(obj, field)
    get = obj.get if isinstance(obj, dict) else lambda name, default="": getattr(obj, name, default)
    other = get(field, "") if (get_language() or "ko").startswith("en") else get(f"{field}_en", "")
    return str(other) if other and str(other) != shown else ""


def tie_break_names(keys, criteria) -> str:
    """Tie-break criterion keys as the criteria's names, in order ("–" for none)."""
    by_key = {c.key: localized(c) for c in criteria}
    return ", ".join(by_key.get(k, k) for k in keys or ()) or "–"


def _humanise(code: str) -> str:
    return re.sub(r"[_\-]+", " ", code).replace(".", ": ").replace(":  ", ": ").strip()


def audit_action_label(action: str) -> str:
    label = AUDIT_ACTIONS.get(action)
    return str(label) if label is not None else _humanise(action)


def audit_object_repr(object_type: str, object_repr: str) -> str:
    return "" if object_type in AUDIT_OBJECTS_WITHOUT_REPR else object_repr


def audit_object_label(object_type: str) -> str:
    if not object_type:
        return ""
    if object_type in AUDIT_OBJECTS:
        return str(AUDIT_OBJECTS[object_type])
    model = _model(object_type)
    if model is not None:
        return str(model._meta.verbose_name)
    return _humanise(object_type)


def _model(object_type: str):
    try:
        return apps.get_model(object_type)
    except (LookupError, ValueError):
        return None


def _field(model, name: str):
    if model is None:
        return None
    try:
        return model._meta.get_field(name)
    except FieldDoesNotExist:
        return None


def field_label(name: str, model=None) -> str:
    if name in FIELD_LABELS:
        return str(FIELD_LABELS[name])
    field = _field(model, name)
    if field is not None and getattr(field, "verbose_name", None):
        return str(field.verbose_name)
    return _humanise(name)


def _moment(value: str) -> datetime | None:
    if not isinstance(value, str) or len(value) < 16 or value[4:5] != "-" or "T" not in value:
        return None
    try:
        moment = parse_datetime(value)
    except ValueError:
        return None
    if moment is None:
        return None
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, timezone.get_default_timezone())
    return moment


def value_label(value, *, field=None) -> str:
    """One stored value in words."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    choices = dict(field.flatchoices) if field is not None and getattr(field, "choices", None) else {}
    if isinstance(value, str):
        if value in choices:
            return str(choices[value])
        moment = _moment(value)
        if moment is not None:
            return formatting.kst(moment)
        return value
    if isinstance(value, list):
        if value and all(isinstance(v, dict) for v in value):
            names = [str(v.get("name") or v.get("benchmark") or v.get("key") or "") for v in value]
            names = [n for n in names if n]
            if names and len(names) <= _LIST_SHOWN:
                return ", ".join(names)
        elif len(value) <= _LIST_SHOWN and all(not isinstance(v, list | dict) for v in value):
            return ", ".join(value_label(v, field=field) for v in value) or "—"
        return ngettext("%(count)d entry", "%(count)d entries", len(value)) % {"count": len(value)}
    if isinstance(value, dict):
        if len(value) <= _LIST_SHOWN and all(not isinstance(v, list | dict) for v in value.values()):
            return ", ".join(f"{k} {value_label(v)}" for k, v in value.items())
        return ngettext("%(count)d entry", "%(count)d entries", len(value)) % {"count": len(value)}
    return str(value)


def audit_change_lines(
    *, object_type: str, before: dict | None, after: dict | None
) -> list[tuple[str, str, str | None]]:
    """(field, old, new) per field; ``old`` is "" for a field only set now, ``new`` None for one only removed."""
    model = _model(object_type) if object_type else None
    before = before if isinstance(before, dict) else ({} if before is None else {"value": before})
    after = after if isinstance(after, dict) else ({} if after is None else {"value": after})
    lines = []
    for name in [*after, *(k for k in before if k not in after)]:
        if name in HIDDEN_FIELDS:
            continue
        field = _field(model, name)
        label = field_label(name, model)
        old = value_label(before[name], field=field) if name in before else ""
        new = value_label(after[name], field=field) if name in after else None
        lines.append((label, old, new))
    return lines


def access_target_label(target: str) -> str:
    """The page title (or API resource) an access record names."""
    if target in ACCESS_TARGETS:
        return str(ACCESS_TARGETS[target])
    if target.startswith("admin:"):
        return gettext("Django admin")
    if target.startswith("api:"):
        basename, _sep, kind = target[4:].rpartition("-")
        resource = API_RESOURCES.get(basename)
        if resource is not None:
            if kind == "list":
                return gettext("API: list of %(resource)s") % {"resource": resource}
            if kind == "detail":
                return gettext("API: one of the %(resource)s") % {"resource": resource}
            return gettext("API: %(resource)s (%(action)s)") % {"resource": resource, "action": _humanise(kind)}
    return _humanise(target)
