"""Demo data of the evaluations part (idempotent): reviewers, a selection phase that is
final (published, its appeal window closed), and a stage phase being scored.

Runs after the consortia seeder; the demo call has closed. The selection phase is played
through the real services (open scoring after the deadline, auto-assignment, declarations,
submitted scores, finalise, publish) inside an open scoring window; its window and
publication time are then moved to where they lie in the call's story (scored in the
weeks after the deadline, published a fortnight ago), so its appeal window has closed
and it is made final, before the allocation. Scores are deterministic pseudo-random and
fictional. Nothing happens when there are no submitted applications.
"""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from consortia.enums import ApplicationState
from consortia.models import Affiliation, Application
from evaluations import services
from evaluations.enums import AssignmentStatus, CriterionSource, PhaseKind
from evaluations.models import Assignment, Phase
from evaluations.ranking_snapshot import phase_snapshot

REVIEWER_PASSWORD = "Demo-Reviewer-2025!"  # noqa: S105 -- a published demo login, printed by seed_demo
REVIEWERS = [
    ("reviewer2", "강민호", "reviewer2@review.example.kr"),
    ("reviewer3", "윤지아", "reviewer3@review.example.kr"),
    ("reviewer4", "서도현", "reviewer4@review.example.kr"),
    ("reviewer5", "임채원", "reviewer5@review.example.kr"),
    ("reviewer6", "한유진", "reviewer6@review.example.kr"),
    ("reviewer7", "조성민", "reviewer7@review.example.kr"),
]

SELECTION_CRITERIA = [
    {"key": "technology", "name": "기술 역량 및 독창성", "name_en": "Technology and originality", "max_points": Decimal("35"),
     "rubric": "자체 초기화 가중치로 학습하는 구조인가, 접근법이 새롭고 실현 가능한가.",
     "rubric_en": "Is the model trained from its own initialised weights; is the approach new and feasible?"},
    {"key": "data", "name": "데이터 확보 전략", "name_en": "Data strategy", "max_points": Decimal("25"),
     "rubric": "고품질 한국어 데이터의 규모·출처·저작권 확인 계획이 구체적인가.",
     "rubric_en": "Scale, provenance and rights clearance of Korean data."},
    {"key": "capability", "name": "수행 역량 및 인프라", "name_en": "Capability and infrastructure", "max_points": Decimal("20"),
     "rubric": "인력, 컴퓨팅 계획, 과거 실적이 목표 달성에 충분한가.",
     "rubric_en": "Team, compute plan and track record."},
    {"key": "impact", "name": "개방성 및 파급 효과", "name_en": "Openness and impact", "max_points": Decimal("20"),
     "rubric": "가중치·도구 공개 계획과 산업 생태계 확산 효과.",
     "rubric_en": "Open weights and tools; ecosystem impact (AI for everyone)."},
]  # fmt: skip

STAGE_CRITERIA = [
    {"key": "benchmark", "name": "벤치마크 목표 달성도", "name_en": "Benchmark attainment", "source": CriterionSource.BENCHMARK, "max_points": Decimal("40"),
     "rubric": "배점 × 목표별 min(1, 비율 ÷ 목표 비율)의 평균.",
     "rubric_en": "Maximum × mean over objectives of min(1, ratio / target)."},
    {"key": "expert", "name": "전문가 평가", "name_en": "Expert review", "source": CriterionSource.EXPERT, "max_points": Decimal("35"),
     "rubric": "기술 진척, 학습 안정성, 안전성 검증 수준.",
     "rubric_en": "Technical progress, training stability and safety evaluation."},
    {"key": "user", "name": "사용자 평가", "name_en": "User panel", "source": CriterionSource.USER_PANEL, "max_points": Decimal("25"),
     "rubric": "국민 사용자 평가단의 블라인드 평가 점수(가져오기).",
     "rubric_en": "Imported blind user-panel score."},
    {"key": "originality", "name": "독자성", "name_en": "Originality", "is_gate": True, "max_points": Decimal("0"),
     "rubric": "해외 모델의 미세조정이 아닌 자체 초기화 가중치에서 학습했는가 (통과/불통과).",
     "rubric_en": "Trained from its own initialised weights, not a fine-tuned foreign model (pass/fail)."},
]  # fmt: skip

