"""What each role sees in the navigation: (url name, label, roles)."""

from django.urls import NoReverseMatch, reverse
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
    ("portal:audit_log", _("Audit trail"), (D,)),
    ("portal:access_log", _("Access records"), (D,)),
    ("admin:index", _("Administration"), (D,)),
]


def nav_items_for(user) -> list[dict]:
    if not user.is_authenticated:
        return []
    items = []
    for url_name, label, roles in NAV_ITEMS:
        if user.role not in roles:
            continue
        try:
            url = reverse(url_name)
        except NoReverseMatch:
            continue  # that part of the portal is not installed in this build
        items.append({"url": url, "label": label, "name": url_name})
    return items
