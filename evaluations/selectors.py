"""Reads of evaluation data, scoped and shaped for their callers."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from consortia.enums import ApplicationState
from evaluations.enums import ACTIVE_DECISIONS, PHASE_FROZEN_STATES
from evaluations.models import Phase, PhaseResult
from portal.models import Programme


@dataclass(frozen=True)
class ActiveTeam:
    """A team that is active after the programme's latest finalised phase."""

    application_id: int
    consortium_id: int
    consortium_name: str
    lead_organisation_id: int
    phase_id: int
    rank: int
    score: Decimal
    requested_gpus: int
    requested_budget: int
    gpu_supplier: bool


def phase_latest_finalised(*, programme: Programme) -> Phase | None:
    return programme.phases.filter(status__in=PHASE_FROZEN_STATES).order_by("-order").first()


def active_teams_for_allocation(*, programme: Programme) -> list[ActiveTeam]:
    """Selected or kept teams of the latest finalised phase, best rank first.

    Reads the frozen ``PhaseResult`` snapshot, never live scores. A team whose lead
    organisation supplies GPUs to the programme is flagged (it receives no GPUs).
    Requests come from the version that was evaluated, falling back to the draft.
    """
    phase = phase_latest_finalised(programme=programme)
    if phase is None:
        return []
    results = (
        PhaseResult.objects.filter(phase=phase, decision__in=ACTIVE_DECISIONS)
        .exclude(application__state=ApplicationState.WITHDRAWN)
        .select_related("application__consortium__lead_organisation", "version")
        .order_by("rank", "application_id")
    )
    teams = []
    for result in results:
        application = result.application
        content = result.version.content if result.version_id else {}
        teams.append(
            ActiveTeam(
                application_id=application.id,
                consortium_id=application.consortium_id,
                consortium_name=application.consortium.name,
                lead_organisation_id=application.consortium.lead_organisation_id,
                phase_id=phase.id,
                rank=result.rank,
                score=result.score,
                requested_gpus=int(content.get("requested_gpus") or application.requested_gpus or 0),
                requested_budget=int(content.get("requested_budget") or application.requested_budget or 0),
                gpu_supplier=application.consortium.lead_organisation.is_gpu_supplier,
            )
        )
    return teams
