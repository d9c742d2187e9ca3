"""Writes of the results app: objective mappings, reference models, results-file imports.

Everything a phase compares against is frozen with the phase: mappings and reference
models may change until the scoring window closes (or the phase is finalised), then are
refused (409). Imports go through ``evaluations.services.benchmark_result_submit``, so an
imported result obeys exactly the rules of a typed-in one (frozen at the close, only teams
evaluated in the phase). Malformed input raises :class:`InvalidInput` (400) and changes
nothing; a file that is too large :class:`PayloadTooLarge` (413).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from consortia.models import Application
from evaluations import services as evaluation_services
from evaluations.enums import PHASE_FROZEN_STATES, PhaseKind, PhaseStatus
from evaluations.models import Objective, Phase
from evaluations.selectors import phase_applications
from portal.audit import audit_record
from portal.errors import DomainError, InvalidInput, PayloadTooLarge
from portal.formatting import kst
from portal.models import User
from results import formats
from results.models import BenchmarkImport, ImportedResult, ObjectiveMapping, ReferenceModel, ReferenceScore

MB = 1024 * 1024
SCALE_LIMIT = Decimal("10000")


def phase_is_closed(phase: Phase) -> bool:
    """Inputs of the phase are frozen: finalised (or later), or past the scoring window."""
    return phase.status in PHASE_FROZEN_STATES or timezone.now() > phase.scoring_closes_at


def _refuse_if_closed(phase: Phase, what: str) -> None:
    if phase_is_closed(phase):
        raise DomainError(
            _("%(what)s are frozen with the phase (its scoring closed at %(time)s).")
            % {"what": what, "time": kst(phase.scoring_closes_at, seconds=False)},
            code="frozen",
        )


def _locked_phase(phase: Phase) -> Phase:
    return Phase.objects.select_for_update().get(pk=phase.pk)


def _objective_label(objective: Objective) -> str:
    return f"{objective.model_category} · {objective.benchmark}"


# --------------------------------------------------------------------------- mapping


def _decimal(value, *, label: str) -> Decimal:
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, AttributeError) as exc:
        raise InvalidInput(_("%(field)s must be a number.") % {"field": label}) from exc
    if not number.is_finite():
        raise InvalidInput(_("%(field)s must be a number.") % {"field": label})
    return number


@transaction.atomic
def objective_mapping_set(*, phase: Phase, by: User, rows: list[dict]) -> list[ObjectiveMapping]:
    """Set, for objectives of the phase, the task and metric of a results file that answer
    them (``rows``: ``{"objective": id, "task": str, "metric": str, "harness_scale": number,
    "card_scale": number}``; a scale left out is 1).
    Objectives not named keep their mapping. Refused once the phase has closed."""
    phase = _locked_phase(phase)
    _refuse_if_closed(phase, _("Objective mappings"))
    objectives = {o.id: o for o in phase.objectives.all()}
    cleaned, errors = [], []
    seen = set()
    for row in rows:
        try:
            objective = objectives.get(int(row.get("objective")))
        except (TypeError, ValueError):
            objective = None
        if objective is None:
            errors.append(_("“%(value)s” is not an objective of this phase") % {"value": row.get("objective")})
            continue
        if objective.id in seen:
            errors.append(_("%(objective)s is named twice") % {"objective": _objective_label(objective)})
            continue
        seen.add(objective.id)
        task, metric = str(row.get("task") or "").strip(), str(row.get("metric") or "").strip()
        if bool(task) != bool(metric):
            errors.append(
                _("%(objective)s needs both a task and a metric (or neither)")
                % {"objective": _objective_label(objective)}
            )
            continue
        if len(task) > 200 or len(metric) > 100:
            errors.append(
                _("%(objective)s: the task or metric is too long") % {"objective": _objective_label(objective)}
            )
            continue
        scales = []
        for key in ("harness_scale", "card_scale"):
            raw = row.get(key)
            scale = _decimal("1" if raw in (None, "") else raw, label=_("Scale"))
            if not 0 < scale <= SCALE_LIMIT or scale != scale.quantize(Decimal("0.0001")):
                errors.append(
                    _("%(objective)s: the scale is a positive number up to 10000 with at most four decimals")
                    % {"objective": _objective_label(objective)}
                )
                break
            scales.append(scale)
        else:
            cleaned.append((objective, task, metric, *scales))
    if errors:
        raise InvalidInput(
            _("Nothing was changed: %(errors)s.") % {"errors": "; ".join(errors)}, details={"errors": errors}
        )
    before = {
        m.objective_id: [m.task, m.metric, str(m.harness_scale), str(m.card_scale)]
        for m in ObjectiveMapping.objects.filter(objective__phase=phase)
    }
    saved = []
    for objective, task, metric, harness_scale, card_scale in cleaned:
        mapping, _created = ObjectiveMapping.objects.update_or_create(
            objective=objective,
            defaults={
                "task": task,
                "metric": metric,
                "harness_scale": harness_scale,
                "card_scale": card_scale,
                "updated_by": by,
            },
        )
        saved.append(mapping)
    audit_record(
        action="objective_mapping.set",
        obj=phase,
        actor=by,
        before={"mappings": before},
        after={"mappings": {o.id: [t, m, str(hs), str(cs)] for o, t, m, hs, cs in cleaned}},
    )
    return saved


# --------------------------------------------------------------------------- reference models


def _clean_reference(phase: Phase, data: dict, scores: dict) -> tuple[dict, dict[int, Decimal]]:
    errors: dict[str, list[str]] = {}
    name = str(data.get("name") or "").strip()
    version = str(data.get("version") or "").strip()
    released_on = data.get("released_on") or None
    source_url = str(data.get("source_url") or "").strip()
    source_title = str(data.get("source_title") or "").strip()
    if not name or len(name) > 100:
        errors.setdefault("name", []).append(_("Give the model's name (at most 100 characters)."))
    if len(version) > 100:
        errors.setdefault("version", []).append(_("The version has at most 100 characters."))
    if isinstance(released_on, str):
        try:
            released_on = date.fromisoformat(released_on)
        except ValueError:
            errors.setdefault("released_on", []).append(_("Give the release date as YYYY-MM-DD."))
            released_on = None
    if not version and released_on is None and "released_on" not in errors:
        errors.setdefault("version", []).append(_("Give the model's version or its release date."))
    try:
        URLValidator(schemes=["http", "https"])(source_url)
    except ValidationError:
        errors.setdefault("source_url", []).append(
            _("Give the source as a web address (a paper or a leaderboard, http or https).")
        )
    if len(source_title) > 200:
        errors.setdefault("source_title", []).append(_("The source title has at most 200 characters."))
    objectives = {o.id: o for o in phase.objectives.all()}
    clean_scores: dict[int, Decimal] = {}
    for key, value in (scores or {}).items():
        if value in (None, ""):
            continue
        try:
            objective = objectives.get(int(key))
        except (TypeError, ValueError):
            objective = None
        if objective is None:
            errors.setdefault("scores", []).append(_("“%(value)s” is not an objective of this phase.") % {"value": key})
            continue
        try:
            score = Decimal(str(value).strip())
        except InvalidOperation:
            score = None
        if score is None or not score.is_finite() or not 0 <= score < Decimal("1000000"):
            errors.setdefault("scores", []).append(
                _("%(objective)s: the score is a number of at least 0.") % {"objective": _objective_label(objective)}
            )
            continue
        score = score.quantize(Decimal("0.0001"))
        # The objective's own reference (the one ratios are computed against) is one number.
        if objective.reference_model.strip().casefold() == name.casefold() and score != objective.reference_score:
            errors.setdefault("scores", []).append(
                _(
                    "%(objective)s compares against %(model)s at %(reference)s; this model's score there must be "
                    "the same number."
                )
                % {
                    "objective": _objective_label(objective),
                    "model": objective.reference_model,
                    "reference": objective.reference_score,
                }
            )
            continue
        clean_scores[objective.id] = score
    if not clean_scores and "scores" not in errors:
        errors.setdefault("scores", []).append(_("Give the model's score on at least one objective."))
    if errors:
        flat = [m for messages in errors.values() for m in messages]
        raise InvalidInput(" ".join(flat), details={"errors": errors})
    return (
        {
            "name": name,
            "version": version,
            "released_on": released_on,
            "source_url": source_url,
            "source_title": source_title,
        },
        clean_scores,
    )


def _reference_snapshot(reference: ReferenceModel) -> dict:
    return {
        "name": reference.name,
        "version": reference.version,
        "released_on": reference.released_on.isoformat() if reference.released_on else None,
        "source_url": reference.source_url,
        "scores": {s.objective_id: str(s.score) for s in reference.scores.all()},
    }


@transaction.atomic
def reference_model_save(
    *, phase: Phase, by: User, data: dict, scores: dict, reference: ReferenceModel | None = None
) -> ReferenceModel:
    """Create or change a reference model of the phase with its score per objective
    (``scores``: objective id → score; the objectives not given have no score)."""
    phase = _locked_phase(phase)
    if phase.kind != PhaseKind.STAGE:
        raise InvalidInput(_("Reference models belong to stage evaluations."))
    _refuse_if_closed(phase, _("Reference models"))
    fields, clean_scores = _clean_reference(phase, data, scores)
    before = None
    if reference is None:
        reference = ReferenceModel(phase=phase, created_by=by)
    else:
        reference = ReferenceModel.objects.select_for_update().get(pk=reference.pk, phase=phase)
        before = _reference_snapshot(reference)
    for name, value in fields.items():
        setattr(reference, name, value)
    try:
        with transaction.atomic():
            reference.save()
    except IntegrityError as exc:
        message = _("This phase already has a reference model with this name and version.")
        raise InvalidInput(message, details={"errors": {"name": [message]}}) from exc
    reference.scores.exclude(objective_id__in=list(clean_scores)).delete()
    for objective_id, score in clean_scores.items():
        ReferenceScore.objects.update_or_create(
            reference_model=reference, objective_id=objective_id, defaults={"score": score}
        )
    audit_record(
        action="reference_model.save",
        obj=reference,
        actor=by,
        object_repr=f"{reference} @ {phase}",
        before=before,
        after=_reference_snapshot(reference),
    )
    return reference


@transaction.atomic
def reference_model_delete(*, reference: ReferenceModel, by: User) -> None:
    phase = _locked_phase(reference.phase)
    _refuse_if_closed(phase, _("Reference models"))
    before = _reference_snapshot(reference)
    audit_record(action="reference_model.delete", obj=reference, actor=by, object_repr=str(reference), before=before)
    reference.delete()


# --------------------------------------------------------------------------- imports


@dataclass
class ImportOutcome:
    parsed: formats.ParsedFile
    report: formats.MatchReport
    sha256: str
    size: int
    filename: str
    record: BenchmarkImport | None  # None for a check that stores nothing

    def as_dict(self) -> dict:
        return {
            "id": self.record.id if self.record else None,
            "stored": self.record is not None,
            "format": self.parsed.format,
            "format_label": self.parsed.format_label,
            "file_name": self.filename,
            "size": self.size,
            "sha256": self.sha256,
            "model_name": self.parsed.model_name,
            "found": [e.as_dict() for e in self.parsed.entries],
            "skipped": list(self.parsed.skipped),
            "matched": [match_dict(m) for m in self.report.matched],
            "missed": [miss_dict(m) for m in self.report.missed],
        }


def match_dict(m: formats.Match) -> dict:
    return {
        "objective_id": m.objective_id,
        "objective": m.label,
        "task": m.entry.task,
        "metric": m.entry.metric,
        "value": str(m.entry.value),
        "score": str(m.score),
    }


def miss_reason(code: str, detail: str) -> str:
    messages = {
        "unmapped": _("The officer has not mapped this objective to a task and metric yet."),
        "task_missing": _("The file has no results for the task %(detail)s."),
        "metric_missing": _("The task is in the file, but not the metric %(detail)s."),
        "ambiguous": _("More than one result in the file fits: %(detail)s."),
        "out_of_range": _("The resulting score %(detail)s is out of range."),
    }
    text = messages.get(code, code)
    return text % {"detail": detail} if "%(detail)s" in text else text


def miss_dict(m: formats.Miss) -> dict:
    return {
        "objective_id": m.objective_id,
        "objective": m.label,
        "reason": m.reason,
        "message": miss_reason(m.reason, m.detail),
    }


def import_limit_bytes() -> int:
    return getattr(settings, "BENCHMARK_IMPORT_MAX_MB", 5) * MB


def refuse_if_too_large(size: int) -> None:
    limit = import_limit_bytes()
    if size > limit:
        raise PayloadTooLarge(
            _("The results file is larger than the limit of %(mb)s MB. Nothing was stored.") % {"mb": f"{limit / MB:g}"}
        )


def _mappings(phase: Phase) -> list[formats.Mapping]:
    objectives = list(phase.objectives.select_related("mapping").order_by("id"))
    rows = []
    for o in objectives:
        mapping = getattr(o, "mapping", None)
        rows.append(
            formats.Mapping(
                objective_id=o.id,
                label=_objective_label(o),
                task=mapping.task if mapping else "",
                metric=mapping.metric if mapping else "",
                harness_scale=mapping.harness_scale if mapping else Decimal("1"),
                card_scale=mapping.card_scale if mapping else Decimal("1"),
            )
        )
    return rows


def _check_can_import(phase: Phase, application: Application) -> None:
    if phase.kind != PhaseKind.STAGE:
        raise InvalidInput(_("Benchmark results belong to stage evaluations."))
    if phase.status in PHASE_FROZEN_STATES or timezone.now() > phase.scoring_closes_at:
        raise DomainError(
            _("Benchmark results are frozen at the close of the phase (%(time)s).")
            % {"time": kst(phase.scoring_closes_at, seconds=False)},
            code="frozen",
        )
    if phase.status != PhaseStatus.SCORING:
        raise DomainError(_("The phase has not opened yet."))
    if not phase_applications(phase=phase).filter(pk=application.pk).exists():
        raise InvalidInput(_("This team is not evaluated in this phase."))


def benchmark_import(
    *, phase: Phase, application: Application, by: User, filename: str, data: bytes, dry_run: bool = False
) -> ImportOutcome:
    """Read a results file, match it to the phase's objectives and — unless ``dry_run`` —
    store the file (with its SHA-256) and write each matched result.

    Refused, with nothing stored: a closed phase (409), a team not in the phase, a file too
    large (413), a file that cannot be read, or one in which no result matches an objective
    (400, naming what was found and what was expected).
    """
    phase = Phase.objects.get(pk=phase.pk)
    _check_can_import(phase, application)
    refuse_if_too_large(len(data))
    filename = (filename or "results").replace("/", "_").replace("\\", "_")[-120:] or "results"
    try:
        parsed = formats.parse_results_file(filename, data)
    except formats.UnreadableFile as exc:
        raise InvalidInput(
            _("The file “%(name)s” cannot be read: %(reason)s Nothing was stored.")
            % {"name": filename, "reason": exc.message},
            code="unreadable",
        ) from exc
    mappings = _mappings(phase)
    report = formats.match_objectives(mappings, parsed)
    sha256 = hashlib.sha256(data).hexdigest()
    outcome = ImportOutcome(parsed=parsed, report=report, sha256=sha256, size=len(data), filename=filename, record=None)
    if not report.matched:
        found = ", ".join(sorted({f"{e.task} ({e.metric})" for e in parsed.entries})[:20])
        expected = ", ".join(f"{m.label} ← {m.task} / {m.metric}" for m in mappings if m.task) or _(
            "no objective is mapped yet"
        )
        raise InvalidInput(
            _(
                "None of the results in “%(name)s” matches an objective of this phase, so nothing was stored. "
                "Found: %(found)s. Expected: %(expected)s."
            )
            % {"name": filename, "found": found, "expected": expected},
            code="no_match",
            details=outcome.as_dict(),
        )
    if dry_run:
        return outcome
    stored_name = None
    try:
        with transaction.atomic():
            phase = _locked_phase(phase)
            _check_can_import(phase, application)
            record = BenchmarkImport(
                phase=phase,
                application=application,
                format=parsed.format,
                original_name=filename,
                size=len(data),
                sha256=sha256,
                model_name=parsed.model_name[:200],
                found=[e.as_dict() for e in parsed.entries],
                matched=[match_dict(m) for m in report.matched],
                missed=[miss_dict(m) for m in report.missed],
                uploaded_by=by,
            )
            record.file.save(filename, ContentFile(data), save=False)
            stored_name = record.file.name
            record.save()
            objectives = {o.id: o for o in phase.objectives.all()}
            for m in report.matched:
                evidence = _("%(format)s “%(name)s” (SHA-256 %(sha)s): %(task)s / %(metric)s = %(value)s") % {
                    "format": parsed.format_label,
                    "name": filename,
                    "sha": sha256,
                    "task": m.entry.task,
                    "metric": m.entry.metric,
                    "value": m.entry.value,
                }
                result = evaluation_services.benchmark_result_submit(
                    objective=objectives[m.objective_id],
                    application=application,
                    by=by,
                    score=m.score,
                    evidence=evidence,
                )
                ImportedResult.objects.update_or_create(
                    result=result,
                    defaults={
                        "source": record,
                        "task": m.entry.task[:200],
                        "metric": m.entry.metric[:100],
                        "value": m.entry.value,
                        "score": result.score,
                    },
                )
            audit_record(
                action="benchmark_import.store",
                obj=record,
                actor=by,
                object_repr=f"{filename} / {application}",
                after={
                    "phase": phase.id,
                    "application": application.id,
                    "sha256": sha256,
                    "format": parsed.format,
                    "matched": [[m.objective_id, str(m.score)] for m in report.matched],
                },
            )
    except Exception:
        if stored_name:
            BenchmarkImport.file.field.storage.delete(stored_name)
        raise
    outcome.record = record
    return outcome
