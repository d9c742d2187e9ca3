"""Small display helpers for evaluation pages: labels for decisions, tie-breaks and reasons."""

from django import template
from django.utils.translation import gettext as _

from evaluations.enums import Decision

register = template.Library()


@register.filter
def get_item(mapping, key):
    return (mapping or {}).get(key)


@register.simple_tag
def decision_label(value: str) -> str:
    if value == "undecided":
        return _("Undecided (tie)")
    try:
        return str(Decision(value).label)
    except ValueError:
        return value


@register.simple_tag
def tie_label(value: str) -> str:
    return {
        "criteria": _("tie broken by the tie-break criteria"),
        "officer_decision": _("tie broken by an officer's recorded decision"),
        "undecided": _("tie waiting for an officer's decision"),
    }.get(value, value)


@register.simple_tag
def reason_label(reason: dict, names: dict | None = None) -> str:
    """A failure reason in words; ``names`` maps criterion keys to their names."""
    code, params = reason.get("code"), dict(reason.get("params", {}))
    if names and params.get("criterion") in names:
        params["criterion"] = names[params["criterion"]]
    texts = {
        "gate_failed": _("failed the gate %(criterion)s: %(reason)s"),
        "gate_undecided": _("gate %(criterion)s not decided yet"),
        "no_reviews": _("no submitted reviews yet"),
        "points_missing": _("points missing for %(criterion)s"),
        "below_threshold": _("score %(score)s below the threshold %(threshold)s"),
        "below_criterion_threshold": _("%(criterion)s %(figure)s below its threshold %(threshold)s"),
    }
    text = texts.get(code)
    if text is None:
        return code or ""
    try:
        return text % params
    except (KeyError, TypeError):
        return text


@register.simple_tag
def reviewer_spread(row, criteria):
    """``{% reviewer_spread r criteria as d %}``: the row's reviewer disagreement (no query)."""
    from evaluations.disagreement import row_disagreement

    return row_disagreement(row, criteria)


@register.simple_tag
def spread_threshold(criteria):
    """The spread above which a row is flagged, in points (``None`` without expert criteria)."""
    from evaluations.disagreement import disagreement_threshold

    return disagreement_threshold(criteria)


def marked_totals(totals, dropped) -> list[tuple[str, bool]]:
    """Reviewer totals (ascending) each with whether the aggregation dropped it: one sheet per
    dropped total is marked, as the trimmed mean drops exactly one lowest and one highest."""
    left = list(dropped or ())
    marked = []
    for total in totals or ():
        is_dropped = total in left
        if is_dropped:
            left.remove(total)
        marked.append((total, is_dropped))
    return marked


register.filter("marked_totals", lambda row: marked_totals(row.reviewer_totals, row.dropped_totals))
