"""seed_scale builds a consistent large data set (checked here at a small size)."""

import json
from io import StringIO

import pytest
from django.core.management import call_command

from consortia.models import Application, ApplicationVersion, Organisation
from consortia.validators import validate_business_number
from evaluations.models import Assignment, PhaseResult, Score
from gpu_allocation.models import Allocation, AllocationRun

pytestmark = pytest.mark.django_db


def test_seed_scale_creates_complete_submitted_and_scored_applications():
    out = StringIO()
    call_command("seed_scale", "--applications", "30", "--reviewers", "8", stdout=out)
    ids = json.loads(out.getvalue())
    apps = Application.objects.filter(programme_id=ids["programme_id"])
    assert apps.count() == 30
    assert ApplicationVersion.objects.filter(application__in=apps).count() == 30
    assert Assignment.objects.filter(phase_id=ids["phase_id"]).count() == 150
    assert Score.objects.filter(assignment__phase_id=ids["phase_id"]).count() == 600
    assert PhaseResult.objects.filter(phase_id=ids["phase_id"]).count() == 30
    run = AllocationRun.objects.get(pk=ids["allocation_run_id"])
    assert run.approved_at is not None
    assert (
        Allocation.objects.filter(run=run).count()
        == PhaseResult.objects.filter(phase_id=ids["phase_id"], decision="selected").count()
    )
    for number in Organisation.objects.exclude(business_number=None).values_list("business_number", flat=True)[:30]:
        validate_business_number(number)