STAGE_OBJECTIVES = [
    {"model_category": "LLM", "benchmark": "KMMLU", "reference_model": "글로벌 모델 A (가상)", "reference_score": Decimal("78.5000")},
    {"model_category": "LLM", "benchmark": "HAE-RAE Bench", "reference_model": "글로벌 모델 B (가상)", "reference_score": Decimal("71.2000")},
    {"model_category": "LMM", "benchmark": "K-MMBench", "reference_model": "글로벌 모델 A (가상)", "reference_score": Decimal("74.0000")},
    {"model_category": "LAM", "benchmark": "K-AgentBench", "reference_model": "글로벌 모델 C (가상)", "reference_score": Decimal("62.0000")},
]  # fmt: skip

APPEAL_SCOPE = "평가위원의 결정적 오류, 제안서의 명백한 오독, 행정 착오에 한함 (평가 규칙과 위원 구성은 대상이 아님)."


def _reviewers(context: dict) -> list:
    from portal.demo import ensure_user

    people = [context["users"]["reviewer"]]
    for username, full_name, email in REVIEWERS:
        user = ensure_user(
            username=username, password=REVIEWER_PASSWORD, role="reviewer", full_name=full_name, email=email
        )
        context["users"][username] = user
        people.append(user)
    listed = {a["username"] for a in context["accounts"]}
    for username, _full_name, _email in REVIEWERS:  # every demo reviewer is listed with its login
        if username not in listed:
            context["accounts"].append({"username": username, "password": REVIEWER_PASSWORD, "role": "reviewer"})
    return people


def _sheet(rng: random.Random, criteria: list[dict], quality: float) -> dict[str, Decimal]:
    """A fictional, plausible sheet: each criterion around ``quality`` of its maximum."""
    sheet = {}
    for c in criteria:
        share = min(1.0, max(0.3, rng.gauss(quality, 0.06)))
        sheet[c["key"]] = (c["max_points"] * Decimal(str(round(share, 3)))).quantize(Decimal("0.1"))
    return sheet


def _seed_selection(context: dict, programme, applications: list[Application], pool: list) -> Phase:
    officer = context["users"]["officer"]
    now = timezone.now()
    phase = services.phase_create(
        programme=programme,
        by=officer,
        data={
            "order": 1,
            "name": "1차 선정평가",
            "name_en": "Selection evaluation",
            "kind": PhaseKind.SELECTION,
            "teams_to_keep": programme.max_teams,
            "reviewers_per_application": 5,
            "tie_break_criteria": ["technology", "data"],
            "scoring_opens_at": now - timedelta(hours=1),
            "scoring_closes_at": now + timedelta(hours=1),
            "appeal_scope": APPEAL_SCOPE,
        },
        criteria=SELECTION_CRITERIA,
    )
    phase = services.phase_open_scoring(phase=phase, by=officer)  # the call has closed: proposals unsealed
    services.phase_invite_reviewers(phase=phase, by=officer, reviewers=pool)
    services.phase_auto_assign(phase=phase, by=officer)
    rng = random.Random(2025)  # noqa: S311 -- fictional demo scores
    qualities = {a.id: q for a, q in zip(applications, (0.88, 0.83, 0.79, 0.76, 0.74, 0.64, 0.6, 0.58), strict=False)}
    for assignment in (
        Assignment.objects.filter(phase=phase).select_related("reviewer").order_by("application_id", "reviewer_id")
    ):
        services.assignment_declare(assignment=assignment, by=assignment.reviewer, has_conflict=False)
        sheet = _sheet(rng, SELECTION_CRITERIA, qualities.get(assignment.application_id, 0.7))
        services.assignment_save_scores(
            assignment=assignment,
            by=assignment.reviewer,
            scores=sheet,
            comments={"technology": "독창적인 학습 구조가 돋보임.", "data": "데이터 저작권 확인 절차 보완 필요."},
            comment="전반적으로 목표가 명확하며 단계별 계획이 구체적임.",
            submit=True,
        )
    for group in phase_snapshot(phase=phase).result.needs_officer_decision:
        services.tie_break_decide(
            phase=phase,
            by=officer,
            ordered_application_ids=sorted(group.application_ids),
            reason="위원장 회의 결정 (데모)",
        )
    services.phase_finalise(phase=phase, by=officer)
    services.phase_publish(phase=phase, by=officer)
    # The selection was scored in the weeks after the deadline and published a fortnight ago:
    # move the window and publication there; the appeal window has closed, so the results are final.
    deadline = programme.closes_at
    Phase.objects.filter(pk=phase.pk).update(
        scoring_opens_at=min(now, deadline + timedelta(days=1)),
        scoring_closes_at=min(now, deadline + timedelta(days=12)) + timedelta(minutes=1),
        finalised_at=min(now, deadline + timedelta(days=13)),
        published_at=now - timedelta(days=phase.appeal_window_days + 7),
    )
    return services.phase_make_final(phase=Phase.objects.get(pk=phase.pk), by=officer)


