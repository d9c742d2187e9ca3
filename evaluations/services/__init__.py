"""Writes of the evaluations app, one module per sub-domain. Each service is atomic, checks its
rule inside the transaction (row locks where two people may race) and writes the audit trail.

* :mod:`~evaluations.services.phases`: set-up, opening scoring, finalising, publishing, final;
* :mod:`~evaluations.services.assignments`: the reviewer pool, assignment (by hand and
  automatic), replacement, the conflict declaration;
* :mod:`~evaluations.services.scores`: reviewers' scores and the officer's inputs (gates,
  ties, the panel's count, benchmark results, user-panel points);
* :mod:`~evaluations.services.appeals`: filing and deciding appeals.

State changes go through :mod:`evaluations.workflow`. *Not possible now* (a closed window, a
finalised phase) raises :class:`DomainError` (409); malformed input raises
:class:`InvalidInput` (400) and changes nothing. Every public name is importable from here.
"""

from evaluations.services.appeals import appeal_decide, appeal_file, officer_was_reviewer
from evaluations.services.assignments import (
    AutoAssignSummary,
    assignment_create,
    assignment_declare,
    assignment_replace,
    phase_auto_assign,
    phase_invite_reviewers,
)
from evaluations.services.phases import (
    CRITERION_FIELDS,
    HUNDRED,
    OBJECTIVE_FIELDS,
    PHASE_FIELDS,
    appeal_window_closes_at,
    phase_create,
    phase_finalise,
    phase_make_final,
    phase_open_scoring,
    phase_publish,
    phase_set_criteria,
    phase_set_objectives,
    phase_update,
    phases_make_final_due,
)
from evaluations.services.scores import (
    TENTH,
    assignment_save_scores,
    benchmark_result_submit,
    gate_decide,
    panel_scores_import,
    phase_panel_keep,
    scoring_refusal,
    tie_break_decide,
)

__all__ = [
    "CRITERION_FIELDS",
    "HUNDRED",
    "OBJECTIVE_FIELDS",
    "PHASE_FIELDS",
    "TENTH",
    "AutoAssignSummary",
    "appeal_decide",
    "appeal_file",
    "appeal_window_closes_at",
    "assignment_create",
    "assignment_declare",
    "assignment_replace",
    "assignment_save_scores",
    "benchmark_result_submit",
    "gate_decide",
    "officer_was_reviewer",
    "panel_scores_import",
    "phase_auto_assign",
    "phase_create",
    "phase_finalise",
    "phase_invite_reviewers",
    "phase_make_final",
    "phase_open_scoring",
    "phase_panel_keep",
    "phase_publish",
    "phase_set_criteria",
    "phase_set_objectives",
    "phase_update",
    "phases_make_final_due",
    "scoring_refusal",
    "tie_break_decide",
]
