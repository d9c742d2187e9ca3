"""The language switch records a signed-in person's choice on the account (``User.language``),
which mail sent without a request (reminders) is written in; bad input changes nothing."""

import pytest

from portal.models import User

pytestmark = pytest.mark.django_db


def test_switching_language_records_it_on_the_account(reviewer, client_for):
    client = client_for(reviewer)
    assert reviewer.language == "ko"
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert (response.status_code, response["Location"]) == (302, "/")
    assert response.cookies["django_language"].value == "en"
    assert User.objects.get(pk=reviewer.pk).language == "en"
    client.post("/i18n/setlang/", {"language": "ko", "next": "/"})
    assert User.objects.get(pk=reviewer.pk).language == "ko"


def test_unknown_language_changes_nothing(reviewer, client_for):
    client = client_for(reviewer)
    client.post("/i18n/setlang/", {"language": "xx", "next": "/"})
    client.get("/i18n/setlang/?language=en")
    assert User.objects.get(pk=reviewer.pk).language == "ko"


def test_anonymous_switch_still_sets_the_cookie(client):
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert response.cookies["django_language"].value == "en"
