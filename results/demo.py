"""Demo data of the results app (``seed_demo``): the stage phase's objectives mapped to the
tasks and metrics of lm-evaluation-harness files and model cards, and its fictional
reference models with their sources. Idempotent: a second run changes nothing."""

from __future__ import annotations

from datetime import date

from evaluations.enums import PhaseKind
from evaluations.models import Phase
from results import services
from results.models import ObjectiveMapping, ReferenceModel

#: benchmark → (task, metric): the harness's task names and unfiltered metric keys.
MAPPINGS = {
    "KMMLU": ("kmmlu", "acc,none"),
    "HAE-RAE Bench": ("haerae", "acc_norm,none"),
    "K-MMBench": ("k_mmbench", "acc,none"),
    "K-AgentBench": ("k_agentbench", "success_rate,none"),
}

#: The fictional reference models; a model named as an objective's reference carries its score.
REFERENCES = [
    {
        "name": "글로벌 모델 A (가상)",
        "version": "2026-06",
        "released_on": date(2026, 6, 12),
        "source_url": "https://leaderboard.example.org/ko-llm",
        "source_title": "Korean LLM Leaderboard (fictional)",
    },
    {
        "name": "글로벌 모델 B (가상)",
        "version": "",
        "released_on": date(2026, 5, 20),
        "source_url": "https://papers.example.org/global-model-b",
        "source_title": "Technical report of global model B (fictional)",
    },
    {
        "name": "글로벌 모델 C (가상)",
        "version": "v2",
        "released_on": None,
        "source_url": "https://leaderboard.example.org/agents",
        "source_title": "Agent benchmark leaderboard (fictional)",
    },
]


def seed(context: dict) -> None:
    officer = context["users"].get("officer")
    stage = Phase.objects.filter(programme=context["programme"], kind=PhaseKind.STAGE).order_by("order").first()
    if stage is None or officer is None or services.phase_is_closed(stage):
        return
    objectives = list(stage.objectives.order_by("id"))
    if not ObjectiveMapping.objects.filter(objective__phase=stage).exists():
        services.objective_mapping_set(
            phase=stage,
            by=officer,
            rows=[
                {"objective": o.id, "task": task, "metric": metric, "harness_scale": "100", "card_scale": "1"}
                for o in objectives
                if o.benchmark in MAPPINGS
                for task, metric in [MAPPINGS[o.benchmark]]
            ],
        )
    if ReferenceModel.objects.filter(phase=stage).exists():
        return
    for spec in REFERENCES:
        mine = [o for o in objectives if o.reference_model == spec["name"]]
        # The objective's own reference score; elsewhere a slightly different fictional figure.
        scores = {o.id: o.reference_score for o in mine}
        for o in objectives:
            if o not in mine and o.model_category == "LLM":
                scores[o.id] = (o.reference_score * 98 / 100).quantize(o.reference_score)
        if scores:
            services.reference_model_save(phase=stage, by=officer, data=spec, scores=scores)
