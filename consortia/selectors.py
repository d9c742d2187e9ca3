"""Reads scoped to a user: every list and lookup of the app starts here.

Applicants see only their own consortia's objects (as lead contact, member contact or
staff affiliated with a member organisation); officers and administrators see all
(contents of applications stay sealed until the deadline, see ``consortia.rules``);
anyone else sees nothing.
"""

from __future__ import annotations

from django.db.models import Count, Max, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from consortia.models import (
    Affiliation,
    Application,
    ApplicationVersion,
    Attachment,
    Consortium,
    ConsortiumMember,
    Invitation,
    Organisation,
)


def team_q(user, prefix: str = "") -> Q:
    """Consortia in which ``user`` takes part (prefix e.g. ``consortium__``)."""
    return (
        Q(**{f"{prefix}lead_contact": user})
        | Q(**{f"{prefix}members__contact": user})
        | Q(**{f"{prefix}members__organisation__affiliations__user": user})
    )


def team_contacts_q(user, prefix: str = "") -> Q:
    """Consortia ``user`` speaks for: as lead contact or as a member organisation's contact
    (prefix e.g. ``consortium__``). The team that receives its award notices and writes its
    reports (SPEC §2, §7, §11); narrower than :func:`team_q`, which also counts the staff
    affiliated with a member organisation."""
    return Q(**{f"{prefix}lead_contact": user}) | Q(**{f"{prefix}members__contact": user})


def user_is_team_contact(user, consortium: Consortium) -> bool:
    """``user`` speaks for ``consortium`` (:func:`team_contacts_q`); no query for its lead contact."""
    if not (user and user.is_authenticated):
        return False
    if consortium.lead_contact_id == user.pk:
        return True
    return consortium.members.filter(contact=user).exists()


def _team_consortium_ids(user):
    """Ids of the user's consortia. The same test as ``team_q``, written as three indexed
    look-ups (lead contact; member contact; affiliation → member organisation) so the
    database never joins every consortium with its members and affiliations: the cost
    follows the user's own rows, not the number of consortia (SPEC §10)."""
    as_member = ConsortiumMember.objects.filter(contact=user).values("consortium_id")
    as_staff = ConsortiumMember.objects.filter(
        organisation_id__in=Affiliation.objects.filter(user=user).values("organisation_id")
    ).values("consortium_id")
    return Consortium.objects.filter(Q(lead_contact=user) | Q(pk__in=as_member) | Q(pk__in=as_staff)).values("pk")


def consortia_visible_to(user) -> QuerySet[Consortium]:
    qs = Consortium.objects.select_related("programme", "lead_organisation", "lead_contact")
    if not (user and user.is_authenticated):
        return qs.none()
    if user.is_officer:
        return qs.order_by("id")
    if user.is_applicant:
        return qs.filter(pk__in=_team_consortium_ids(user)).order_by("id")
    return qs.none()


def organisations_visible_to(user) -> QuerySet[Organisation]:
    """Officers: all. Applicants: organisations they belong to and those of their consortia."""
    qs = Organisation.objects.all()
    if not (user and user.is_authenticated):
        return qs.none()
    if user.is_officer:
        return qs.order_by("name_ko", "id")
    if user.is_applicant:
        return qs.filter(
            Q(pk__in=Organisation.objects.filter(affiliations__user=user).values("pk"))
            | Q(pk__in=Organisation.objects.filter(memberships__consortium__in=_team_consortium_ids(user)).values("pk"))
        ).order_by("name_ko", "id")
    return qs.none()


def organisations_of_user(user) -> QuerySet[Organisation]:
    """The organisations ``user`` is affiliated with (may lead or join with)."""
    return Organisation.objects.filter(affiliations__user=user).order_by("name_ko", "id")


def _version_count() -> Coalesce:
    return Coalesce(
        Subquery(
            ApplicationVersion.objects.filter(application=OuterRef("pk"))
            .order_by()
            .values("application")
            .annotate(n=Count("id"))
            .values("n")
        ),
        0,
    )


def _scoped(qs: QuerySet[Application], user) -> QuerySet[Application]:
    """Officers: every application. Applicants: their team's. Anyone else: none."""
    if not (user and user.is_authenticated):
        return qs.none()
    if user.is_officer:
        return qs.order_by("id")
    if user.is_applicant:
        return qs.filter(consortium__in=_team_consortium_ids(user)).order_by("id")
    return qs.none()


def applications_visible_to(user, *, facts: bool = True) -> QuerySet[Application]:
    """Applications with their consortium, lead and programme; annotated with version facts.

    ``facts=False``: the same visibility, the rows and their consortium only — for a write
    (submit, withdraw, an upload) that needs the row and the permission check (which reads the
    consortium's lead contact), not the version facts or the other joined rows."""
    if not facts:
        return _scoped(Application.objects.select_related("consortium"), user)
    qs = Application.objects.select_related(
        "programme", "consortium", "consortium__lead_organisation", "consortium__lead_contact", "saved_by"
    ).annotate(
        # Correlated subqueries rather than JOIN + GROUP BY: a page evaluates them for its
        # 50 rows only, and the paginator's COUNT(*) leaves them out.
        version_count=_version_count(),
        last_submitted_at=Subquery(
            ApplicationVersion.objects.filter(application=OuterRef("pk"))
            .order_by()
            .values("application")
            .annotate(last=Max("submitted_at"))
            .values("last")
        ),
    )
    return _scoped(qs, user)


def applications_listed_for(user) -> QuerySet[Application]:
    """The applicant's list of applications: the same rows as ``applications_visible_to``,
    with only the columns the list shows (consortium, title, state, versions, last saved,
    and the programme's deadline) — a fifth of the columns, and one correlated subquery."""
    qs = (
        Application.objects.select_related("programme", "consortium")
        .only(
            "id", "title", "state", "saved_at", "programme_id", "consortium_id",
            "programme__closes_at", "consortium__name",
        )
        .annotate(version_count=_version_count())
    )  # fmt: skip
    return _scoped(qs, user)


def application_state_counts(*, programme) -> dict[str, int]:
    """How many applications of ``programme`` are in each state (what officers see while sealed)."""
    rows = Application.objects.filter(programme=programme).values("state").annotate(n=Count("id")).order_by()
    return {row["state"]: row["n"] for row in rows}


def versions_of(application) -> QuerySet[ApplicationVersion]:
    return application.versions.select_related("submitted_by").order_by("-number")


def attachments_of(application, *, include_removed: bool = False) -> QuerySet[Attachment]:
    qs = application.attachments.select_related("uploaded_by").order_by("id")
    return qs if include_removed else qs.filter(removed_at__isnull=True)


def pending_invitations_of(consortium) -> QuerySet[Invitation]:
    return consortium.invitations.filter(state="pending").order_by("-created_at")
