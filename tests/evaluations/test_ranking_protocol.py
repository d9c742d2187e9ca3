"""The live, cached and frozen rankings each offer what ``RankingSource`` writes down, with
signatures that accept every call the protocol allows (read from the classes: no database)."""

import inspect

import pytest

from evaluations.ranking import CachedLiveRanking, FrozenRanking, LiveRanking, LiveRankingSource, RankingSource

POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
BY_NAME = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


def declarations(protocol) -> dict[str, object]:
    """The methods written in the protocol's body and those it extends (not ``typing``'s own)."""
    found = {}
    for klass in reversed(protocol.__mro__):
        for name, value in vars(klass).items():
            if inspect.isfunction(value) and value.__qualname__.startswith(f"{klass.__qualname__}."):
                found[name] = value
    return found


def attributes(protocol) -> set[str]:
    """The data attributes the protocol (and those it extends) annotate."""
    return {name for klass in protocol.__mro__ if klass is not object for name in inspect.get_annotations(klass)}


def parameters(function) -> list[inspect.Parameter]:
    return list(inspect.signature(function).parameters.values())[1:]  # without self


def accepts(implementation, declared) -> bool:
    """Every call the declared signature allows is a call the implementation accepts."""
    try:
        offered = parameters(implementation)
    except ValueError:  # a C slot of a built-in base (``list.__getitem__``): its arity is the data model's
        return all(p.kind == inspect.Parameter.POSITIONAL_ONLY for p in parameters(declared))
    by_name = {p.name: p for p in offered}
    positional = [p for p in offered if p.kind in POSITIONAL]
    wanted_positional = [p for p in parameters(declared) if p.kind in POSITIONAL]
    if len(positional) < len(wanted_positional):
        return False
    for index, wanted in enumerate(wanted_positional):
        if wanted.kind == inspect.Parameter.POSITIONAL_OR_KEYWORD and positional[index].name != wanted.name:
            return False
    for wanted in parameters(declared):
        if wanted.kind == inspect.Parameter.KEYWORD_ONLY and (
            wanted.name not in by_name or by_name[wanted.name].kind not in BY_NAME
        ):
            return False
    covered = {p.name for p in parameters(declared)}  # anything more must be optional
    extra = [p for p in offered[len(wanted_positional) :] if p.name not in covered]
    return all(p.default is not inspect.Parameter.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in extra)


@pytest.mark.parametrize(
    ("protocol", "ranking"),
    [
        (RankingSource, LiveRanking),
        (RankingSource, CachedLiveRanking),
        (RankingSource, FrozenRanking),
        (LiveRankingSource, LiveRanking),
        (LiveRankingSource, CachedLiveRanking),
    ],
)
def test_each_ranking_implements_the_protocol(protocol, ranking):
    methods = declarations(protocol)
    assert {"__len__", "__getitem__", "__iter__", "scored_top", "last_active_id", "score_bands"} <= set(methods)
    assert attributes(protocol) == {"criteria", "version"}
    for name, declared in sorted(methods.items()):
        implementation = getattr(ranking, name, None)
        assert callable(implementation), f"{ranking.__name__} has no {name}()"
        assert accepts(implementation, declared), f"{ranking.__name__}.{name} does not fit the protocol"
    # An attribute is a property of the class or declared in its body (set by __init__).
    offered = set(inspect.get_annotations(ranking)) | {k for k, v in vars(ranking).items() if not callable(v)}
    assert attributes(protocol) <= offered, ranking.__name__


def test_the_signature_check_refuses_what_the_protocol_does_not_allow():
    class Narrow:
        def scored_top(self, count): ...  # renamed parameter
        def score_bands(self, phase, criteria): ...  # positional, but called by keyword: fine
        def last_active_id(self, required): ...  # an argument nobody passes

    assert not accepts(Narrow.scored_top, RankingSource.scored_top)
    assert accepts(Narrow.score_bands, RankingSource.score_bands)
    assert not accepts(Narrow.last_active_id, RankingSource.last_active_id)
