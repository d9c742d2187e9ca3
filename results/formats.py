"""Reading benchmark results in the formats AI teams already produce, and matching them
to a phase's objectives. Pure functions over bytes and frozen dataclasses: no database
(only the messages are translated).

Two formats are read:

* **lm-evaluation-harness results JSON** (EleutherAI): a JSON object with ``results`` —
  task name → ``{"<metric>,<filter>": value, "<metric>_stderr,<filter>": value, "alias": ...}``
  (for example ``"acc,none": 0.6523``) — and beside it ``config`` (the model and its
  arguments), ``versions`` (task → version), ``n-shot`` (task → shots) and more. Only
  ``results`` is required; the others are shown when present.
* **Hugging Face model card** (``README.md``): the YAML front matter's ``model-index``,
  parsed by ``huggingface_hub``'s own model-card parser, offline (``HF_HUB_OFFLINE``).
  Each result names a task (``task.type``), a dataset (``dataset.type``, ``dataset.name``)
  and metrics (``type``, ``name``, ``value``).

Anything else is refused with :class:`UnreadableFile`, whose message says what was wrong
and what the file should look like.

Matching: each objective is mapped once by the officer to a *task* and a *metric*
(``ObjectiveMapping``). A harness entry matches when its task equals the mapped task and
its metric key equals the mapped metric (``acc,none``); ``acc`` and ``acc,none`` (the
unfiltered metric) are the same. A model-card entry matches when the
mapped task equals the dataset type or name (or the task type) and the mapped metric equals
the metric type or name. Comparisons ignore case and surrounding spaces. The team score
is ``value × scale``, with the mapping's scale for the file's format (100 when the file
gives fractions and the reference score is in percent: the harness writes fractions, model
cards most often percent), rounded half-up to four places.
"""

from __future__ import annotations

import json
import os
import re

# Model cards are parsed offline: huggingface_hub reads this when it is first imported.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

# The one Django import: the refusal messages are shown to teams in Korean or English.
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

HARNESS = "lm_eval_harness"
MODEL_CARD = "model_card"
FORMAT_LABELS = {
    HARNESS: gettext_lazy("lm-evaluation-harness results"),
    MODEL_CARD: gettext_lazy("Hugging Face model card (model-index)"),
}

FOUR_PLACES = Decimal("0.0001")
SCORE_LIMIT = Decimal("1000000")
_NUMBER = re.compile(r"^\s*([-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)")


class UnreadableFile(ValueError):
    """The file is not one of the formats read here, or is broken; ``message`` says why."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Entry:
    """One number found in the file."""

    task: str
    metric: str
    value: Decimal
    stderr: Decimal | None = None
    n_shot: str = ""
    version: str = ""
    # Other names the entry answers to (a model card's dataset name, task type, metric name).
    task_aliases: tuple[str, ...] = ()
    metric_aliases: tuple[str, ...] = ()

    def as_dict(self) -> dict:
        return {
            "task": self.task,
            "metric": self.metric,
            "value": str(self.value),
            "stderr": None if self.stderr is None else str(self.stderr),
            "n_shot": self.n_shot,
            "version": self.version,
        }


@dataclass(frozen=True)
class ParsedFile:
    format: str
    model_name: str
    entries: tuple[Entry, ...]
    skipped: tuple[str, ...] = ()  # values that were not numbers, named

    @property
    def format_label(self) -> str:
        return str(FORMAT_LABELS[self.format])


@dataclass(frozen=True)
class Mapping:
    """An objective as the matcher sees it."""

    objective_id: int
    label: str  # "LLM · KMMLU"
    task: str
    metric: str
    harness_scale: Decimal = Decimal("1")
    card_scale: Decimal = Decimal("1")

    def scale_for(self, file_format: str) -> Decimal:
        return self.harness_scale if file_format == HARNESS else self.card_scale


@dataclass(frozen=True)
class Match:
    objective_id: int
    label: str
    entry: Entry
    score: Decimal


@dataclass(frozen=True)
class Miss:
    objective_id: int
    label: str
    reason: str  # "unmapped", "task_missing", "metric_missing", "ambiguous", "out_of_range"
    detail: str = ""


@dataclass(frozen=True)
class MatchReport:
    matched: tuple[Match, ...]
    missed: tuple[Miss, ...]
    unused: tuple[Entry, ...] = field(default=())


# --------------------------------------------------------------------------- reading


def _decimal(value) -> Decimal | None:
    """A JSON/YAML number (or a numeric string such as ``"63.2 ± 1.1"``) as a finite Decimal."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            return None
    elif isinstance(value, str):
        m = _NUMBER.match(value)
        if not m:
            return None
        number = Decimal(m.group(1))
    else:
        return None
    return number if number.is_finite() else None


