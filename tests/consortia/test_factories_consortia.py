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


def test_application_factory_fills_the_draft_made_by_the_service(programme):
    from consortia.services import consortium_create
    from tests.factories_consortia import OrganisationFactory

    lead = ConsortiumFactory(programme=programme).lead_contact
    org = OrganisationFactory()
    org.affiliations.create(user=lead)
    consortium = consortium_create(by=lead, programme=programme, name="새 컨소시엄", lead_organisation=org)
    application = ApplicationFactory(consortium=consortium, requested_gpus=64)
    assert application.pk == consortium.application.pk
    assert (application.title != "", application.requested_gpus) == (True, 64)
