"""Journey 1, the applicant: sign up, verify the e-mail, build a consortium, apply, see the receipt.

A second applicant (a university's contact) accepts the invitation in their own browser,
so the consortium meets the programme's rules and the lead contact can submit.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from tests.browser.journey_steps import CONFIRM_LINK, log_in, require_page
from tests.factories import ProgrammeFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Hanbit-Apply-2025!x"
MEMBER_PASSWORD = "Hangang-Univ-2025!x"
INVITE_LINK = re.compile(r"https?://\S+/consortia/invitations/\S+/")


def submit(page, form_selector: str) -> None:
    """Press the form's submit button and wait for the next page."""
    with page.expect_navigation():
        page.locator(f"{form_selector} [type=submit]").first.click()


def sign_up_and_verify(visitor) -> None:
    page = visitor.page
    visitor.goto("/")
    assert "/accounts/login/" in page.url  # anonymous visitors land on the log-in page
    assert visitor.lang == "ko"
    visitor.goto("account_signup")
    visitor.check("signup")
    page.fill("input[name=email]", "jiwoo@hanbit-ai.example.kr")
    page.fill("input[name=username]", "jiwoo")
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    submit(page, "main form")
    visitor.check("verification-sent")

    assert len(mail.outbox) == 1, [m.subject for m in mail.outbox]
    page.goto(CONFIRM_LINK.search(mail.outbox[0].body).group(0))
    visitor.check("confirm-email")
    submit(page, "main form")
    # Confirming logs the new applicant in and lands on the home page.
    page.wait_for_selector("form[action$='/accounts/logout/']")
    visitor.check("home")
    visitor.switch_language()  # one page in English too
    visitor.check("home")
    visitor.switch_language()


