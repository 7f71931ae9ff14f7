"""An exact firing memo: which measures fire on a fact, decided once per abstract fact and revision.

Which rules of a ruleset (one list type × matter type) fire on a fact depends only on the fields
those rules read, and of each field only on how its value stands to the constants the rules compare
it with. So a fact is abstracted, per field its ruleset reads, to a small class:

* a field compared by order (``check.day``, ``matter.amount``): the place of its value among the
  sorted constants — below the first, on one, strictly between two, above the last — together with
  its type (int or float), so no class mixes values the rule back end might read differently;
* any other field (codes, roles, subject types, organizer, the ban and overdue booleans): which
  constant it is (same type and value), or, for none of them, its type;
* a field the fact lacks, or holds as None: a class of its own each.

Every comparison and ``in`` list of the condition language is decided by these classes, so two facts
with the same classes fire the same rules: the rule back end (durable_rules, or the reference
evaluator) decides each class once, and the memo replays its answer. A value the classes cannot
place exactly bypasses the memo and goes to the back end: a NaN or a non-number in an ordered field,
an unhashable value, or a value equal to a constant of another type (``True == 1``). The language
has no condition that cannot be abstracted (text is never ordered, there are no functions).

The memo belongs to one compiled revision (a reload starts a new one); its size is bounded by the
rules (:func:`bound`), and, whatever the rules, never holds more than :data:`MAX_ENTRIES`.
"""

from __future__ import annotations

import bisect
import math
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

from ._accel import compiled_helper
from ._conditions import And, AnyOf, Compare, Expr, Or, fact_key

# _compile builds the abstractions with this module, and _rules sits on _compile: the memo names
# what it needs of both structurally, so no import cycle arises (tests/test_public_api.py).
Fact = Mapping[str, Any]
Firing = tuple[str, str]  # (measure id, fact id)

#: One field's abstraction: (fact key, sorted order constants or None, {(type, constant): class}, constants).
FieldSpec = tuple[str, tuple[float, ...] | None, Mapping[tuple[type, Any], int], frozenset[Any]]
#: A ruleset's abstraction: its fields, sorted by key.
Abstraction = tuple[FieldSpec, ...]



class CompiledMeasures(Protocol):
    """What the memo needs of :class:`joint_sanctions._compile.CompiledMeasures`."""

    @property
    def abstractions(self) -> Mapping[tuple[str, str], Abstraction]: ...


class RuleRunner(Protocol):
    """What the memo needs of a rule back end (:class:`joint_sanctions._rules.RuleRunner`)."""

    name: str

    def fire(self, compiled: Any, matter_type: str, facts: Sequence[Fact]) -> list[Firing]: ...


#: Entries beyond which answers are still decided exactly but no longer kept (a safety net: the
#: shipped lists' rules bound the memo far lower in practice, see the report of issue 15).
MAX_ENTRIES = 1 << 16

_ORDERING = {"<", "<=", ">", ">="}
_MISSING = object()
_ABSENT, _NONE = -1, -2
# Classes of a fact the memo cannot place exactly (see the module doc).
_BYPASS = None


def _collect(expr: Expr, consts: dict[str, set[Any]], ordered: set[str]) -> None:
    if isinstance(expr, Compare):
        key = fact_key(expr.field)
        consts.setdefault(key, set()).add((type(expr.value), expr.value))
        if expr.op in _ORDERING:
            ordered.add(key)
    elif isinstance(expr, AnyOf):
        consts.setdefault(fact_key(expr.field), set()).update((type(v), v) for v in expr.values)
    elif isinstance(expr, And | Or):
        for item in expr.items:
            _collect(item, consts, ordered)