def _seed_stage(context: dict, programme, pool: list) -> Phase:
    officer = context["users"]["officer"]
    now = timezone.now()
    phase = services.phase_create(
        programme=programme,
        by=officer,
        data={
            "order": 2,
            "name": "1차 단계평가",
            "name_en": "First stage evaluation",
            "kind": PhaseKind.STAGE,
            "teams_to_keep": 4,
            "reviewers_per_application": 5,
            "tie_break_criteria": ["benchmark", "expert"],
            "scoring_opens_at": now - timedelta(days=3),
            "scoring_closes_at": now + timedelta(days=11),
            "appeal_scope": APPEAL_SCOPE,
        },
        criteria=STAGE_CRITERIA,
        objectives=STAGE_OBJECTIVES,
    )
    phase = services.phase_open_scoring(phase=phase, by=officer)
    services.phase_invite_reviewers(phase=phase, by=officer, reviewers=pool)
    services.phase_auto_assign(phase=phase, by=officer)
    # Work in progress: some declarations, one draft, a few benchmark results.
    rng = random.Random(2026)  # noqa: S311 -- fictional demo scores
    assignments = list(Assignment.objects.filter(phase=phase).select_related("reviewer").order_by("id"))
    for assignment in assignments[::3]:
        services.assignment_declare(assignment=assignment, by=assignment.reviewer, has_conflict=False)
    drafts = [a for a in assignments[::3] if a.status == AssignmentStatus.ACTIVE][:2]
    for assignment in drafts:
        services.assignment_save_scores(
            assignment=assignment,
            by=assignment.reviewer,
            scores={"expert": (Decimal("35") * Decimal(str(rng.uniform(0.7, 0.9)))).quantize(Decimal("0.1"))},
            comments={"expert": "학습 안정성 자료 보완 필요 (초안)."},
        )
    teams = {a.application_id: a.application for a in assignments}
    for application in list(teams.values())[:3]:
        categories = set(application.model_categories or [])
        for objective in phase.objectives.all():
            if objective.model_category in categories:
                ratio = Decimal(str(rng.uniform(0.86, 1.02)))
                services.benchmark_result_submit(
                    objective=objective,
                    application=application,
                    by=application.consortium.lead_contact,
                    score=(objective.reference_score * ratio).quantize(Decimal("0.01")),
                    evidence="공개 평가 스크립트 실행 로그와 모델 카드 (데모)",
                )
    # The user panel's scores are in; the originality gate is decided for all but one team.
    rows = ["receipt_number,criterion,points"]
    for application in teams.values():
        version = application.versions.order_by("-number").first()
        rows.append(f"{version.receipt_number},user,{Decimal(str(rng.uniform(16, 23))).quantize(Decimal('0.01'))}")
    services.panel_scores_import(phase=phase, by=officer, csv_text="\n".join(rows) + "\n")
    gate = phase.criteria.get(key="originality")
    for application in list(teams.values())[:-1]:
        services.gate_decide(
            criterion=gate,
            application=application,
            by=officer,
            passed=True,
            reasons="학습 로그와 초기 체크포인트로 자체 초기화 가중치에서 학습했음을 확인 (데모)",
        )
    return phase


def seed(context: dict) -> None:
    programme = context["programme"]
    applications = list(
        Application.objects.filter(programme=programme, state=ApplicationState.SUBMITTED).order_by("id")
    )
    if not applications:
        return
    pool = _reviewers(context)
    # One reviewer works at a consortium's university: automatic conflict, never assigned there.
    university = (
        applications[-1].consortium.members.exclude(organisation=applications[-1].consortium.lead_organisation).first()
    )
    if university is not None:
        Affiliation.objects.get_or_create(user=pool[-1], organisation=university.organisation)
    selection = Phase.objects.filter(programme=programme, order=1).first()
    if selection is None:
        selection = _seed_selection(context, programme, applications, pool)
    stage = Phase.objects.filter(programme=programme, order=2).first()
    if stage is None:
        stage = _seed_stage(context, programme, pool)
    context["phase_ids"] += [selection.id, stage.id]
