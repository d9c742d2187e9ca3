"""What each role sees in the navigation: (url name, label, roles)."""

from django.conf import settings
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from portal.enums import Role

A, R, OFF, D = Role.APPLICANT, Role.REVIEWER, Role.OFFICER, Role.ADMIN

NAV_ITEMS = [
    ("portal:home", _("Home"), (A, R, OFF, D)),
    ("consortia:my_consortia", _("My consortium"), (A,)),
    ("consortia:my_applications", _("My application"), (A,)),
    ("evaluations:my_results", _("My results"), (A,)),
    ("evaluations:reviewer_queue", _("My reviews"), (R,)),
    ("portal:programme_list", _("Programmes"), (OFF, D)),
    ("consortia:officer_applications", _("Applications"), (OFF, D)),
    ("evaluations:phase_list", _("Evaluations"), (OFF, D)),
    ("gpu_allocation:pool", _("GPU pool"), (OFF, D)),
    ("gpu_allocation:run_list", _("Allocations"), (OFF, D)),
    ("gpu_allocation:notice_list", _("Award notices"), (A, OFF, D)),
    ("reporting:my_reports", _("My reports"), (A,)),
    ("reporting:officer_reports", _("Reports"), (OFF, D)),
    ("portal:audit_log", _("Audit trail"), (D,)),
    ("portal:access_log", _("Access records"), (D,)),
    ("admin:index", _("Administration"), (D,)),
]


#: The navigation's URLs, reversed once per URLconf, script prefix and language (they depend on
#: nothing else), instead of a dozen ``reverse`` calls on every page.
_urls: dict[tuple, dict[str, str | None]] = {}


def _nav_urls() -> dict[str, str | None]:
    key = (get_urlconf() or settings.ROOT_URLCONF, get_script_prefix(), get_language())
    urls = _urls.get(key)
    if urls is None:
        urls = {}
        for url_name, _label, _roles in NAV_ITEMS:
            try:
                urls[url_name] = reverse(url_name)
            except NoReverseMatch:
                urls[url_name] = None  # that part of the portal is not installed in this build
        if len(_urls) > 64:
            _urls.clear()
        _urls[key] = urls
    return urls


def nav_items_for(user) -> list[dict]:
    if not user.is_authenticated:
        return []
    urls = _nav_urls()
    return [
        {"url": urls[url_name], "label": label, "name": url_name}
        for url_name, label, roles in NAV_ITEMS
        if user.role in roles and urls[url_name] is not None
    ]
