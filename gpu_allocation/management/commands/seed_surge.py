"""Complete drafts ready to submit, for the deadline-surge benchmark (bulk inserts).

    python manage.py seed_surge --applications 500 --closes-in 30 --out /tmp/surge.json

Creates a programme whose deadline lies ``--closes-in`` seconds ahead, N consortia
whose drafts pass every check (members confirmed, a university participant), and an
API token for each lead contact. Writes [{application_id, token}] and the deadline.
"""

import hashlib
import io
import json
import secrets
from datetime import timedelta

from django.contrib.auth.hashers import make_password
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from rest_framework.authtoken.models import Token

from consortia.enums import ApplicationState, MemberRole, OrganisationKind
from consortia.models import Application, Attachment, Consortium, ConsortiumMember, Organisation
from gpu_allocation.management.commands.seed_scale import business_number
from portal.enums import Role
from portal.models import Programme, User


def _small_pdf() -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


class Command(BaseCommand):
    help = "Create complete drafts and tokens for the deadline-surge benchmark."

    def add_arguments(self, parser):
        parser.add_argument("--applications", type=int, default=500)
        parser.add_argument("--closes-in", type=float, default=30.0)
        parser.add_argument("--out", required=True)

    @transaction.atomic
    def handle(self, *args, **options):
        n = options["applications"]
        now = timezone.now()
        tag = secrets.token_hex(3)
        programme = Programme.objects.create(
            name=f"마감 부하 시험 {tag}", year=2025, receipt_prefix="SURGE", opens_at=now - timedelta(days=30),
            closes_at=now + timedelta(seconds=options["closes_in"]),
        )  # fmt: skip
        password = make_password(None)
        users = User.objects.bulk_create(
            [User(username=f"surge-{tag}-{i}", password=password, role=Role.APPLICANT) for i in range(2 * n)]
        )
        leads, members = users[:n], users[n:]
        orgs = Organisation.objects.bulk_create(
            [Organisation(name_ko=f"부하기업 {tag}-{i}", name_en=f"Surge Co {i}", kind=OrganisationKind.SME,
                          business_number=business_number(programme.id * 100_000 + i)) for i in range(n)]
            + [Organisation(name_ko=f"부하대학 {tag}-{i}", name_en=f"Surge Univ {i}", kind=OrganisationKind.UNIVERSITY) for i in range(n)]
        )  # fmt: skip
        consortia = Consortium.objects.bulk_create(
            [Consortium(programme=programme, name=f"부하 컨소시엄 {i}", lead_organisation=orgs[i], lead_contact=leads[i]) for i in range(n)]
        )  # fmt: skip
        ConsortiumMember.objects.bulk_create(
            [ConsortiumMember(consortium=c, programme=programme, organisation=orgs[i], role=MemberRole.LEAD, contact=leads[i], confirmed_at=now)
             for i, c in enumerate(consortia)]
            + [ConsortiumMember(consortium=c, programme=programme, organisation=orgs[n + i], role=MemberRole.MEMBER,
                                contact=members[i], confirmed_at=now) for i, c in enumerate(consortia)]
        )  # fmt: skip
        text = "부하 시험용 제안 내용입니다."
        applications = Application.objects.bulk_create(
            [Application(consortium=c, programme=programme, state=ApplicationState.DRAFT, title=f"부하 제안 {i}", summary=text,
                         model_categories=["LLM"], technical_approach=text, data_strategy=text, compute_plan=text,
                         requested_gpus=512, requested_budget=4_000_000_000, team_plan=text, open_source_plan=text,
                         milestones=[{"phase": "1", "goal": text}], saved_at=now) for i, c in enumerate(consortia)]
        )  # fmt: skip
        # Each draft carries the programme's required PDF attachments: one small proposal
        # document, stored once and referred to by every draft (the submit reads the rows only).
        pdf = _small_pdf()
        stored = default_storage.save(f"attachments/surge-{tag}.pdf", ContentFile(pdf))
        digest = hashlib.sha256(pdf).hexdigest()
        Attachment.objects.bulk_create(
            [Attachment(application=a, title="제안서", file=stored, original_name="제안서.pdf", size=len(pdf),
                        sha256=digest, page_count=1, uploaded_by=leads[i])
             for i, a in enumerate(applications) for _ in range(programme.required_attachments)]
        )  # fmt: skip
        tokens = Token.objects.bulk_create([Token(user=u, key=Token.generate_key()) for u in leads])
        out = {
            "programme_id": programme.id,
            "closes_at": programme.closes_at.isoformat(),
            "items": [{"application_id": a.id, "token": t.key} for a, t in zip(applications, tokens, strict=True)],
        }
        with open(options["out"], "w", encoding="utf-8") as handle:
            json.dump(out, handle)
        self.stdout.write(json.dumps({"programme_id": programme.id, "closes_at": out["closes_at"], "applications": n}))