def abstraction(rules: Iterable[Expr]) -> Abstraction:
    """The fields ``rules`` read and, for each, the constants that split its values into classes."""
    consts: dict[str, set[Any]] = {}
    ordered: set[str] = set()
    for rule in rules:
        _collect(rule, consts, ordered)
    specs: list[FieldSpec] = []
    for key in sorted(consts):
        typed = sorted(consts[key], key=repr)
        values = frozenset(v for _, v in typed)
        if key in ordered and all(t in (int, float) for t, _ in typed):
            specs.append((key, tuple(sorted(values)), {}, values))
        else:
            specs.append((key, None, {tv: i for i, tv in enumerate(typed)}, values))
    return tuple(specs)


def bound(spec: Abstraction) -> int:
    """How many abstract facts a ruleset with this abstraction can have (the memo's bound for it)."""
    size = 1
    for _, order, classes, _ in spec:
        # absent, None, and: by order, below/on/between/above the constants × int or float; else one
        # class per constant plus one per other type (str, bool, int, float are the types facts carry)
        size *= 2 + ((2 * len(order) + 1) * 2 if order is not None else len(classes) + 4)
    return size


def abstract(spec: Abstraction, fact: Fact) -> tuple[Any, ...] | None:
    """The class of ``fact`` under ``spec``, or None when it cannot be placed exactly (bypass)."""
    out: list[Any] = []
    try:
        for key, order, classes, values in spec:
            v = fact.get(key, _MISSING)
            if v is _MISSING:
                out.append(_ABSENT)
            elif v is None:
                out.append(_NONE)
            elif order is not None:
                t = type(v)
                if not (t is int or t is float and not math.isnan(v)):
                    return _BYPASS
                i = bisect.bisect_left(order, v)
                on = i < len(order) and order[i] == v
                out.append((2 * i + on) * 2 + (t is float))
            else:
                c = classes.get((type(v), v))
                if c is None:
                    if v in values:
                        return _BYPASS  # equal to a constant of another type: keep it exact
                    out.append(type(v))
                else:
                    out.append(c)
    except TypeError:  # an unhashable value
        return _BYPASS
    return tuple(out)


Known = list[tuple[str, tuple[str, ...], str]]


def known_answers_py(table: Mapping[tuple[tuple[str, str], tuple[Any, ...]], tuple[str, ...]],
                     specs: Mapping[tuple[str, str], Abstraction], matter_type: str,
                     facts: Sequence[Fact]) -> Known | None:
    """(fact id, answer, list type) of each fact a measure may fire on, in order, when ``table`` knows every
    one's class; None when any is not known or bypasses the memo (:meth:`FiringMemo.fire_grouped`'s usual
    path)."""
    found: Known = []
    for fact in facts:
        list_type = fact["record__list_type"]
        rkey = (list_type, matter_type)
        spec = specs.get(rkey)
        if spec is None:
            continue  # no measure for this list and matter type: nothing can fire
        cls = abstract(spec, fact)
        answer = None if cls is None else table.get((rkey, cls))
        if answer is None:
            return None
        found.append((fact["id"], answer, list_type))
    return found


#: :func:`known_answers_py`, compiled where the package was built with a C compiler (_accel).
known_answers: Callable[..., Known | None] = (
    compiled_helper("known_answers", "setup_memo", "record__list_type", "id", _ABSENT, _NONE) or known_answers_py)


