"""The open data of a programme's published results: JSON (with a JSON Schema) and CSV.

Built from ``results.selectors.public_programme_everything`` only, so it holds exactly what the public
pages show: published phases, rank, score, decision and benchmark attainment; the name of a
team only where the public page names it. Numbers are strings in JSON (exact decimals, as
in the API); CSV files are UTF-8 with a byte-order mark so spreadsheet programmes read the
Korean names.
"""

from __future__ import annotations

SCHEMA_ID = "results.schema.json"

_decimal = {"type": "string", "pattern": r"^-?\d+(\.\d+)?$"}
_nullable_decimal = {"type": ["string", "null"], "pattern": r"^-?\d+(\.\d+)?$"}

SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": SCHEMA_ID,
    "title": "Published results of a programme of the Independent AI Foundation Model Project",
    "description": (
        "Published evaluation phases with each application's rank, phase score and decision, and the teams' "
        "benchmark attainment against the phase's reference models. Decimals are strings."
    ),
    "type": "object",
    "required": ["programme", "phases", "licence", "generated_from"],
    "additionalProperties": False,
    "properties": {
        "licence": {"type": "string"},
        "generated_from": {"type": "string", "description": "The public page this data is shown on."},
        "programme": {
            "type": "object",
            "required": ["id", "name", "name_en", "year", "max_teams"],
            "additionalProperties": False,
            "properties": {
                "id": {"type": "integer"},
                "name": {"type": "string"},
                "name_en": {"type": "string"},
                "year": {"type": "integer"},
                "max_teams": {"type": "integer"},
                "gpu_cap_per_team": {"type": "integer"},
                "budget_min_krw": {"type": "integer"},
                "budget_max_krw": {"type": "integer"},
                "model_categories": {"type": "array", "items": {"type": "string"}},
            },
        },
        "phases": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "order", "name", "kind", "status", "published_on", "results", "reference_models"],
                "additionalProperties": False,
                "properties": {
                    "id": {"type": "integer"},
                    "order": {"type": "integer"},
                    "name": {"type": "string"},
                    "name_en": {"type": "string"},
                    "kind": {"enum": ["selection", "stage"]},
                    "status": {"enum": ["published", "final"]},
                    "published_on": {"type": "string", "format": "date"},
                    "teams_to_keep": {"type": "integer"},
                    "pass_threshold": _decimal,
                    "objectives": {"type": "array", "items": {"type": "string"}},
                    "results": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["rank", "score", "decision", "team"],
                            "additionalProperties": False,
                            "properties": {
                                "rank": {"type": "integer", "minimum": 1},
                                "score": _decimal,
                                "decision": {"enum": ["selected", "kept", "reserve", "not_selected", "eliminated"]},
                                "reserve_rank": {"type": ["integer", "null"]},
                                "team": {
                                    "type": ["object", "null"],
                                    "description": "Null for an applicant that was not selected (not named).",
                                    "required": ["name", "lead_organisation", "lead_organisation_en"],
                                    "additionalProperties": False,
                                    "properties": {
                                        "name": {"type": "string"},
                                        "lead_organisation": {"type": "string"},
                                        "lead_organisation_en": {"type": "string"},
                                    },
                                },
                                "attainment": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "required": [
                                            "model_category",
                                            "benchmark",
                                            "reference_model",
                                            "reference_score",
                                            "team_score",
                                            "ratio",
                                            "target_ratio",
                                            "met",
                                        ],  # fmt: skip
                                        "additionalProperties": False,
                                        "properties": {
                                            "model_category": {"type": "string"},
                                            "benchmark": {"type": "string"},
                                            "reference_model": {"type": "string"},
                                            "reference_score": _decimal,
                                            "team_score": _nullable_decimal,
                                            "ratio": _decimal,
                                            "target_ratio": _decimal,
                                            "met": {"type": "boolean"},
                                        },
                                    },
                                },
                            },
                        },
                    },
                    "reference_models": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["name", "source_url", "scores"],
                            "additionalProperties": False,
                            "properties": {
                                "name": {"type": "string"},
                                "version": {"type": "string"},
                                "released_on": {"type": "string"},
                                "source_url": {"type": "string", "format": "uri"},
                                "source_title": {"type": "string"},
                                "scores": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "required": ["objective", "score"],
                                        "additionalProperties": False,
                                        "properties": {"objective": {"type": "string"}, "score": _decimal},
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
    },
}

