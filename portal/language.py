"""The language switch, which also records the choice of a signed-in person on their account
(``User.language``), so that what the portal sends them without a request — reminders,
receipts sent by a worker — is written in the language they read the pages in."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils.translation import check_for_language
from django.views.i18n import LANGUAGE_QUERY_PARAMETER
from django.views.i18n import set_language as django_set_language


def set_language(request):
    """Django's ``set_language`` (cookie and redirect), plus the account's language."""
    response = django_set_language(request)
    code = request.POST.get(LANGUAGE_QUERY_PARAMETER) if request.method == "POST" else None
    user = getattr(request, "user", None)
    if (
        code
        and code in dict(settings.LANGUAGES)
        and check_for_language(code)
        and user is not None
        and user.is_authenticated
        and user.language != code
    ):
        get_user_model().objects.filter(pk=user.pk).update(language=code)
    return response