class FiringMemo:
    """The memo of one engine for one compiled revision, over its rule back end (thread-safe).

    Answers are deterministic per key, so two threads deciding the same key at once store the same
    answer: the table needs no lock; the counters take a short one.
    """

    def __init__(self, compiled: CompiledMeasures, runner: RuleRunner) -> None:
        self.compiled = compiled
        self._runner = runner
        # durable_rules reports the firings of one ruleset after another; the memo keeps that order
        # (the first related party named for a measure follows it).
        self._by_ruleset = runner.name == "durable"
        self._table: dict[tuple[tuple[str, str], tuple[Any, ...]], tuple[str, ...]] = {}
        self._specs = dict(compiled.abstractions)  # a dict of its own: the compiled known_answers takes dicts
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.bypassed = 0

    def stats(self) -> dict[str, int]:
        """Entries, hits, misses (facts answered from the memo / decided by the back end), bypassed."""
        with self._lock:
            return {"entries": len(self._table), "hits": self.hits, "misses": self.misses,
                    "bypassed": self.bypassed}

    def fire(self, matter_type: str, facts: Sequence[Fact]) -> list[Firing]:
        """What the rule back end would answer for ``facts``, deciding only the classes not yet seen."""
        return [(mid, fact_id) for fact_id, answer in self.fire_grouped(matter_type, facts) for mid in answer]

    def fire_grouped(self, matter_type: str, facts: Sequence[Fact]) -> list[tuple[str, tuple[str, ...]]]:
        """:meth:`fire` grouped by fact: (fact id, the measure ids that fire on it), in firing order.

        The answer tuples are the memo's own (the same object for every fact of a class), so a
        caller may key what it derives from an answer by it."""
        # The usual hit: every fact's class is known. Anything else (a class not yet decided, one
        # that bypasses the memo) takes the general path below, which counts for itself.
        found = known_answers(self._table, self._specs, matter_type, facts)
        if found is None:
            return self._decide(matter_type, facts)
        with self._lock:
            self.hits += len(found)
        # Facts of one ruleset already side by side (always so for one or two facts) need no sort.
        if self._by_ruleset and len(found) > 2:
            order: dict[str, None] = {}
            for _, _, list_type in found:
                order.setdefault(list_type, None)
            rank = {lt: i for i, lt in enumerate(order)}
            found.sort(key=lambda f: rank[f[2]])  # stable: facts keep their order
        return [(fact_id, answer) for fact_id, answer, _ in found]

    def _decide(self, matter_type: str, facts: Sequence[Fact]) -> list[tuple[str, tuple[str, ...]]]:
        """:meth:`fire_grouped` when some fact's class is not in the memo: the back end decides those."""
        compiled, table = self.compiled, self._table
        specs = compiled.abstractions
        known: list[tuple[Fact, tuple[str, ...] | None, Any]] = []
        ask: list[Fact] = []
        hits = misses = bypassed = 0
        for fact in facts:
            rkey = (fact["record__list_type"], matter_type)
            spec = specs.get(rkey)
            if spec is None:
                continue  # no measure for this list and matter type: nothing can fire
            cls = abstract(spec, fact)
            if cls is None:
                bypassed += 1
                ask.append(fact)
                known.append((fact, None, None))
                continue
            key = (rkey, cls)
            answer = table.get(key)
            if answer is None:
                misses += 1
                ask.append(fact)
            else:
                hits += 1
            known.append((fact, answer, key))
        if ask:
            decided: dict[str, list[str]] = {f["id"]: [] for f in ask}
            for mid, fact_id in self._runner.fire(compiled, matter_type, ask):
                decided[fact_id].append(mid)
            for i, (fact, answer, key) in enumerate(known):
                if answer is None:
                    answer = tuple(decided[fact["id"]])
                    if key is not None and len(table) < MAX_ENTRIES:
                        answer = table.setdefault(key, answer)
                    known[i] = (fact, answer, key)
        with self._lock:
            self.hits += hits
            self.misses += misses
            self.bypassed += bypassed
        if self._by_ruleset and len(known) > 1:
            order: dict[str, None] = {}
            for fact, _, _ in known:
                order.setdefault(fact["record__list_type"], None)
            rank = {lt: i for i, lt in enumerate(order)}
            known.sort(key=lambda k: rank[k[0]["record__list_type"]])  # stable: facts keep their order
        return [(fact["id"], answer or ()) for fact, answer, _ in known]


def memo_bound(compiled: CompiledMeasures) -> int:
    """The most entries the memo of ``compiled`` can hold (the sum of its rulesets' bounds)."""
    return sum(bound(spec) for spec in compiled.abstractions.values())


def abstractions_of(residuals: Mapping[tuple[str, str], Sequence[Expr]]) -> dict[tuple[str, str], Abstraction]:
    """Each ruleset's abstraction, from the residual rules of its measures."""
    return {key: abstraction(rules) for key, rules in residuals.items()}
