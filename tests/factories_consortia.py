"""Factories for organisations, consortia and applications (used by every app's tests).

``submitted_application(programme=...)`` builds a complete consortium and application and
submits it through the real submit service, so versions look exactly like production ones.
"""

from __future__ import annotations

import itertools

import factory
from django.utils import timezone

from consortia.enums import MemberRole, OrganisationKind
from consortia.models import Affiliation, Application, Consortium, ConsortiumMember, Organisation
from consortia.validators import business_number_is_reserved, make_business_number
from tests.factories import ProgrammeFactory, UserFactory

_numbers = itertools.count(107_810_001)  # tax office 107, corporation (81), serial 0001 on


def valid_business_number() -> str:
    """A fresh, valid 사업자등록번호 (ten digits, check digit computed, never a reserved one)."""
    while business_number_is_reserved(number := make_business_number(str(next(_numbers)))):
        pass
    return number


class OrganisationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organisation

    name_ko = factory.Sequence(lambda n: f"한빛인공지능{n}")
    name_en = factory.Sequence(lambda n: f"Hanbit AI {n}")
    kind = OrganisationKind.STARTUP
    business_number = factory.LazyAttribute(
        lambda o: (
            valid_business_number()
            if o.kind in (OrganisationKind.LARGE_ENTERPRISE, OrganisationKind.SME, OrganisationKind.STARTUP)
            else None
        )
    )
    is_domestic = True
    is_gpu_supplier = False

    class Params:
        university = factory.Trait(
            kind=OrganisationKind.UNIVERSITY,
            name_ko=factory.Sequence(lambda n: f"한국과학대학교{n}"),
            name_en=factory.Sequence(lambda n: f"Korea Science University {n}"),
        )


class ConsortiumFactory(factory.django.DjangoModelFactory):
    """A consortium with its lead (confirmed), a university member (confirmed) and a draft.

    ``lead_contact`` and ``programme`` may be given; the university's contact is created.
    Pass ``with_university=False`` for a consortium of the lead alone.
    """

    class Meta:
        model = Consortium
        skip_postgeneration_save = True

    programme = factory.SubFactory(ProgrammeFactory)
    name = factory.Sequence(lambda n: f"한빛 컨소시엄 {n}")
    name_en = factory.Sequence(lambda n: f"Hanbit Consortium {n}")
    lead_organisation = factory.SubFactory(OrganisationFactory)
    lead_contact = factory.SubFactory(UserFactory, role="applicant")

    @factory.post_generation
    def with_university(obj, create, extracted, **kwargs):
        if not create:
            return
        now = timezone.now()
        Affiliation.objects.get_or_create(user=obj.lead_contact, organisation=obj.lead_organisation)
        ConsortiumMember.objects.create(
            consortium=obj, programme=obj.programme, organisation=obj.lead_organisation, role=MemberRole.LEAD,
            contact=obj.lead_contact, confirmed_at=now,
        )  # fmt: skip
        if extracted is False:
            return
        university = OrganisationFactory(university=True)
        contact = UserFactory(role="applicant")
        Affiliation.objects.create(user=contact, organisation=university)
        ConsortiumMember.objects.create(
            consortium=obj, programme=obj.programme, organisation=university, role=MemberRole.MEMBER,
            contact=contact, confirmed_at=now,
        )  # fmt: skip


COMPLETE_FIELDS = {
    "title": "한국어 중심 멀티모달 파운데이션 모델 개발",
    "summary": "자체 초기화한 가중치로 학습하는 한국어 특화 파운데이션 모델을 개발한다.",
    "model_categories": ["LLM", "LMM"],
    "technical_approach": "전문가 혼합(MoE) 구조와 장문 맥락 학습을 결합한다.",
    "data_strategy": "공공 말뭉치와 산업 데이터를 정제하여 3조 토큰을 구축한다.",
    "compute_plan": "H100 512장으로 사전학습, 이후 단계적으로 확장한다.",
    "requested_gpus": 512,
    "requested_budget": 4_000_000_000,
    "team_plan": "연구원 60명, 대학 연구실 3곳과 공동 연구.",
    "open_source_plan": "모델 가중치와 평가 도구를 공개한다 (AI for everyone).",
    "milestones": [{"phase": "1차", "goal": "글로벌 모델 대비 90% 성능"}, {"phase": "2차", "goal": "95% 성능"}],
}