LICENCE = "Korea Open Government License (KOGL) Type 1: free use with attribution"


def _team(r) -> dict | None:
    if not r.named:
        return None
    return {"name": r.team_ko, "lead_organisation": r.lead_ko, "lead_organisation_en": r.lead_en}


def export_json(data, request=None) -> dict:
    from django.urls import reverse

    page = reverse("results:public_programme", args=[data.id])
    return {
        "licence": LICENCE,
        "generated_from": request.build_absolute_uri(page) if request is not None else page,
        "programme": {
            "id": data.id,
            "name": data.name,
            "name_en": data.name_en,
            "year": data.year,
            "max_teams": data.max_teams,
            "gpu_cap_per_team": data.gpu_cap_per_team,
            "budget_min_krw": data.budget_min,
            "budget_max_krw": data.budget_max,
            "model_categories": list(data.model_categories),
        },
        "phases": [
            {
                "id": p.id,
                "order": p.order,
                "name": p.name,
                "name_en": p.name_en,
                "kind": p.kind,
                "status": p.status,
                "published_on": p.published_at,
                "teams_to_keep": p.teams_to_keep,
                "pass_threshold": str(p.pass_threshold),
                "objectives": list(p.objectives),
                "results": [
                    {
                        "rank": r.rank,
                        "score": str(r.score),
                        "decision": r.decision,
                        "reserve_rank": r.reserve_rank,
                        "team": _team(r),
                        "attainment": [
                            {
                                "model_category": a.model_category,
                                "benchmark": a.benchmark,
                                "reference_model": a.reference_model,
                                "reference_score": str(a.reference_score),
                                "team_score": None if a.team_score is None else str(a.team_score),
                                "ratio": str(a.ratio),
                                "target_ratio": str(a.target_ratio),
                                "met": a.met,
                            }
                            for a in r.attainment
                        ],
                    }
                    for r in p.results
                ],
                "reference_models": [
                    {
                        "name": ref.name,
                        "version": ref.version,
                        "released_on": ref.released_on,
                        "source_url": ref.source_url,
                        "source_title": ref.source_title,
                        "scores": [{"objective": label, "score": str(score)} for label, score in ref.scores],
                    }
                    for ref in p.references
                ],
            }
            for p in data.phases
        ],
    }


RESULT_COLUMNS = [
    "programme_id", "programme", "year", "phase_order", "phase", "phase_kind", "phase_status", "published_on",
    "rank", "team", "lead_organisation", "lead_organisation_en", "score", "decision", "reserve_rank",
    "objectives_met", "objectives",
]  # fmt: skip
ATTAINMENT_COLUMNS = [
    "programme_id", "phase_order", "phase", "rank", "team", "model_category", "benchmark", "reference_model",
    "reference_score", "team_score", "ratio", "target_ratio", "met",
]  # fmt: skip


def _cell(value) -> str:
    """A cell a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not _is_number(text) else text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def export_csv_rows(data, *, kind: str):
    if kind == "results":
        yield RESULT_COLUMNS
        for p in data.phases:
            for r in p.results:
                yield [
                    _cell(v)
                    for v in (
                        data.id, data.name, data.year, p.order, p.name, p.kind, p.status, p.published_at, r.rank,
                        r.team_ko if r.named else "", r.lead_ko if r.named else "", r.lead_en if r.named else "",
                        r.score, r.decision, r.reserve_rank if r.reserve_rank is not None else "",
                        r.objectives_met if r.attainment else "", len(r.attainment) if r.attainment else "",
                    )
                ]  # fmt: skip
        return
    yield ATTAINMENT_COLUMNS
    for p in data.phases:
        for r in p.results:
            for a in r.attainment:
                yield [
                    _cell(v)
                    for v in (
                        data.id, p.order, p.name, r.rank, r.team_ko, a.model_category, a.benchmark, a.reference_model,
                        a.reference_score, "" if a.team_score is None else a.team_score, a.ratio, a.target_ratio,
                        "true" if a.met else "false",
                    )
                ]  # fmt: skip