def test_applicant_journey(browser_factory):
    from consortia.validators import make_business_number

    programme = ProgrammeFactory(require_university=True)
    UserFactory(role="applicant", username="hyun", email="hyun@hangang.example.ac.kr").set_password(MEMBER_PASSWORD)
    member_user = UserFactory._meta.model.objects.get(username="hyun")
    member_user.set_password(MEMBER_PASSWORD)
    member_user.save()
    lead = browser_factory("ko", name="1-applicant")
    page = lead.page

    sign_up_and_verify(lead)
    require_page("consortia:my_consortia")

    # Register the company and create the consortium.
    page.locator("[data-nav='consortia:my_consortia']").click()
    page.wait_for_url("**/consortia/")
    lead.check("my-consortium")
    org_form = "form[action$='/consortia/organisations/new/']"
    page.fill(f"{org_form} [name=name_ko]", "한빛AI 주식회사")
    page.fill(f"{org_form} [name=name_en]", "Hanbit AI Inc.")
    page.select_option(f"{org_form} [name=kind]", "startup")
    page.fill(f"{org_form} [name=business_number]", make_business_number("123456789"))
    page.check(f"{org_form} [name=is_domestic]")
    submit(page, org_form)
    consortium_form = "form[action$='/consortia/new/']"
    page.select_option(f"{consortium_form} [name=programme]", str(programme.pk))
    page.fill(f"{consortium_form} [name=name]", "한빛 파운데이션 컨소시엄")
    page.fill(f"{consortium_form} [name=name_en]", "Hanbit Foundation Consortium")
    page.select_option(f"{consortium_form} [name=lead_organisation]", index=1)
    submit(page, consortium_form)
    assert "/consortia/" in page.url and page.locator("[data-member]").count() == 1
    lead.check("consortium")

    # Invite the university.
    mail.outbox.clear()
    invite_form = "form[action$='/invite/']"
    page.fill(f"{invite_form} [name=email]", "hyun@hangang.example.ac.kr")
    page.select_option(f"{invite_form} [name=role]", "member")
    submit(page, invite_form)
    assert page.get_by_text("hyun@hangang.example.ac.kr").count() >= 1
    consortium_url = page.url
    link = INVITE_LINK.search(mail.outbox[-1].body).group(0)

    # The university's contact accepts in their own browser and confirms participation.
    member = browser_factory("ko", name="1-member")
    log_in(member, username="hyun", password=MEMBER_PASSWORD, check=False)
    member.page.goto(link)
    member.check("invitation")
    member.page.fill("[name=new-name_ko]", "한강대학교")
    member.page.fill("[name=new-name_en]", "Hangang University")
    member.page.select_option("[name=new-kind]", "university")
    member.page.check("[name=new-is_domestic]")
    submit(member.page, "main form")
    member.check("consortium")
    with member.page.expect_navigation():
        member.page.locator("form[action$='/confirm/'] button").click()
    assert member.page.locator(".badge.text-bg-warning").count() == 0  # every member confirmed

    # Fill the proposal over its steps.
    page.goto(consortium_url)
    page.locator("a[href*='/step/1/']").first.click()
    page.wait_for_url("**/step/1/")
    lead.check("step-1")
    page.fill("[name=title]", "한빛-1: 한국어 중심 초거대 언어모델")
    page.fill("[name=summary]", "자체 초기화 가중치로 학습하는 한국어 중심 파운데이션 모델.")
    page.check("[name=model_categories][value=LLM]")
    submit(page, "#draft-form")  # "save" stays on the step
    assert page.locator(".alert-success").count() == 1
    with page.expect_navigation():
        page.locator("#draft-form [name=next]").click()
    page.wait_for_url("**/step/2/")
    lead.check("step-2")
    page.fill("[name=technical_approach]", "Transformer 기반 사전학습, 한국어 토크나이저 자체 개발.")
    page.fill("[name=data_strategy]", "공공 말뭉치와 자체 구축 데이터 2조 토큰.")
    with page.expect_navigation():
        page.locator("#draft-form [name=next]").click()
    lead.check("step-3")
    page.fill("[name=compute_plan]", "H100 512장으로 6개월 사전학습.")
    page.fill("[name=requested_gpus]", "512")
    page.fill("[name=requested_budget]", "4000000000")
    with page.expect_navigation():
        page.locator("#draft-form [name=next]").click()
    lead.check("step-4")
    page.fill("[name=team_plan]", "연구원 40명, 박사급 12명.")
    page.fill("[name=open_source_plan]", "가중치 공개, 국민 누구나 쓰는 서비스 제공.")
    page.fill("[name=milestones]", "1차 | 글로벌 모델 대비 95%")
    with page.expect_navigation():
        page.locator("#draft-form [name=next]").click()

    # Upload a PDF.
    page.wait_for_url("**/attachments/")
    from tests.factories_consortia import pdf_bytes

    page.fill("main form [name=title]", "사업계획서")
    page.set_input_files(
        "main form [name=file]",
        files=[{"name": "plan.pdf", "mimeType": "application/pdf", "buffer": pdf_bytes(pages=2)}],
    )
    submit(page, "main form[enctype='multipart/form-data']")
    assert page.get_by_role("link", name="plan.pdf").count() == 1
    lead.check("attachments")

    # Review the checklist and submit; the receipt follows.
    page.locator("a[href*='/step/6/']").first.click()
    page.wait_for_url("**/review/")
    lead.check("review")
    failing = page.locator("[data-check][data-ok=false]").all_inner_texts()
    assert not failing, failing
    with page.expect_navigation():
        page.locator("form[action$='/submit/'] button[type=submit]").click()
    receipt = page.locator("[data-testid=receipt]")
    receipt.wait_for()
    assert re.search(r"IAFM-\d{4}-\d{4}", receipt.inner_text())
    lead.check("receipt")
    lead.switch_language()
    lead.check("receipt")
    lead.switch_language()

    # After the deadline a second submission is refused with a message naming the deadline.
    page.locator("a[href*='/step/6/']").first.click()
    page.wait_for_url("**/review/")
    type(programme).objects.filter(pk=programme.pk).update(closes_at=timezone.now() - timedelta(seconds=1))
    with page.expect_navigation():
        page.locator("form[action$='/submit/'] button[type=submit]").click()
    refusal = page.locator(".alert-danger")
    refusal.wait_for()
    assert refusal.count() == 1
    lead.check("refused-after-deadline")
    assert page.locator("form[action$='/submit/']").count() == 0  # read-only now

    # The version history and the list of applications, read-only now.
    page.locator("a[href$='/versions/']").first.click()
    page.wait_for_url("**/versions/")
    lead.check("version-history")
    page.locator("[data-nav='consortia:my_applications']").click()
    page.wait_for_url("**/consortia/applications/")
    lead.check("my-applications")
