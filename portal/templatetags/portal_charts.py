"""Bar charts drawn on the server as inline SVG: ``{% svg_chart config label %}``.

``config`` is the same Chart.js-style configuration a ``<canvas data-chart>`` takes (a JSON
string or a dict): ``type: "bar"``, ``data.labels``, ``data.datasets`` (bars with one colour
or one per bar, or ``type: "line"`` for a threshold line, dashed with ``borderDash``), and
``options.scales`` (``y.min``/``y.max``; ``x.stacked``/``y.stacked`` stack the bar datasets).

A page whose charts are drawn here loads no charting script: the chart is part of the first
paint, costs no main-thread time in the browser and takes no room it did not have (issue 18,
"what the browser loads"). The SVG scales with its box; each bar carries a ``<title>`` (label
and value) and the whole chart a name, as the canvas did.
"""

from __future__ import annotations

import json
import math

from django import template
from django.utils.html import escape
from django.utils.safestring import mark_safe

register = template.Library()

WIDTH, HEIGHT = 480, 280
LEFT, RIGHT, TOP, BOTTOM = 36, 8, 30, 46
FONT = "font-family=\"Pretendard, 'Pretendard Fallback', system-ui, sans-serif\""
DEFAULT_COLOUR = "#0d6efd"


def _number(value) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    exponent = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * exponent:
            return step * exponent
    return 10 * exponent


def _short(label: str, limit: int) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


@register.simple_tag
def svg_chart(config, label: str = ""):
    if isinstance(config, str):
        config = json.loads(config)
    data = config.get("data", {})
    labels = [str(x) for x in data.get("labels", [])]
    datasets = data.get("datasets", [])
    scales = (config.get("options") or {}).get("scales", {})
    stacked = bool(scales.get("x", {}).get("stacked") or scales.get("y", {}).get("stacked"))
    bars = [d for d in datasets if d.get("type", config.get("type", "bar")) == "bar"]
    lines = [d for d in datasets if d.get("type") == "line"]

    count = max(len(labels), 1)
    if stacked:
        peak = max((sum(float(d["data"][i] or 0) for d in bars) for i in range(len(labels))), default=0)
    else:
        peak = max((float(v or 0) for d in bars + lines for v in d.get("data", [])), default=0)
    y_min = float(scales.get("y", {}).get("min", 0))
    y_max = float(scales.get("y", {}).get("max", _nice_max(peak)))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def y_of(value: float) -> float:
        share = (float(value) - y_min) / ((y_max - y_min) or 1)
        return TOP + plot_h * (1 - min(max(share, 0), 1))

    out = [
        f'<svg class="svg-chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(label)}" '
        f'xmlns="http://www.w3.org/2000/svg" {FONT} font-size="11">',
        f"<title>{escape(label)}</title>",
    ]
    # Grid and y axis: five steps.
    for step in range(6):
        value = y_min + (y_max - y_min) * step / 5
        y = y_of(value)
        out.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e9ecef"/>')
        out.append(f'<text x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end" fill="#495057">{_number(value)}</text>')
    slot = plot_w / count
    groups = 1 if stacked else max(len(bars), 1)
    bar_w = min(slot * 0.8 / groups, 48)
    for i, name in enumerate(labels):
        x0 = LEFT + slot * i + (slot - bar_w * groups) / 2
        base = y_min
        for g, dataset in enumerate(bars):
            values = dataset.get("data", [])
            value = float(values[i] or 0) if i < len(values) else 0.0
            colour = dataset.get("backgroundColor", DEFAULT_COLOUR)
            if isinstance(colour, list):
                colour = colour[i] if i < len(colour) else DEFAULT_COLOUR
            x = x0 if stacked else x0 + g * bar_w
            low, high = (base, base + value) if stacked else (y_min, value)
            top, bottom = y_of(high), y_of(low)
            title = f"{name} · {dataset.get('label', '')}: {_number(value)}"
            out.append(
                f'<rect x="{x:.1f}" y="{top:.1f}" width="{bar_w:.1f}" height="{max(bottom - top, 0):.1f}" '
                f'fill="{escape(colour)}"><title>{escape(title)}</title></rect>'
            )
            if stacked:
                base += value
        label_x = LEFT + slot * i + slot / 2
        out.append(
            f'<text x="{label_x:.1f}" y="{HEIGHT - BOTTOM + 14}" text-anchor="middle" fill="#212529">'
            f"<title>{escape(name)}</title>{escape(_short(name, max(int(slot / 7), 3)))}</text>"
        )
    for dataset in lines:
        values = [float(v or 0) for v in dataset.get("data", [])]
        if not values:
            continue
        points = " ".join(
            f"{LEFT + slot * i + slot / 2:.1f},{y_of(v):.1f}" for i, v in enumerate(values[: len(labels)] or values)
        )
        if len(values) == 1 or len(labels) <= 1:
            points = f"{LEFT},{y_of(values[0]):.1f} {WIDTH - RIGHT},{y_of(values[0]):.1f}"
        dash = " ".join(str(n) for n in dataset.get("borderDash", []))
        colour = dataset.get("borderColor", "#dc3545")
        out.append(
            f'<polyline points="{points}" fill="none" stroke="{escape(colour)}" stroke-width="2"'
            + (f' stroke-dasharray="{dash}"' if dash else "")
            + f"><title>{escape(dataset.get('label', ''))}: {_number(values[0])}</title></polyline>"
        )
    # Legend along the top.
    x = LEFT
    for dataset in bars + lines:
        colour = dataset.get("borderColor") if dataset in lines else dataset.get("backgroundColor", DEFAULT_COLOUR)
        if isinstance(colour, list):
            colour = colour[0] if colour else DEFAULT_COLOUR
        name = str(dataset.get("label", ""))
        out.append(f'<rect x="{x}" y="8" width="12" height="10" fill="{escape(colour or DEFAULT_COLOUR)}"/>')
        out.append(f'<text x="{x + 16}" y="17" fill="#212529">{escape(name)}</text>')
        x += 28 + 7 * len(name) + (5 * sum(1 for ch in name if ord(ch) > 0x2E80))
    out.append("</svg>")
    return mark_safe("".join(out))  # noqa: S308 -- every interpolated text is escaped above