def _text(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableFile(
            _(
                "The file is not UTF-8 text (byte %(byte)d cannot be read). Upload the results JSON written by "
                "lm-evaluation-harness or the model card README.md as they were produced."
            )
            % {"byte": exc.start}
        ) from exc


def parse_results_file(filename: str, data: bytes) -> ParsedFile:
    """Read an uploaded file: JSON → lm-evaluation-harness, Markdown with front matter →
    model card. Raises :class:`UnreadableFile` with a clear message otherwise."""
    if not data or not data.strip():
        raise UnreadableFile(_("The file is empty."))
    text = _text(data)
    stripped = text.lstrip()
    name = (filename or "").lower()
    if stripped.startswith(("{", "[")) or name.endswith(".json"):
        return parse_harness(text)
    if stripped.startswith("---") or name.endswith((".md", ".markdown")):
        return parse_model_card(text)
    raise UnreadableFile(
        _(
            "The file is neither an lm-evaluation-harness results JSON (a JSON object with “results”) nor a model "
            "card README.md (Markdown starting with a “---” YAML block that holds “model-index”)."
        )
    )


def _harness_model_name(doc: dict) -> str:
    for key in ("model_name", "model_name_sanitized"):
        if isinstance(doc.get(key), str) and doc[key].strip():
            return doc[key].strip()
    config = doc.get("config") if isinstance(doc.get("config"), dict) else {}
    args = config.get("model_args")
    if isinstance(args, str):
        for part in args.split(","):
            key, _sep, value = part.partition("=")
            if key.strip() in ("pretrained", "model", "path") and value.strip():
                return value.strip()
    if isinstance(args, dict):
        for key in ("pretrained", "model", "path"):
            if isinstance(args.get(key), str):
                return args[key]
    return str(config.get("model") or "") if isinstance(config.get("model"), str) else ""


def parse_harness(text: str) -> ParsedFile:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UnreadableFile(
            _("The file is not valid JSON (line %(line)d, column %(column)d: %(error)s).")
            % {"line": exc.lineno, "column": exc.colno, "error": exc.msg}
        ) from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("results"), dict):
        raise UnreadableFile(
            _(
                "The JSON has no “results” object. An lm-evaluation-harness results file maps each task under "
                '“results” to its metrics, for example {"results": {"kmmlu": {"acc,none": 0.61}}}.'
            )
        )
    versions = doc.get("versions") if isinstance(doc.get("versions"), dict) else {}
    n_shot = doc.get("n-shot") if isinstance(doc.get("n-shot"), dict) else {}
    entries: list[Entry] = []
    skipped: list[str] = []
    for task, metrics in doc["results"].items():
        if not isinstance(metrics, dict):
            raise UnreadableFile(_("The task “%(task)s” under “results” is not an object of metrics.") % {"task": task})
        for key, raw in metrics.items():
            if key == "alias" or not isinstance(key, str):
                continue
            metric, _sep, filt = key.partition(",")
            if metric.endswith("_stderr"):
                continue  # attached to its metric below
            value = _decimal(raw)
            if value is None:
                skipped.append(f"{task} / {key}")
                continue
            stderr_key = f"{metric}_stderr,{filt}" if filt else f"{metric}_stderr"
            entries.append(
                Entry(
                    task=str(task),
                    metric=key,
                    value=value,
                    stderr=_decimal(metrics.get(stderr_key)),
                    n_shot="" if n_shot.get(task) is None else str(n_shot.get(task)),
                    version="" if versions.get(task) is None else str(versions.get(task)),
                )
            )
    if not entries:
        raise UnreadableFile(_("The “results” object holds no numeric metric (for example “acc,none”: 0.61)."))
    return ParsedFile(
        format=HARNESS, model_name=_harness_model_name(doc), entries=tuple(entries), skipped=tuple(skipped)
    )


