"""The states of a phase and of a review assignment, and the one function per machine that changes them.

Every edge names the permission that guards it (a rule of ``evaluations/rules.py``, or
:data:`~portal.workflow.SYSTEM` for the beat); :func:`phase_move` and :func:`assignment_move`
refuse any other edge with a 409 and are the only places ``Phase.status`` and
``Assignment.status`` are assigned. The services on top check what the move needs (criteria
adding up to 100, a closed appeal window, the reviewer's own declaration) and write their
audit entries. ``docs/states.md`` draws both machines.
"""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from evaluations.enums import AssignmentStatus, PhaseStatus
from evaluations.models import Assignment, Phase
from portal.audit import audit_record
from portal.models import User
from portal.workflow import SYSTEM, Edge, Machine

P = PhaseStatus
A = AssignmentStatus
MANAGE = "evaluations.manage_phase"

PHASE = Machine(
    name="Phase",
    model="evaluations.Phase",
    states=PhaseStatus,
    created={P.SETUP: Edge("evaluations.add_phase", via="phase_create")},
    edges={
        P.SETUP: {P.SCORING: Edge(MANAGE, via="phase_open_scoring")},
        P.SCORING: {P.FINALISED: Edge(MANAGE, via="phase_finalise")},
        P.FINALISED: {P.PUBLISHED: Edge(MANAGE, via="phase_publish")},
        P.PUBLISHED: {
            P.FINALISED: Edge(MANAGE, via="phase_finalise", note="again, after an upheld appeal was re-scored"),
            P.FINAL: Edge(
                (MANAGE, SYSTEM),
                via="phase_make_final, phases_make_final_due",
                note="the appeal window closed with no open or unapplied appeal",
            ),
        },
    },
    terminal=(P.FINAL,),
    refusal=_("The phase cannot go from “%(from)s” to “%(to)s”."),
    mover="phase_move",
)

ASSIGNMENT = Machine(
    name="Assignment",
    model="evaluations.Assignment",
    states=AssignmentStatus,
    created={A.AWAITING_DECLARATION: Edge(MANAGE, via="assignment_create, phase_auto_assign")},
    edges={
        A.AWAITING_DECLARATION: {
            A.ACTIVE: Edge("evaluations.declare_conflict", via="assignment_declare", note="no conflict"),
            A.CONFLICTED: Edge(
                ("evaluations.declare_conflict", MANAGE),
                via="assignment_declare, phase_auto_assign",
                note="declared, or found affiliated by automatic assignment",
            ),
            A.REPLACED: Edge(MANAGE, via="assignment_replace"),
        },
        A.ACTIVE: {
            A.SUBMITTED: Edge("evaluations.score_assignment", via="assignment_save_scores", note="submit"),
            A.CONFLICTED: Edge(
                ("evaluations.declare_conflict", MANAGE),
                via="assignment_declare, phase_auto_assign",
                note="declared, or found affiliated by automatic assignment",
            ),
            A.REPLACED: Edge(MANAGE, via="assignment_replace"),
        },
        A.SUBMITTED: {
            A.ACTIVE: Edge(
                "evaluations.decide_appeal", via="appeal_decide", note="an upheld appeal re-opens the review"
            ),
        },
        A.CONFLICTED: {A.REPLACED: Edge(MANAGE, via="assignment_replace")},
    },
    terminal=(A.REPLACED,),
    refusal=_("A review assignment cannot go from “%(from)s” to “%(to)s”."),
    code="invalid_transition",
    mover="assignment_move",
)

MACHINES = (PHASE, ASSIGNMENT)


def phase_move(*, phase: Phase, to: str, by: User | None, reason: str = "", extra: dict | None = None) -> Phase:
    """Move a locked ``phase`` along an edge of :data:`PHASE`, save ``extra`` with it and audit the move."""
    PHASE.edge(phase.status, to)
    before = phase.status
    phase.status = to
    fields = ["status", *(extra or {})]
    for name, value in (extra or {}).items():
        setattr(phase, name, value)
    phase.save(update_fields=fields)
    audit_record(
        action=f"phase.{to}",
        obj=phase,
        actor=by,
        before={"status": before},
        after={"status": to, **{k: v for k, v in (extra or {}).items() if k != "finalised_by"}},
        reason=reason,
    )
    return phase


def assignment_move(*, assignment: Assignment, to: str, fields: tuple[str, ...] | list[str] = ()) -> Assignment:
    """Move a locked ``assignment`` along an edge of :data:`ASSIGNMENT` and save it (with ``fields``).

    Submitting stamps ``submitted_at``; re-opening a submitted review clears it. The caller
    writes the audit entry, which differs by service.
    """
    ASSIGNMENT.edge(assignment.status, to)
    before = assignment.status
    assignment.status = to
    update = [*fields, "status"]
    if to == A.SUBMITTED:
        assignment.submitted_at = timezone.now()
        update.append("submitted_at")
    elif before == A.SUBMITTED:
        assignment.submitted_at = None
        update.append("submitted_at")
    assignment.save(update_fields=update)
    return assignment
