#!/usr/bin/env python
"""Write docs/states.md from the transition tables of the apps' ``workflow.py``.

    .venv/bin/python scripts/states_doc.py          # rewrite docs/states.md
    .venv/bin/python scripts/states_doc.py --check  # exit 1 if docs/states.md is out of date

One mermaid ``stateDiagram-v2`` per machine, each edge labelled with its permission, then a
table naming the services that take each edge. A test compares the file with :func:`render`.
"""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "states.md"

HEADER = """\
# States

<!-- Written by scripts/states_doc.py from the transition tables; do not edit by hand. -->

Each machine is a table in its app's `workflow.py` (`{from: {to: Edge}}`), and one function
per machine is the only place its state is assigned; any edge not in the table is refused
with a 409. Each edge is labelled with the permission that guards it: a rule registered in
the app's `rules.py` (the page and the API check it before calling the service), or
`SYSTEM` for an edge only the Celery worker or beat takes. `[*]` marks how a row is created
and which states are final.
"""


def machines():
    from evaluations import workflow as evaluations_workflow
    from gpu_allocation import workflow as allocation_workflow

    return [*evaluations_workflow.MACHINES, *allocation_workflow.MACHINES]


def _code(words, separator=", ") -> str:
    return separator.join(f"`{w}`" for w in words)


def _section(machine) -> str:
    module = machine.model.split(".")[0]
    edges = [("[*]", state, e) for state, e in machine.created.items()] + machine.transitions()
    rows = [
        f"| `{before}` | `{after}` | {_code(e.permissions, ' or ')} | {_code(e.via.split(', '))} | {e.note} |"
        for before, after, e in edges
    ]
    parts = [
        f"## {machine.name}",
        "",
        f"`{machine.model}.status`; table `{module}/workflow.py`, changed only by `{machine.mover}`.",
        "",
        "```mermaid",
        machine.mermaid(),
        "```",
        "",
        "| from | to | permission | service | when |",
        "|---|---|---|---|---|",
        *rows,
    ]
    if machine.notes:
        parts += ["", *machine.notes]
    return "\n".join(parts) + "\n"


def render() -> str:
    """The whole page, in English whatever the active language."""
    from django.utils import translation

    with translation.override("en"):
        return "\n".join([HEADER, *(_section(m) for m in machines())])


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.local")
    import django

    django.setup()
    text = render()
    if "--check" in argv:
        if DOC.read_text(encoding="utf-8") != text:
            print(f"{DOC.relative_to(ROOT)} is out of date: run scripts/states_doc.py", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
