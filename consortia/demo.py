"""Demo data: fictional organisations, consortia and applications (idempotent).

Eight consortia in the demo programme: six submitted, one draft, one withdrawn. Each has a
lead company with a valid business registration number, a university member, and a lead
contact who can log in (the portal's demo ``applicant`` leads the first one).

The demo call has closed. Its proposals were written and submitted before the deadline, and
seeding replays that through the real services: each submission carries the time it was
received, days before the deadline (``received``), while the call is held open for the
moment of seeding only.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta

from django.utils import timezone

from consortia.enums import ApplicationState, MemberRole, OrganisationKind
from consortia.models import Affiliation, Application, Consortium, ConsortiumMember, Organisation
from consortia.services import application_submit, application_withdraw
from consortia.validators import make_business_number
from portal.errors import DomainError
from portal.korean import particle
from portal.models import Programme
from portal.received import DATABASE, Received

LEAD_PASSWORD = "Demo-Lead-2025!"  # noqa: S105 -- a published demo login, printed by seed_demo

# (consortium, lead ko, lead en, kind, number prefix, lead login, full name, university ko, university en, gpus, budget, state)
TEAMS = [
    ("한빛 파운데이션 컨소시엄", "한빛인공지능", "Hanbit AI", OrganisationKind.LARGE_ENTERPRISE, "120815501", "applicant", "김하늘", "한국과학기술대학교", "Korea Institute of Science University", 1000, 5_000_000_000, ApplicationState.SUBMITTED),
    ("누리 언어모델 컨소시엄", "누리랩스", "Nuri Labs", OrganisationKind.SME, "214870332", "nuri", "이누리", "서울미래대학교", "Seoul Mirae University", 800, 4_500_000_000, ApplicationState.SUBMITTED),
    ("바다 멀티모달 컨소시엄", "바다소프트", "Bada Soft", OrganisationKind.LARGE_ENTERPRISE, "605812243", "bada", "박바다", "부산해양과학대학교", "Busan Ocean Science University", 512, 4_000_000_000, ApplicationState.SUBMITTED),
    ("별빛 행동모델 컨소시엄", "별빛인텔리전스", "Byeolbit Intelligence", OrganisationKind.STARTUP, "314861175", "byeolbit", "정별", "대전공과대학교", "Daejeon Institute of Technology", 640, 3_500_000_000, ApplicationState.SUBMITTED),
    ("하늘 데이터 컨소시엄", "하늘데이터", "Haneul Data", OrganisationKind.SME, "410865520", "haneul", "최하늘", "광주과학대학교", "Gwangju Science University", 960, 4_200_000_000, ApplicationState.SUBMITTED),
    ("솔빛 에이전트 컨소시엄", "솔빛로보틱스", "Solbit Robotics", OrganisationKind.STARTUP, "128861034", "solbit", "윤솔", "인천디지털대학원대학교", "Incheon Graduate School of Digital Studies", 384, 3_000_000_000, ApplicationState.SUBMITTED),
    ("새벽 언어기술 컨소시엄", "새벽언어기술", "Saebyeok Language Technology", OrganisationKind.STARTUP, "220873391", "saebyeok", "한새벽", "강원미래대학교", "Gangwon Future University", 256, 3_800_000_000, ApplicationState.DRAFT),
    ("미르 모델 컨소시엄", "미르테크", "Mir Tech", OrganisationKind.SME, "617869904", "mir", "오미르", "제주글로벌대학교", "Jeju Global University", 704, 4_800_000_000, ApplicationState.WITHDRAWN),
]  # fmt: skip

CATEGORIES = [["LLM"], ["LLM", "LMM"], ["LMM"], ["LAM"], ["LLM", "LAM"], ["LAM", "LMM"], ["LLM"], ["LLM", "LMM", "LAM"]]


def _fields(team: tuple, index: int) -> dict:
    lead_en, gpus, budget = team[2], team[9], team[10]
    return {
        "title": f"{team[1]} 독자 파운데이션 모델: 자체 가중치로 학습하는 한국형 {'·'.join(CATEGORIES[index])}",
        "summary": f"{particle(team[1], '과/와')} {particle(team[7], '이/가')} 함께 처음부터 초기화한 가중치로 한국어 중심 "
        "파운데이션 모델을 개발한다.",
        "model_categories": CATEGORIES[index],
        "technical_approach": "전문가 혼합(MoE) 구조, 장문 맥락 학습, 강화학습 기반 정렬을 단계적으로 적용한다.",
        "data_strategy": "공공·산업 말뭉치를 정제해 고품질 한국어 토큰을 구축하고 저작권을 확인한 데이터만 사용한다.",
        "compute_plan": f"H100 {gpus}장을 사전학습과 정렬에 배분하고, 단계 평가마다 규모를 조정한다.",
        "requested_gpus": gpus,
        "requested_budget": budget,
        "team_plan": f"{lead_en} 연구원과 {team[8]} 연구실이 공동으로 참여하며 석·박사 인재를 양성한다.",
        "open_source_plan": "모델 가중치와 평가 도구를 공개하여 누구나 쓰는 AI(AI for everyone)를 지향한다.",
        "milestones": [
            {"phase": "1차 단계평가", "goal": "글로벌 기준 모델 대비 90% 성능"},
            {"phase": "2차 단계평가", "goal": "글로벌 기준 모델 대비 95% 성능"},
        ],
    }


@contextmanager
def _held_open(programme: Programme):
    """Seeding a closed call: the call is open for the moment its past submissions are replayed
    (each with its own past received time); the deadline is restored afterwards."""
    deadline = programme.closes_at
    if deadline >= timezone.now():
        yield deadline
        return
    Programme.objects.filter(pk=programme.pk).update(closes_at=timezone.now() + timedelta(hours=1))
    programme.refresh_from_db(fields=["closes_at"])
    try:
        yield deadline
    finally:
        Programme.objects.filter(pk=programme.pk).update(closes_at=deadline)
        programme.closes_at = deadline


def seed(context: dict) -> None:
    """Create what is missing; an existing consortium (by name) is left as it is."""
    programme = context["programme"]
    with _held_open(programme) as deadline:
        _seed_teams(context, programme, deadline)


def _seed_teams(context: dict, programme: Programme, deadline) -> None:
    from portal.demo import ensure_user

    users = context["users"]
    for index, team in enumerate(TEAMS):
        name, lead_ko, lead_en, kind, prefix, login, full_name, uni_ko, uni_en, _gpus, _budget, state = team
        if login == "applicant":
            lead_contact = users["applicant"]
        else:
            lead_contact = ensure_user(
                username=login,
                password=LEAD_PASSWORD,
                role="applicant",
                full_name=full_name,
                email=f"{login}@lead.example.kr",
            )
            context["accounts"].append({"username": login, "password": LEAD_PASSWORD, "role": "applicant"})
        users[login] = lead_contact
        uni_contact = ensure_user(
            username=f"{login}-uni",
            password=LEAD_PASSWORD,
            role="applicant",
            full_name=f"{full_name[0]}교수",
            email=f"{login}@univ.example.kr",
        )
        # The university member's contact logs in too (to confirm participation): listed like the leads.
        context["accounts"].append({"username": f"{login}-uni", "password": LEAD_PASSWORD, "role": "applicant"})
        lead_org, _ = Organisation.objects.get_or_create(
            business_number=make_business_number(prefix),
            defaults={"name_ko": lead_ko, "name_en": lead_en, "kind": kind, "created_by": lead_contact},
        )
        university, _ = Organisation.objects.get_or_create(
            name_ko=uni_ko, kind=OrganisationKind.UNIVERSITY, defaults={"name_en": uni_en, "created_by": uni_contact}
        )
        Affiliation.objects.get_or_create(user=lead_contact, organisation=lead_org)
        Affiliation.objects.get_or_create(user=uni_contact, organisation=university)
        if Consortium.objects.filter(programme=programme, name=name).exists():
            continue
        # Formed weeks before the deadline, submitted in the last days before it (earliest first).
        now = min(timezone.now(), deadline - timedelta(days=21 - index))
        submitted_at = min(timezone.now(), deadline - timedelta(days=len(TEAMS) - index, hours=5))
        consortium = Consortium.objects.create(
            programme=programme,
            name=name,
            name_en=f"{lead_en} Consortium",
            lead_organisation=lead_org,
            lead_contact=lead_contact,
        )
        ConsortiumMember.objects.create(
            consortium=consortium,
            programme=programme,
            organisation=lead_org,
            role=MemberRole.LEAD,
            contact=lead_contact,
            confirmed_at=now,
        )
        ConsortiumMember.objects.create(
            consortium=consortium,
            programme=programme,
            organisation=university,
            role=MemberRole.MEMBER,
            contact=uni_contact,
            confirmed_at=now,
        )
        application = Application.objects.create(
            consortium=consortium,
            programme=programme,
            saved_at=submitted_at - timedelta(hours=2),
            saved_by=lead_contact,
            **_fields(team, index),
        )
        if state == ApplicationState.DRAFT:
            application.summary = ""  # a draft still being written
            application.save(update_fields=["summary"])
            continue
        try:
            _attach_proposal_document(application, lead_contact, at=submitted_at - timedelta(hours=3))
            application_submit(
                application=application,
                by=lead_contact,
                request_key="demo-seed",
                notify=False,
                received=Received(at=submitted_at, clock=DATABASE),
            )
            if state == ApplicationState.WITHDRAWN:
                application_withdraw(
                    application=application,
                    by=lead_contact,
                    reason="내부 사정으로 철회 (데모)",
                    received=Received(at=submitted_at + timedelta(hours=20), clock=DATABASE),
                )
        except DomainError:
            # The demo programme's deadline has passed: the draft stays as it is.
            continue


def _attach_proposal_document(application: Application, lead_contact, *, at) -> None:
    """The proposal document every submission carries: a one-page PDF of the draft's title and
    summary, rendered by the portal's own PDF helper (fictional demo text)."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from consortia.services import attachment_add
    from portal.pdf import render_pdf

    if application.attachments.filter(removed_at__isnull=True).exists():
        return
    pdf = render_pdf(template_name="pdf/demo_proposal.html", context={"application": application})
    attachment = attachment_add(
        application=application,
        by=lead_contact,
        uploaded=SimpleUploadedFile("proposal.pdf", pdf, content_type="application/pdf"),
        title="제안서 (데모)",
    )
    type(attachment).objects.filter(pk=attachment.pk).update(uploaded_at=at)  # uploaded before the submission