class ApplicationFactory(factory.django.DjangoModelFactory):
    """The consortium's draft. By default complete (every field filled); ``empty=True`` for a bare draft."""

    class Meta:
        model = Application
        skip_postgeneration_save = True

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        # A consortium made by ``consortium_create`` already has its (empty) draft: fill that one.
        existing = model_class.objects.filter(consortium=kwargs["consortium"]).first()
        if existing is None:
            return super()._create(model_class, *args, **kwargs)
        for name, value in kwargs.items():
            setattr(existing, name, value)
        existing.save()
        return existing

    consortium = factory.SubFactory(ConsortiumFactory)
    programme = factory.LazyAttribute(lambda o: o.consortium.programme)
    saved_at = factory.LazyFunction(timezone.now)

    title = COMPLETE_FIELDS["title"]
    summary = COMPLETE_FIELDS["summary"]
    model_categories = factory.LazyFunction(lambda: list(COMPLETE_FIELDS["model_categories"]))
    technical_approach = COMPLETE_FIELDS["technical_approach"]
    data_strategy = COMPLETE_FIELDS["data_strategy"]
    compute_plan = COMPLETE_FIELDS["compute_plan"]
    requested_gpus = COMPLETE_FIELDS["requested_gpus"]
    requested_budget = COMPLETE_FIELDS["requested_budget"]
    team_plan = COMPLETE_FIELDS["team_plan"]
    open_source_plan = COMPLETE_FIELDS["open_source_plan"]
    milestones = factory.LazyFunction(lambda: [dict(m) for m in COMPLETE_FIELDS["milestones"]])

    @factory.post_generation
    def proposal_document(obj, create, extracted, **kwargs):
        """A complete draft carries the proposal document the programme requires (a real PDF);
        ``proposal_document=False`` leaves it out, and an empty draft has none."""
        if not create or extracted is False or not obj.title:
            return
        if not obj.attachments.filter(removed_at__isnull=True).exists():
            store_attachment(obj, pdf_bytes(), name="proposal.pdf", title="제안서")

    class Params:
        empty = factory.Trait(
            title="", summary="", model_categories=factory.LazyFunction(list), technical_approach="", data_strategy="",
            compute_plan="", requested_gpus=None, requested_budget=None, team_plan="", open_source_plan="",
            milestones=factory.LazyFunction(list),
        )  # fmt: skip


def submitted_application(*, programme=None, consortium=None, request_key: str = "", **fields):
    """A consortium with a complete application submitted once through ``application_submit``.

    ``fields`` override the draft (e.g. ``requested_gpus=256``, ``requested_budget=3_500_000_000``).
    Returns the application; ``application.versions.get()`` is its version.
    """
    from consortia.services import application_submit

    if programme is None:
        programme = consortium.programme if consortium is not None else ProgrammeFactory()
    if consortium is None:
        consortium = ConsortiumFactory(programme=programme)
    application = ApplicationFactory(consortium=consortium, **fields)
    application_submit(application=application, by=consortium.lead_contact, request_key=request_key)
    application.refresh_from_db()
    return application


def store_attachment(application, body: bytes, *, name: str, title: str = ""):
    """An attachment row and its stored file, as the upload service leaves them (no checks)."""
    import hashlib

    from django.core.files.base import ContentFile

    from consortia.models import Attachment

    attachment = Attachment(
        application=application,
        title=title or name,
        original_name=name,
        size=len(body),
        sha256=hashlib.sha256(body).hexdigest(),
        page_count=1,
        uploaded_by=application.consortium.lead_contact,
    )
    attachment.file.save("attachment.pdf", ContentFile(body), save=True)
    return attachment


def add_proposal_pdf(application, *, name: str = "proposal.pdf"):
    """Upload the proposal document (a real one-page PDF) through the attachment service,
    as the programme requires one before submission."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from consortia.services import attachment_add

    return attachment_add(
        application=application,
        by=application.consortium.lead_contact,
        uploaded=SimpleUploadedFile(name, pdf_bytes(), content_type="application/pdf"),
        title="제안서",
    )


def pdf_bytes(*, pages: int = 1, encrypt: bool = False, padding: int = 0) -> bytes:
    """A real PDF made with pypdf (optionally password-protected, or padded by ``padding`` bytes)."""
    import io

    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    if padding:
        writer.add_metadata({"/Subject": "x" * padding})
    if encrypt:
        writer.encrypt("secret-password")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
