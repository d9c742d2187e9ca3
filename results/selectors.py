"""Reads of the results app, above all the public view of a programme.

``public_programme`` builds, from published phases only, everything the public pages and
the open-data export show, as plain frozen dataclasses: no model object reaches a public
template, so nothing sealed or personal can be printed by accident. What it holds:

* per published phase (status *published* or *final*): rank, score, decision and reserve
  rank of each application, read from the frozen ``PhaseResult`` rows; the benchmark
  attainment frozen with them (team score, reference score, ratio, target, met);
* the team's public name — consortium and lead organisation — for selected and kept
  teams and for every team of a stage evaluation (all of them were selected in public);
  an applicant that was not selected in the selection phase keeps its anonymity (its row
  shows rank, score and decision only);
* the reference models of each published phase with version or release date, source and
  score per objective.

Never: reviewers, comments, contacts, e-mail addresses, criterion sheets, proposal
content, unpublished phases. The result is cached (fail-open Redis) under a key made of
the programme and the status, publication and finalisation times of its published phases,
so a publication, a re-finalisation or a new phase makes a new key.

What a page reads does not grow with the number of applicants: the programme's summary
(``public_programme``) carries the named results only — the selected teams and every team
of a stage, a handful — and each phase's count; a phase page reads its results a page of
``PHASE_PAGE_SIZE`` at a time (``public_phase_results``), each page cached on its own. The
open data, a file with every row, reads them all (``public_programme_everything``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.cache import cache
from django.core.paginator import Page, Paginator
from django.db.models import Count, Q
from django.utils import timezone

from evaluations.enums import ACTIVE_DECISIONS, Decision, PhaseKind, PhaseStatus
from evaluations.models import Objective, Phase, PhaseResult
from portal.models import Programme
from results.models import BenchmarkImport, ReferenceModel

PUBLIC_STATES = (PhaseStatus.PUBLISHED, PhaseStatus.FINAL)
CACHE_SECONDS = 300
CACHE_VERSION = 2
PHASE_PAGE_SIZE = 50


@dataclass(frozen=True)
class PublicAttainment:
    model_category: str
    benchmark: str
    reference_model: str
    reference_score: Decimal
    target_ratio: Decimal
    team_score: Decimal | None
    ratio: Decimal
    met: bool


@dataclass(frozen=True)
class PublicResult:
    phase_id: int
    application_id: int  # a public key only when ``named``; never printed otherwise
    rank: int
    score: Decimal
    decision: str
    reserve_rank: int | None
    named: bool
    team_ko: str
    team_en: str
    lead_ko: str
    lead_en: str
    attainment: tuple[PublicAttainment, ...]

    @property
    def objectives_met(self) -> int:
        return sum(1 for a in self.attainment if a.met)

    @property
    def decision_label(self) -> str:
        return Decision(self.decision).label


@dataclass(frozen=True)
class PublicReference:
    name: str
    version: str
    released_on: str  # ISO date or ""
    source_url: str
    source_title: str
    scores: tuple[tuple[str, Decimal], ...]  # (objective label, score)


@dataclass(frozen=True)
class PublicPhase:
    id: int
    order: int
    name: str
    name_en: str
    kind: str
    status: str
    teams_to_keep: int
    pass_threshold: Decimal
    published_at: str
    final: bool
    objectives: tuple[str, ...]  # "LLM · KMMLU"
    results: tuple[PublicResult, ...]  # the named ones in the summary; every one in the open data
    references: tuple[PublicReference, ...]
    result_count: int = 0  # every application ranked in the phase

    @property
    def is_stage(self) -> bool:
        return self.kind == PhaseKind.STAGE


@dataclass(frozen=True)
class PublicTeam:
    application_id: int
    team_ko: str
    team_en: str
    lead_ko: str
    lead_en: str
    model_categories: tuple[str, ...]
    selected_in: str
    status: str  # "active", "eliminated", "withdrawn"
    last_phase_name: str
    last_phase_name_en: str


@dataclass(frozen=True)
class PublicProgramme:
    id: int
    name: str
    name_en: str
    year: int
    opens_at: str
    closes_at: str
    max_teams: int
    gpu_cap_per_team: int
    budget_min: int
    budget_max: int
    model_categories: tuple[str, ...]
    phases: tuple[PublicPhase, ...]
    teams: tuple[PublicTeam, ...] = field(default=())
    stamp: str = ""  # the publication stamp: rendered fragments are cached under it too


def public_programmes():
    """Programmes whose call has opened, newest first."""
    return Programme.objects.filter(opens_at__lte=timezone.now()).order_by("-year", "id")


def public_phases(programme: Programme) -> list[Phase]:
    return list(
        programme.phases.filter(status__in=PUBLIC_STATES)
        .only("id", "order", "name", "name_en", "kind", "status", "teams_to_keep", "pass_threshold",
              "published_at", "finalised_at", "programme_id")
        .order_by("order")
    )  # fmt: skip


def _stamp(programme: Programme, phases: list[Phase]) -> str:
    parts = [str(programme.pk), programme.name, programme.name_en]
    for p in phases:
        parts.append(f"{p.pk}:{p.status}:{p.published_at and p.published_at.isoformat()}:{p.finalised_at}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:24]


def _attainment(rows) -> tuple[PublicAttainment, ...]:
    out = []
    for a in rows or ():
        out.append(
            PublicAttainment(
                model_category=str(a.get("model_category", "")),
                benchmark=str(a.get("benchmark", "")),
                reference_model=str(a.get("reference_model", "")),
                reference_score=Decimal(str(a.get("reference_score", "0"))),
                target_ratio=Decimal(str(a.get("target_ratio", "0.95"))),
                team_score=None if a.get("team_score") is None else Decimal(str(a["team_score"])),
                ratio=Decimal(str(a.get("ratio", "0"))),
                met=bool(a.get("met")),
            )
        )
    return tuple(out)


def _result_rows(phase_ids):
    return (
        PhaseResult.objects.filter(phase_id__in=phase_ids)
        .select_related("application__consortium__lead_organisation")
        .only(
            "phase_id", "application_id", "rank", "score", "decision", "reserve_rank", "details",
            "application__state", "application__model_categories",
            "application__consortium__name", "application__consortium__lead_organisation__name_ko",
            "application__consortium__lead_organisation__name_en",
        )
        .order_by("phase_id", "rank", "application_id")
    )  # fmt: skip


def _public_result(r: PhaseResult, kind: str) -> PublicResult:
    """One frozen result as the public sees it: named only for a stage or a kept team."""
    consortium = r.application.consortium
    lead = consortium.lead_organisation
    named = kind == PhaseKind.STAGE or r.decision in ACTIVE_DECISIONS
    return PublicResult(
        phase_id=r.phase_id,
        application_id=r.application_id,
        rank=r.rank,
        score=r.score,
        decision=r.decision,
        reserve_rank=r.reserve_rank,
        named=named,
        team_ko=consortium.name if named else "",
        team_en=consortium.name if named else "",
        lead_ko=lead.name_ko if named else "",
        lead_en=(lead.name_en or lead.name_ko) if named else "",
        attainment=_attainment((r.details or {}).get("attainment")) if named else (),
    )


def _build(programme: Programme, phases: list[Phase], stamp: str = "", *, everything: bool = False) -> PublicProgramme:
    phase_ids = [p.id for p in phases]
    kinds = {p.id: p.kind for p in phases}
    results = _result_rows(phase_ids)
    if not everything:
        stage_ids = [p.id for p in phases if p.kind == PhaseKind.STAGE]
        results = results.filter(Q(phase_id__in=stage_ids) | Q(decision__in=ACTIVE_DECISIONS))
    counts = dict(
        PhaseResult.objects.filter(phase_id__in=phase_ids)
        .order_by()
        .values("phase_id")
        .annotate(n=Count("id"))
        .values_list("phase_id", "n")
    )
    by_phase: dict[int, list[PublicResult]] = {pid: [] for pid in phase_ids}
    applications = {}
    for r in results:
        applications[r.application_id] = r.application
        by_phase[r.phase_id].append(_public_result(r, kinds[r.phase_id]))
    objective_labels: dict[int, list[str]] = {pid: [] for pid in phase_ids}
    labels = {}
    for o in Objective.objects.filter(phase_id__in=phase_ids).order_by("phase_id", "id"):
        labels[o.id] = f"{o.model_category} · {o.benchmark}"
        objective_labels[o.phase_id].append(labels[o.id])
    references: dict[int, list[PublicReference]] = {pid: [] for pid in phase_ids}
    for ref in ReferenceModel.objects.filter(phase_id__in=phase_ids).prefetch_related("scores"):
        references[ref.phase_id].append(
            PublicReference(
                name=ref.name,
                version=ref.version,
                released_on=ref.released_on.isoformat() if ref.released_on else "",
                source_url=ref.source_url,
                source_title=ref.source_title,
                scores=tuple((labels.get(s.objective_id, ""), s.score) for s in ref.scores.all()),
            )
        )
    public_phases_ = tuple(
        PublicPhase(
            id=p.id,
            order=p.order,
            name=p.name,
            name_en=p.name_en or p.name,
            kind=p.kind,
            status=p.status,
            teams_to_keep=p.teams_to_keep,
            pass_threshold=p.pass_threshold,
            published_at=timezone.localtime(p.published_at).date().isoformat() if p.published_at else "",
            final=p.status == PhaseStatus.FINAL,
            objectives=tuple(objective_labels[p.id]),
            results=tuple(by_phase[p.id]),
            references=tuple(references[p.id]),
            result_count=counts.get(p.id, 0),
        )
        for p in phases
    )
    return PublicProgramme(
        id=programme.id,
        name=programme.name,
        name_en=programme.name_en or programme.name,
        year=programme.year,
        opens_at=timezone.localtime(programme.opens_at).strftime("%Y-%m-%d %H:%M"),
        closes_at=timezone.localtime(programme.closes_at).strftime("%Y-%m-%d %H:%M"),
        max_teams=programme.max_teams,
        gpu_cap_per_team=programme.gpu_cap_per_team,
        budget_min=programme.budget_min,
        budget_max=programme.budget_max,
        model_categories=tuple(programme.model_categories or ()),
        phases=public_phases_,
        teams=_teams(public_phases_, applications),
        stamp=stamp,
    )


def _teams(phases: tuple[PublicPhase, ...], applications: dict) -> tuple[PublicTeam, ...]:
    """The selected teams and how each stands after the latest published phase it took part in."""
    selection = next((p for p in phases if p.kind == PhaseKind.SELECTION), None)
    if selection is None:
        return ()
    teams = []
    for r in selection.results:
        if r.decision not in ACTIVE_DECISIONS:
            continue
        last, last_decision = selection, r.decision
        for p in phases:
            if p.order <= selection.order:
                continue
            mine = next((x for x in p.results if x.application_id == r.application_id), None)
            if mine is not None:
                last, last_decision = p, mine.decision
        application = applications[r.application_id]
        if application.state == "withdrawn":
            status = "withdrawn"
        else:
            status = "active" if last_decision in ACTIVE_DECISIONS else "eliminated"
        teams.append(
            PublicTeam(
                application_id=r.application_id,
                team_ko=r.team_ko,
                team_en=r.team_en,
                lead_ko=r.lead_ko,
                lead_en=r.lead_en,
                model_categories=tuple(application.model_categories or ()),
                selected_in=selection.name,
                status=status,
                last_phase_name=last.name,
                last_phase_name_en=last.name_en,
            )
        )
    return tuple(teams)


def public_programme(programme: Programme) -> PublicProgramme:
    """The public summary of a programme (see the module docstring), cached by publication stamp."""
    return _cached(programme, everything=False)


def public_programme_everything(programme: Programme) -> PublicProgramme:
    """The same with every result of every published phase: what the open data files hold."""
    return _cached(programme, everything=True)


def _cached(programme: Programme, *, everything: bool) -> PublicProgramme:
    phases = public_phases(programme)
    stamp = _stamp(programme, phases)
    key = f"results:public:v{CACHE_VERSION}:{'all' if everything else 'summary'}:{programme.pk}:{stamp}"
    data = cache.get(key)
    if data is None:
        data = _build(programme, phases, stamp, everything=everything)
        cache.set(key, data, CACHE_SECONDS)
    return data


class _PhaseResults:
    """Every result of a published phase in rank order, read (and cached) a slice at a time."""

    def __init__(self, phase: PublicPhase, stamp: str):
        self.phase, self.stamp = phase, stamp

    def __len__(self) -> int:
        return self.phase.result_count

    def __getitem__(self, window: slice) -> list[PublicResult]:
        key = f"results:public:v{CACHE_VERSION}:rows:{self.phase.id}:{self.stamp}:{window.start}:{window.stop}"
        rows = cache.get(key)
        if rows is None:
            rows = [_public_result(r, self.phase.kind) for r in _result_rows([self.phase.id])[window]]
            cache.set(key, rows, CACHE_SECONDS)
        return rows


def public_phase_results(phase: PublicPhase, *, stamp: str, number) -> Page:
    """One page of a published phase's results (an unknown page number shows the first or last)."""
    return Paginator(_PhaseResults(phase, stamp), PHASE_PAGE_SIZE).get_page(number)


def imports_visible(*, phase: Phase, application) -> list[BenchmarkImport]:
    return list(
        BenchmarkImport.objects.filter(phase=phase, application=application)
        .select_related("uploaded_by")
        .order_by("-uploaded_at", "-id")[:20]
    )
