"""Reviewer disagreement of a ranking row, as the ranking page, its exports and the API show it.

The figures come from the row's own reviewer totals (live or frozen), so showing them
costs no query; the rule itself is :func:`evaluations.scoring.reviewer_disagreement`.
"""

from __future__ import annotations

from decimal import Decimal

from evaluations import scoring
from evaluations.enums import CriterionSource


def expert_maximum(criteria) -> Decimal:
    """The most a reviewer's total can be: the maxima of the phase's expert criteria."""
    return sum((c.max_points for c in criteria if c.source == CriterionSource.EXPERT and not c.is_gate), Decimal(0))


def row_disagreement(row, criteria) -> scoring.Disagreement:
    """Spread, standard deviation and flag of one ranking row's submitted reviewer totals."""
    return scoring.reviewer_disagreement(
        [Decimal(str(t)) for t in row.reviewer_totals or ()], expert_maximum(criteria) or None
    )


def disagreement_threshold(criteria) -> Decimal | None:
    top = expert_maximum(criteria)
    return scoring.quantize_score(top * scoring.DISAGREEMENT_SHARE) if top else None
