"""seed_demo maps the demo stage phase's objectives and gives it fictional reference models, once."""

import pytest

from evaluations.models import Phase
from results.models import ObjectiveMapping, ReferenceModel, ReferenceScore

pytestmark = pytest.mark.django_db


def test_the_demo_stage_phase_has_mappings_and_reference_models_and_a_second_seed_changes_nothing():
    from portal.demo import seed

    result = seed()
    stage = Phase.objects.get(pk=result["phase_ids"][1])
    mappings = {
        m.objective.benchmark: (m.task, m.metric) for m in ObjectiveMapping.objects.filter(objective__phase=stage)
    }
    assert mappings["KMMLU"] == ("kmmlu", "acc,none")
    references = list(ReferenceModel.objects.filter(phase=stage))
    assert {r.name for r in references} == {"글로벌 모델 A (가상)", "글로벌 모델 B (가상)", "글로벌 모델 C (가상)"}
    for objective in stage.objectives.all():  # each objective's own reference carries its score
        own = ReferenceScore.objects.get(reference_model__name=objective.reference_model, objective=objective)
        assert own.score == objective.reference_score
    counts = (ObjectiveMapping.objects.count(), ReferenceModel.objects.count(), ReferenceScore.objects.count())
    seed()
    assert (ObjectiveMapping.objects.count(), ReferenceModel.objects.count(), ReferenceScore.objects.count()) == counts
