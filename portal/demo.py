"""The demo programme: fictional people and organisations, built idempotently.

``seed_demo`` calls :func:`seed` here, which seeds the portal layer and then each
app's own ``demo.seed(context)`` in layer order, so every app adds its part.
"""

from __future__ import annotations

import importlib
import importlib.util
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from portal.enums import Role
from portal.formatting import KST
from portal.models import Programme, User

# Fictional accounts. Officer and administrator have TOTP with a fixed demo secret
# (base32) so the second factor can be shown: `python manage.py demo_totp officer`.
DEMO_ACCOUNTS = [
    {"username": "applicant", "password": "Demo-Applicant-2025!", "role": Role.APPLICANT, "full_name": "김하늘", "email": "applicant@hanbit-ai.example.kr"},
    {"username": "reviewer", "password": "Demo-Reviewer-2025!", "role": Role.REVIEWER, "full_name": "이서준", "email": "reviewer@review.example.kr"},
    {"username": "officer", "password": "Demo-Officer-2025!", "role": Role.OFFICER, "full_name": "박민지", "email": "officer@msit.example.kr", "totp_secret": "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"},
    {"username": "admin", "password": "Demo-Admin-2025!", "role": Role.ADMIN, "full_name": "최도윤", "email": "admin@msit.example.kr", "totp_secret": "KRSXG5CTMVRXEZLUKRSXG5CTMVRXEZLU"},
]  # fmt: skip

APP_SEEDERS = [
    "consortia.demo",
    "evaluations.demo",
    "gpu_allocation.demo",
    "awards.demo",
    "results.demo",
    "reporting.demo",
]


def ensure_user(
    *, username: str, password: str, role: str, full_name: str = "", email: str = "", totp_secret: str | None = None
) -> User:
    """Create the account if missing (never resets a changed password)."""
    from allauth.account.models import EmailAddress

    user, created = User.objects.get_or_create(
        username=username, defaults={"role": role, "full_name": full_name, "email": email}
    )
    if created:
        user.set_password(password)
        if role == Role.ADMIN:
            user.is_staff = True
            user.is_superuser = True
        user.save()
    if email:
        EmailAddress.objects.get_or_create(user=user, email=email, defaults={"verified": True, "primary": True})
    if totp_secret:
        from allauth.mfa.models import Authenticator
        from allauth.mfa.totp.internal.auth import TOTP

        if not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists():
            TOTP.activate(user, totp_secret)
    return user


def demo_programme() -> Programme:
    """The 2025 call, which has closed: its deadline lies 30 days before the first seeding, its
    proposals were submitted before it, and the selection, the first stage and the allocation
    follow in their order. Later seeds keep what is stored."""
    closes = (timezone.now() - timedelta(days=30)).astimezone(KST).replace(hour=18, minute=0, second=0, microsecond=0)
    programme, _ = Programme.objects.get_or_create(
        name="독자 AI 파운데이션 모델 프로젝트 (2025)",
        year=2025,
        defaults={
            "name_en": "Independent AI Foundation Model Project (2025)",
            "opens_at": (closes - timedelta(days=45)).replace(hour=9),
            "closes_at": closes,
            "budget_envelope": 22_000_000_000,
        },
    )
    return programme


def open_demo_programme() -> Programme:
    """A second, open call (deadline 30 days after the first seeding) in which the demo
    applicant can form a consortium and submit."""
    now = timezone.now().astimezone(KST)
    programme, _ = Programme.objects.get_or_create(
        name="독자 AI 파운데이션 모델 프로젝트 (2026 추가 공모)",
        year=2026,
        defaults={
            "name_en": "Independent AI Foundation Model Project (2026 additional call)",
            "opens_at": (now - timedelta(days=7)).replace(hour=9, minute=0, second=0, microsecond=0),
            "closes_at": (now + timedelta(days=30)).replace(hour=18, minute=0, second=0, microsecond=0),
            "max_teams": 2,
            "budget_envelope": 9_000_000_000,
        },
    )
    return programme


@transaction.atomic
def seed() -> dict:
    """Seed everything; returns what ``seed_demo --json`` prints."""
    accounts = []
    users = {}
    for spec in DEMO_ACCOUNTS:
        users[spec["username"]] = ensure_user(**spec)
        accounts.append({k: str(v) for k, v in spec.items() if k in ("username", "password", "role", "totp_secret")})
    programme = demo_programme()
    open_call = open_demo_programme()
    context = {
        "programme": programme,
        "open_programme": open_call,
        "users": users,
        "accounts": accounts,
        "phase_ids": [],
        "allocation_run_id": None,
        "notice_signing": {},  # what the awards demo prints of its signing key (nothing secret)
    }
    for module_name in APP_SEEDERS:
        if importlib.util.find_spec(module_name) is not None:
            importlib.import_module(module_name).seed(context)
    return {
        "accounts": context["accounts"],
        "programme_id": programme.id,
        "open_programme_id": open_call.id,
        "phase_ids": context["phase_ids"],
        "allocation_run_id": context["allocation_run_id"],
        "notice_signing": context["notice_signing"],
    }
