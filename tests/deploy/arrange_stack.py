"""Arranges what the journeys of tests/deploy/test_production_stack.py need, run inside the
stack's own environment (``manage.py shell``, production settings, the S3 store): an open
programme with an applicant's complete draft, and one more GPU node in the demo pool so that
the next allocation run has new inputs (not a reused result). Prints the ids as JSON."""

import json
import os

from gpu_allocation.models import GpuCluster
from tests.factories import ProgrammeFactory, UserFactory
from tests.factories_consortia import ApplicationFactory, ConsortiumFactory

PASSWORD = os.environ["STACK_APPLICANT_PASSWORD"]

cluster = GpuCluster.objects.filter(programme_id=int(os.environ["STACK_DEMO_PROGRAMME"]), is_active=True).first()
cluster.nodes += 1
cluster.save(update_fields=["nodes"])

applicant = UserFactory(role="applicant", username="stack-applicant", email="stack-applicant@hanbit-ai.example.kr")
applicant.set_password(PASSWORD)
applicant.save(update_fields=["password"])
programme = ProgrammeFactory(name="Open programme (stack test)")
application = ApplicationFactory(consortium=ConsortiumFactory(programme=programme, lead_contact=applicant))
print(json.dumps({"application_id": application.pk, "applicant": applicant.username, "programme_id": programme.pk}))
