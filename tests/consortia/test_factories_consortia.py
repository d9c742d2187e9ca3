from consortia.enums import ApplicationState
from consortia.rules_application import application_checklist, checklist_passes
from tests.factories_consortia import ApplicationFactory, ConsortiumFactory, submitted_application


def test_factory_application_is_complete_and_eligible(db):
    application = ApplicationFactory()
    items = application_checklist(application)
    assert checklist_passes(items), [i for i in items if not i.ok]


def test_submitted_application_helper_freezes_one_version(programme):
    application = submitted_application(programme=programme, requested_gpus=256)
    version = application.versions.get()
    assert application.state == ApplicationState.SUBMITTED
    assert version.content["requested_gpus"] == 256
    assert version.content["requested_budget"] == 4_000_000_000
    assert version.receipt_number == f"IAFM-{programme.year}-0001"


def test_consortium_factory_has_lead_and_university(db):
    consortium = ConsortiumFactory()
    kinds = sorted(consortium.members.values_list("organisation__kind", flat=True))
    assert kinds == ["startup", "university"]
