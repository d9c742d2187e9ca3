"""The transition tables of phases, assignments, allocation runs and notice exports (no database).

Every edge names a registered rule (or SYSTEM), every state is reachable or final, only the
``workflow.py`` modules assign those states, and docs/states.md is drawn from the tables.
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest
import rules
from django.apps import apps

from evaluations import workflow as evaluations_workflow
from evaluations.enums import AssignmentStatus, PhaseStatus
from gpu_allocation import workflow as allocation_workflow
from gpu_allocation.enums import ExportStatus, RunStatus
from portal.errors import DomainError
from portal.workflow import SYSTEM

ROOT = Path(__file__).resolve().parents[2]
MACHINES = [*evaluations_workflow.MACHINES, *allocation_workflow.MACHINES]
ids = [m.name for m in MACHINES]

# The enums whose states only the workflow modules assign.
MACHINE_ENUMS = {"PhaseStatus", "AssignmentStatus", "RunStatus", "ExportStatus"}
# Files allowed to write such a state directly, and why.
EXEMPT = {
    # A benchmark command re-opens a seeded phase on a benchmark database (not an edge anyone takes).
    "gpu_allocation/management/commands/bench_live_ranking.py",
}


def _edges(machine):
    return [(None, state, e) for state, e in machine.created.items()] + machine.transitions()


@pytest.mark.parametrize("machine", MACHINES, ids=ids)
def test_every_edge_names_a_registered_rule_or_system(machine):
    unknown = [
        (before, after, permission)
        for before, after, e in _edges(machine)
        for permission in e.permissions
        if permission != SYSTEM and not rules.perm_exists(permission)
    ]
    assert unknown == []
    assert not rules.perm_exists(SYSTEM)
    assert all(e.permissions and e.via for _before, _after, e in _edges(machine))


@pytest.mark.parametrize("machine", MACHINES, ids=ids)
def test_every_state_is_reachable_and_only_final_states_are_dead_ends(machine):
    states = set(machine.states.values)
    named = set(machine.created) | set(machine.edges) | {after for _b, after, _e in machine.transitions()}
    assert named | set(machine.terminal) <= states
    reached, todo = set(), list(machine.created)
    while todo:
        state = todo.pop()
        if state not in reached:
            reached.add(state)
            todo += list(machine.edges.get(state, {}))
    assert reached == states
    dead_ends = {s for s in states if not machine.edges.get(s)}
    assert dead_ends == set(machine.terminal)


@pytest.mark.parametrize(
    ("machine", "before", "after"),
    [
        (evaluations_workflow.PHASE, PhaseStatus.FINAL, PhaseStatus.SCORING),
        (evaluations_workflow.PHASE, PhaseStatus.SETUP, PhaseStatus.PUBLISHED),
        (evaluations_workflow.ASSIGNMENT, AssignmentStatus.REPLACED, AssignmentStatus.ACTIVE),
        (evaluations_workflow.ASSIGNMENT, AssignmentStatus.SUBMITTED, AssignmentStatus.REPLACED),
        (allocation_workflow.RUN, RunStatus.SUCCEEDED, RunStatus.RUNNING),
        (allocation_workflow.RUN, RunStatus.FAILED, RunStatus.SUCCEEDED),
        (allocation_workflow.EXPORT, ExportStatus.SUCCEEDED, ExportStatus.FAILED),
        (allocation_workflow.EXPORT, ExportStatus.QUEUED, ExportStatus.SUCCEEDED),
    ],
)
def test_an_edge_not_in_the_table_is_refused_with_a_409(machine, before, after):
    with pytest.raises(DomainError) as error:
        machine.edge(before, after)
    assert error.value.status_code == 409
    assert f"“{machine.states(before).label}”" in error.value.message
    assert f"“{machine.states(after).label}”" in error.value.message


def test_the_phase_refusal_reads_as_before():
    with pytest.raises(DomainError) as error:
        evaluations_workflow.PHASE.edge(PhaseStatus.FINAL, PhaseStatus.SETUP)
    assert (error.value.code, error.value.message) == (
        "conflict",
        "평가 단계를 “최종 확정”에서 “준비 중”으로 바꿀 수 없습니다.",
    )


def _app_sources():
    for config in apps.get_app_configs():
        path = Path(config.path)
        if path.is_relative_to(ROOT) and ".venv" not in path.parts:
            yield from (p for p in sorted(path.rglob("*.py")) if "migrations" not in p.parts)


def _other_enum(value: ast.AST) -> bool:
    """The value is a state of some other machine (an appeal's, an outbox row's)."""
    names = {n.id for n in ast.walk(value) if isinstance(n, ast.Name)}
    return any(n.endswith("Status") and n not in MACHINE_ENUMS for n in names)


def _status_writes(tree: ast.AST):
    """``x.status = …`` (also in a tuple), ``setattr(x, "status", …)`` and ``….update(status=…)``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for t in ast.walk(target):
                    if isinstance(t, ast.Attribute) and t.attr == "status" and isinstance(t.ctx, ast.Store):
                        if node.value is None or not _other_enum(node.value):
                            yield node.lineno
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute | ast.Name):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id
            if name in ("update", "bulk_update", "update_or_create", "get_or_create"):
                for keyword in node.keywords:
                    if keyword.arg == "status" and not _other_enum(keyword.value):
                        yield node.lineno
                if name == "bulk_update" and any(
                    isinstance(c, ast.Constant) and c.value == "status" for a in node.args for c in ast.walk(a)
                ):
                    yield node.lineno
            elif name == "setattr" and len(node.args) > 1:
                second = node.args[1]
                if isinstance(second, ast.Constant) and second.value == "status":
                    yield node.lineno


def test_only_the_workflow_modules_assign_those_states():
    sources = list(_app_sources())
    assert {"evaluations", "gpu_allocation"} <= {p.relative_to(ROOT).parts[0] for p in sources}
    found = []
    for path in sources:
        relative = path.relative_to(ROOT).as_posix()
        if path.name == "workflow.py" or relative in EXEMPT:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=relative)
        found += [f"{relative}:{line}" for line in _status_writes(tree)]
    assert found == []


def test_the_scan_sees_a_status_assignment():
    tree = ast.parse(
        "phase.status = to\n"
        "a.status, a.submitted_at = AssignmentStatus.ACTIVE, None\n"
        "Run.objects.filter(pk=1).update(status=RunStatus.QUEUED)\n"
        "appeal.status = AppealStatus.UPHELD\n"
    )
    assert sorted(_status_writes(tree)) == [1, 2, 3]


def test_the_states_page_is_drawn_from_the_tables():
    spec = importlib.util.spec_from_file_location("states_doc", ROOT / "scripts" / "states_doc.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert (ROOT / "docs" / "states.md").read_text(encoding="utf-8") == module.render(), (
        "docs/states.md is out of date: run scripts/states_doc.py"
    )