def parse_model_card(text: str) -> ParsedFile:
    """The model card's ``model-index`` through ``huggingface_hub.ModelCard`` (offline)."""
    import yaml
    from huggingface_hub import ModelCard

    if not text.lstrip().startswith("---"):
        raise UnreadableFile(
            _(
                "The model card has no YAML metadata block: a README.md starts with “---”, the metadata (with "
                "“model-index”), and “---”."
            )
        )
    try:
        card = ModelCard(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = (
            _(" (line %(line)d, column %(column)d)") % {"line": mark.line + 1, "column": mark.column + 1}
            if mark is not None
            else ""
        )
        raise UnreadableFile(_("The model card's YAML metadata cannot be read%(where)s.") % {"where": where}) from exc
    except (ValueError, TypeError, KeyError) as exc:
        raise UnreadableFile(
            _(
                "The model card's “model-index” cannot be read: each result needs task.type, dataset.type, "
                "dataset.name and metrics with type and value."
            )
        ) from exc
    results = getattr(card.data, "eval_results", None) or []
    if not results:
        raise UnreadableFile(_("The model card has no “model-index” results in its metadata."))
    entries: list[Entry] = []
    skipped: list[str] = []
    for r in results:
        value = _decimal(r.metric_value)
        if value is None:
            skipped.append(f"{r.dataset_type} / {r.metric_type}")
            continue
        entries.append(
            Entry(
                task=str(r.dataset_type),
                metric=str(r.metric_type),
                value=value,
                n_shot="" if not r.dataset_args else str(r.dataset_args.get("num_few_shot", "")),
                version=str(r.dataset_revision or ""),
                task_aliases=tuple(str(a) for a in (r.dataset_name, r.task_type, r.dataset_config) if a),
                metric_aliases=tuple(str(a) for a in (r.metric_name,) if a),
            )
        )
    if not entries:
        raise UnreadableFile(_("The model card's “model-index” holds no numeric metric value."))
    return ParsedFile(
        format=MODEL_CARD, model_name=str(card.data.model_name or ""), entries=tuple(entries), skipped=tuple(skipped)
    )


# --------------------------------------------------------------------------- matching


def _norm(value: str) -> str:
    return (value or "").strip().casefold()


def _task_matches(entry: Entry, task: str) -> bool:
    wanted = _norm(task)
    return wanted == _norm(entry.task) or any(wanted == _norm(a) for a in entry.task_aliases)


def _metric_matches(entry: Entry, metric: str) -> bool:
    wanted = _norm(metric)
    names = [_norm(entry.metric), *(_norm(a) for a in entry.metric_aliases)]
    if wanted in names:
        return True
    # "acc" and "acc,none" (the harness's unfiltered metric) are the same metric.
    return _unfiltered(wanted) in {_unfiltered(n) for n in names}


def _unfiltered(metric: str) -> str:
    return metric[: -len(",none")] if metric.endswith(",none") else metric


def team_score(value: Decimal, scale: Decimal) -> Decimal:
    return (value * scale).quantize(FOUR_PLACES, rounding=ROUND_HALF_UP)


def match_objectives(mappings: list[Mapping], parsed: ParsedFile) -> MatchReport:
    """Each mapped objective against the file's entries: exactly one entry must match."""
    matched: list[Match] = []
    missed: list[Miss] = []
    used: set[int] = set()
    for m in mappings:
        if not (m.task.strip() and m.metric.strip()):
            missed.append(Miss(m.objective_id, m.label, "unmapped"))
            continue
        by_task = [(i, e) for i, e in enumerate(parsed.entries) if _task_matches(e, m.task)]
        if not by_task:
            missed.append(Miss(m.objective_id, m.label, "task_missing", m.task))
            continue
        hits = [(i, e) for i, e in by_task if _metric_matches(e, m.metric)]
        if not hits:
            found = ", ".join(sorted({e.metric for _, e in by_task}))
            missed.append(Miss(m.objective_id, m.label, "metric_missing", f"{m.metric} ({found})"))
            continue
        if len({(e.task, e.metric, e.value) for _, e in hits}) > 1:
            found = ", ".join(f"{e.task} {e.metric}={e.value}" for _, e in hits)
            missed.append(Miss(m.objective_id, m.label, "ambiguous", found))
            continue
        index, entry = hits[0]
        score = team_score(entry.value, m.scale_for(parsed.format))
        if score < 0 or score >= SCORE_LIMIT:
            missed.append(Miss(m.objective_id, m.label, "out_of_range", str(score)))
            continue
        used.update(i for i, _ in hits)
        matched.append(Match(m.objective_id, m.label, entry, score))
    unused = tuple(e for i, e in enumerate(parsed.entries) if i not in used)
    return MatchReport(matched=tuple(matched), missed=tuple(missed), unused=unused)
