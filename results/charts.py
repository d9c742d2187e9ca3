"""The attainment chart, drawn on the server as SVG (no script, readable without one).

One horizontal bar per objective: the team's score divided by the reference model's score,
on an axis from 0 to at least 120 %, with the target (95 % by default) as a dashed line —
one line when every objective shares the target, else a tick on each bar. Met bars are dark
green, others dark red; both colours reach 4.5:1 against the white background, and the
percentage is written beside each bar, so colour is never the only signal. The SVG carries
``role="img"`` with a title and a description that say the same in words, and the page
shows the numbers in a table beside it.
"""

from __future__ import annotations

from decimal import Decimal

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

MET = "#146c43"
NOT_MET = "#b02a37"
INK = "#212529"
GRID = "#6c757d"

ROW = 34
BAR = 20
LABEL_W = 190
PLOT_W = 400
RIGHT = 100
TOP = 30
BOTTOM = 34


def percent(value: Decimal) -> str:
    return f"{(value * 100).quantize(Decimal('0.1'))} %"


def attainment_svg(attainment, *, chart_id: str, title: str) -> SafeString:
    rows = list(attainment)
    if not rows:
        return mark_safe("")  # noqa: S308 -- nothing to draw
    ratios = [a.ratio for a in rows]
    targets = {a.target_ratio for a in rows}
    axis_max = max(Decimal("1.2"), max(ratios) * Decimal("1.05"))
    axis_max = min(axis_max, Decimal("3"))
    height = TOP + ROW * len(rows) + BOTTOM
    width = LABEL_W + PLOT_W + RIGHT

    def x(value: Decimal) -> float:
        return LABEL_W + float(min(value, axis_max) / axis_max) * PLOT_W

    parts = []
    described = "; ".join(
        _("%(benchmark)s (%(category)s): %(ratio)s of the reference %(model)s, target %(target)s, %(state)s")
        % {
            "benchmark": a.benchmark,
            "category": a.model_category,
            "ratio": percent(a.ratio) if a.team_score is not None else _("not submitted"),
            "model": a.reference_model,
            "target": percent(a.target_ratio),
            "state": _("met") if a.met else _("not met"),
        }
        for a in rows
    )
    parts.append(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="attainment-chart" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-labelledby="{chart_id}-title {chart_id}-desc" '
        f'preserveAspectRatio="xMinYMin meet" style="max-width:{width}px">'
        f'<title id="{chart_id}-title">{escape(title)}</title>'
        f'<desc id="{chart_id}-desc">{escape(described)}</desc>'
    )
    # Axis ticks every 20 %.
    tick = Decimal("0")
    while tick <= axis_max:
        tx = x(tick)
        parts.append(
            f'<line x1="{tx:.1f}" y1="{TOP - 6}" x2="{tx:.1f}" y2="{height - BOTTOM}" stroke="{GRID}" '
            f'stroke-width="0.5" stroke-opacity="0.5"/>'
            f'<text x="{tx:.1f}" y="{height - BOTTOM + 16}" font-size="11" text-anchor="middle" fill="{INK}">'
            f"{int(tick * 100)} %</text>"
        )
        tick += Decimal("0.2")
    for i, a in enumerate(rows):
        y = TOP + i * ROW
        colour = MET if a.met else NOT_MET
        label = f"{a.benchmark} · {a.model_category}"
        value = f"{percent(a.ratio)} {'✔' if a.met else '✘'}" if a.team_score is not None else _("not submitted")
        parts.append(
            f'<text x="{LABEL_W - 8}" y="{y + BAR / 2 + 4:.1f}" font-size="12" text-anchor="end" fill="{INK}">'
            f"{escape(label)}</text>"
            f'<rect x="{LABEL_W}" y="{y}" width="{max(x(a.ratio) - LABEL_W, 0):.1f}" height="{BAR}" fill="{colour}"/>'
            # The figure in a column of its own right of the axis: never under the target line.
            f'<text x="{LABEL_W + PLOT_W + 10}" y="{y + BAR / 2 + 4:.1f}" font-size="12" fill="{INK}">'
            f"{escape(value)}</text>"
        )
        if len(targets) > 1:
            tx = x(a.target_ratio)
            parts.append(
                f'<line x1="{tx:.1f}" y1="{y - 3}" x2="{tx:.1f}" y2="{y + BAR + 3}" stroke="{INK}" '
                f'stroke-width="2" stroke-dasharray="4 3"/>'
            )
    if len(targets) == 1:
        (target,) = targets
        tx = x(target)
        target_label = _("target %(target)s") % {"target": percent(target)}
        parts.append(
            f'<line x1="{tx:.1f}" y1="{TOP - 8}" x2="{tx:.1f}" y2="{height - BOTTOM + 2}" stroke="{INK}" '
            f'stroke-width="2" stroke-dasharray="5 4"/>'
            f'<text x="{tx:.1f}" y="{TOP - 12}" font-size="11" text-anchor="middle" fill="{INK}">'
            f"{escape(target_label)}</text>"
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 -- every text above is escaped
