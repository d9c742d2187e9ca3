from django.core.management import call_command

from consortia.models import Application, ApplicationVersion, Consortium
from consortia.rules_application import application_checklist, checklist_passes


def test_seed_demo_adds_consortia_idempotently(db):
    call_command("seed_demo", "--json", stdout=__import__("io").StringIO())
    first = (Consortium.objects.count(), ApplicationVersion.objects.count())
    call_command("seed_demo", "--json", stdout=__import__("io").StringIO())
    assert (Consortium.objects.count(), ApplicationVersion.objects.count()) == first == (8, 7)
    states = sorted(Application.objects.values_list("state", flat=True))
    assert states == ["draft"] + ["submitted"] * 6 + ["withdrawn"]
    first_consortium = Consortium.objects.order_by("id").first()
    assert first_consortium.lead_contact.username == "applicant"
    for application in Application.objects.filter(state="submitted"):
        assert checklist_passes(application_checklist(application))
        assert application.requested_gpus % 8 == 0 and application.requested_gpus <= 1000
        assert 3_000_000_000 <= application.requested_budget <= 5_000_000_000
