"""Who may download and list award notices (pages and API), the officers' page with its
*Issue notices* button, and constant query counts of the lists."""

from __future__ import annotations

import pytest
from django.urls import reverse

from gpu_allocation.models import AwardNotice
from tests.factories import UserFactory
from tests.factories_notices import approved_run, stored_notices


@pytest.fixture
def two_teams(db):
    """An approved run of two teams with stored notices, plus another programme's notice."""
    setup = approved_run(teams=2)
    notices = stored_notices(setup.run)
    other = approved_run(teams=1)
    other_notice = stored_notices(other.run)[0]
    return setup, notices, other_notice


def _team_users(notice):
    consortium = notice.allocation.consortium
    member = consortium.members.exclude(contact=consortium.lead_contact).get().contact
    return consortium.lead_contact, member


def _pdf_bytes(response) -> bytes:
    return b"".join(response.streaming_content)


@pytest.mark.parametrize("who", ["admin", "officer", "lead_contact", "member_contact"])
def test_allowed_people_download_the_notice_pdf(two_teams, who, officer, admin_user, client_for, api_for):
    setup, notices, _ = two_teams
    notice = notices[0]
    lead, member = _team_users(notice)
    user = {"admin": admin_user, "officer": officer, "lead_contact": lead, "member_contact": member}[who]
    with notice.pdf.open("rb") as handle:
        expected = handle.read()

    page = client_for(user).get(reverse("gpu_allocation:notice_pdf", args=[notice.pk]))
    api = api_for(user).get(f"/api/v1/award-notices/{notice.pk}/pdf/")

    assert (page.status_code, page["Content-Type"], _pdf_bytes(page)) == (200, "application/pdf", expected)
    assert (api.status_code, _pdf_bytes(api)) == (200, expected)
    assert f'filename="{notice.number}.pdf"' in page["Content-Disposition"]


@pytest.mark.parametrize("who", ["other_team", "unrelated_applicant", "reviewer"])
def test_everyone_else_gets_404(two_teams, who, reviewer, client_for, api_for):
    setup, notices, other_notice = two_teams
    notice = notices[0]
    user = {
        "other_team": notices[1].allocation.consortium.lead_contact,
        "unrelated_applicant": UserFactory(role="applicant"),
        "reviewer": reviewer,
    }[who]

    assert client_for(user).get(reverse("gpu_allocation:notice_pdf", args=[notice.pk])).status_code == 404
    assert api_for(user).get(f"/api/v1/award-notices/{notice.pk}/pdf/").status_code == 404
    assert api_for(user).get(f"/api/v1/award-notices/{notice.pk}/").status_code == 404


def test_anonymous_is_sent_to_log_in(two_teams, client):
    _, notices, _ = two_teams
    response = client.get(reverse("gpu_allocation:notice_pdf", args=[notices[0].pk]))
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]
    assert client.get(f"/api/v1/award-notices/{notices[0].pk}/pdf/").status_code in (401, 403)


def test_api_list_is_scoped_to_the_callers_team(two_teams, api_for, officer):
    setup, notices, other_notice = two_teams
    lead, _ = _team_users(notices[0])

    mine = api_for(lead).get("/api/v1/award-notices/").json()
    everything = api_for(officer).get("/api/v1/award-notices/").json()

    assert [row["number"] for row in mine["results"]] == [notices[0].number]
    assert mine["results"][0]["verification_url"].endswith(f"/verify/{notices[0].verification_code}/")
    assert mine["results"][0]["current"] is True
    assert {row["number"] for row in everything["results"]} == {n.number for n in [*notices, other_notice]}


def test_team_page_lists_only_its_notices(two_teams, client_for):
    _, notices, other_notice = two_teams
    lead, _ = _team_users(notices[0])
    html = client_for(lead).get(reverse("gpu_allocation:notice_list")).content.decode()
    assert notices[0].number in html
    assert notices[1].number not in html
    assert other_notice.number not in html


def test_officer_page_shows_the_runs_notices(two_teams, client_for, officer):
    setup, notices, _ = two_teams
    response = client_for(officer).get(reverse("gpu_allocation:notice_list") + f"?run={setup.run.pk}")
    html = response.content.decode()
    assert response.status_code == 200
    assert all(n.number in html for n in notices)
    assert 'data-testid="issue-notices"' not in html  # every team has its notice
    assert 'data-testid="build-zip"' not in html  # ZIP export is for administrators


def test_officer_page_offers_issue_while_notices_are_missing(db, client_for, officer):
    setup = approved_run(teams=2)
    html = client_for(officer).get(reverse("gpu_allocation:notice_list")).content.decode()
    assert setup.allocations[0].consortium.name in html
    assert html.count("Not issued yet") + html.count("미발급") == 2
    assert 'data-testid="issue-notices"' in html


def test_issue_button_issues_missing_notices(db, client_for, officer, django_capture_on_commit_callbacks):
    """The page only asks: the task (in-process here, as tasks run in tests) renders and signs."""
    setup = approved_run(teams=1)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client_for(officer).post(reverse("gpu_allocation:notice_issue", args=[setup.run.pk]))
    assert response.status_code == 302
    assert AwardNotice.objects.count() == 0  # nothing rendered or signed by the page itself
    pending = client_for(officer).get(reverse("gpu_allocation:notice_list")).content.decode()
    assert 'data-testid="issue-pending"' in pending
    for callback in callbacks:
        callback()
    notice = AwardNotice.objects.get()
    assert notice.allocation == setup.allocations[0]
    assert notice.issued_by == officer


def test_applicants_cannot_issue(db, client_for):
    setup = approved_run(teams=1)
    lead = setup.allocations[0].consortium.lead_contact
    response = client_for(lead).post(reverse("gpu_allocation:notice_issue", args=[setup.run.pk]))
    assert response.status_code == 404
    assert AwardNotice.objects.count() == 0


@pytest.mark.parametrize("teams", [3, 30])
def test_list_pages_and_api_cost_constant_queries(
    db, teams, client_for, api_for, admin_user, django_assert_max_num_queries
):
    setup = approved_run(teams=teams)
    notices = stored_notices(setup.run)
    lead = notices[0].allocation.consortium.lead_contact
    admin_client, lead_client = client_for(admin_user), client_for(lead)
    admin_api = api_for(admin_user)

    # Each budget includes the access record the read of personal data leaves (one INSERT).
    with django_assert_max_num_queries(12):
        response = admin_client.get(reverse("gpu_allocation:notice_list") + f"?run={setup.run.pk}")
    assert response.status_code == 200
    assert response.content.decode().count('data-testid="notice-download"') == teams
    with django_assert_max_num_queries(7):
        assert lead_client.get(reverse("gpu_allocation:notice_list")).status_code == 200
    with django_assert_max_num_queries(4):
        rows = admin_api.get("/api/v1/award-notices/").json()
    assert rows["count"] == teams
