"""The shape of a state machine: a table of allowed edges, each naming who may take it.

An app's ``workflow.py`` declares its machines with :class:`Machine` and has one function per
machine that changes the state; that function calls :meth:`Machine.edge` first, so an edge not
in the table is refused with a 409. ``docs/states.md`` draws every machine from these tables
(``scripts/states_doc.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from django.db.models import TextChoices
from django.utils.functional import Promise

from portal.errors import DomainError
from portal.korean import particles

#: Taken only by the worker or the beat, never on a person's request.
SYSTEM = "SYSTEM"


@dataclass(frozen=True)
class Edge:
    """An allowed move: the permission (a rule name, or :data:`SYSTEM`) and the services taking it.

    ``permission`` is a tuple when the same move is taken in more than one way (a reviewer's
    declaration and an officer's automatic assignment both mark a conflict).
    """

    permission: str | tuple[str, ...]
    via: str
    note: str = ""

    @property
    def permissions(self) -> tuple[str, ...]:
        return (self.permission,) if isinstance(self.permission, str) else tuple(self.permission)


@dataclass(frozen=True)
class Machine:
    """The states of one model field and the edges between them.

    ``created`` lists the states a row may be created in, with the edge that creates it;
    ``terminal`` the states nothing leaves. ``refusal`` is the 409 message, formatted with the
    ``from`` and ``to`` labels.
    """

    name: str
    model: str
    states: type[TextChoices]
    created: Mapping[str, Edge]
    edges: Mapping[str, Mapping[str, Edge]]
    terminal: tuple[str, ...]
    refusal: str | Promise
    code: str | None = None
    mover: str = ""
    notes: tuple[str, ...] = ()

    def edge(self, before: str, after: str) -> Edge:
        """The edge from ``before`` to ``after``; a :class:`DomainError` (409) if there is none."""
        found = self.edges.get(before, {}).get(after)
        if found is None:
            message = particles(self.refusal % {"from": self.states(before).label, "to": self.states(after).label})
            raise DomainError(message, code=self.code)
        return found

    def transitions(self) -> list[tuple[str, str, Edge]]:
        """Every edge as ``(from, to, edge)``, in table order."""
        return [(before, after, e) for before, targets in self.edges.items() for after, e in targets.items()]

    def mermaid(self) -> str:
        """A ``stateDiagram-v2`` block: every edge labelled with its permissions."""
        lines = ["stateDiagram-v2"]
        lines += [f"    {state.value} : {state.label}" for state in self.states]
        lines += [f"    [*] --> {state} : {_label(e)}" for state, e in self.created.items()]
        lines += [f"    {before} --> {after} : {_label(e)}" for before, after, e in self.transitions()]
        lines += [f"    {state} --> [*]" for state in self.terminal]
        return "\n".join(lines)


def _label(edge: Edge) -> str:
    return " or ".join(edge.permissions)
