"""Compile validated measure lists once into an immutable object that many checks share.

Every measure becomes one rule: an expression over a flat *fact* (one fact per credit record that
a check looks at), built from the measure's list types, matter types, validity dates, subject
types, related-party roles and condition. The same expression feeds durable_rules (as JSON rules
named by measure id; measures whose conditions are the same share one rule) and the reference
evaluator, so the two cannot drift apart.

The compiled object also holds the index (list type, matter type) → candidate measures, which
lets a check skip the rule engine when no rule could fire, and a revision (content hash) that every
result records.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import gc
import hashlib
import json
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ._conditions import (
    And,
    AnyOf,
    Compare,
    Expr,
    Or,
    Predicate,
    alternatives,
    coincident,
    evaluator,
    parse_condition,
    set_key,
    set_member,
    set_tests,
    to_durable,
)
from ._list_types import Policies
from ._memo import Abstraction, abstractions_of
from ._models import Measure, MeasureListFile

#: The role a fact has when the record belongs to the checked subject itself.
SELF = "self"

#: Fact keys a check sets on every fact (see :func:`joint_sanctions._results._facts`): whether the
#: record's own ban covers this matter on the check day, and whether its rectification deadline has
#: passed. Computed per check, where the matter and the day are known, so both rule back ends test
#: one boolean each and agree by construction.
BANS_MATTER = "record.bans_matter"
OVERDUE = "record.overdue"

#: The most alternative paths (see :func:`joint_sanctions._conditions.alternatives`) the rules of one
#: ruleset (one list type × matter type) may have together. Measured with durable_rules 2.0.28:
#: creating a ruleset spins forever once one test has more than 511 distinct tests below it (a
#: fixed 512-slot table; ~90 ms at 511, ~10 ms at 256), and fails with error 108 once more than 256
#: paths end at the same test. The sum of the paths bounds both, so 256 keeps every ruleset clear
#: of both. The loader refuses lists over it (``rules_too_large``), and the durable runner refuses
#: to hand such rules over.
MAX_RULESET_ALTERNATIVES = 256

#: The most alternative paths of one ruleset's rules that one fact may meet at once (see
#: :func:`joint_sanctions._conditions.coincident`): durable_rules 2.0.28 fails a fact that fires a
#: 65th rule branch in one assert (error 303, measured), whatever the rules look like.
MAX_RULESET_FIRINGS = 64

#: A set test beside durable_rules: (fact key of its outcome, its predicate on the fact).
SetTest = tuple[str, Predicate]


@dataclass(frozen=True)
class CompiledMeasure:
    """One measure with its rule expression and the reference predicate of that expression."""

    measure: Measure
    rule: Expr
    predicate: Predicate = field(repr=False, compare=False)
    #: ``rule`` without its list-type and matter-type parts: what remains to test once the index
    #: has picked the measure for a fact's (list type, matter type).
    residual: Expr = field(repr=False, compare=False, default=And(()))
    #: The fields an applied measure copies from the measure, computed once instead of per check.
    applied_fields: MappingProxyType[str, Any] = field(repr=False, compare=False,
                                                       default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class CompiledMeasures:
    """Immutable, shareable result of :func:`compile_measures`."""

    revision: str
    files: tuple[MeasureListFile, ...]
    measures: Mapping[str, CompiledMeasure]
    index: Mapping[tuple[str, str], tuple[CompiledMeasure, ...]]
    #: Measure id → its place in the measure lists (results list measures in that order).
    position: Mapping[str, int] = field(repr=False, compare=False)
    #: durable_rules rule name → the ids of the measures that rule stands for (see durable_rulesets).
    rule_measures: Mapping[str, tuple[str, ...]] = field(repr=False, compare=False)
    #: Index key → the names of the rules of its durable_rules ruleset.
    rule_names: Mapping[tuple[str, str], tuple[str, ...]] = field(repr=False, compare=False)
    #: Index key → the set tests (long ``in`` lists) its ruleset's facts must carry the outcome of.
    set_tests: Mapping[tuple[str, str], tuple[SetTest, ...]] = field(repr=False, compare=False,
                                                                      default_factory=lambda: MappingProxyType({}))
    #: Index key → the fields its ruleset's rules read and the constants that class their values:
    #: what the firing memo keys a fact by (see :mod:`joint_sanctions._memo`).
    abstractions: Mapping[tuple[str, str], Abstraction] = field(repr=False, compare=False,
                                                                 default_factory=lambda: MappingProxyType({}))
    compile_ms: float = 0.0
    #: The list-type policy served with the measures (list_types.yaml; empty when the lists have none).
    list_types: Policies = field(default_factory=Policies, repr=False, compare=False)

    def candidates(self, list_type: str, matter_type: str) -> tuple[CompiledMeasure, ...]:
        """Measures that could apply to a record of ``list_type`` for ``matter_type``."""
        return self.index.get((list_type, matter_type), ())

    def durable_rulesets(self) -> dict[tuple[str, str], dict[str, dict[str, Any]]]:
        """durable_rules JSON, one ruleset per (list type, matter type) of the index.

        Each holds one rule per distinct residual condition among its candidate measures (what
        remains once the index has matched list and matter type). durable_rules cannot hold a
        thousand measures with ``$or`` alternatives in one ruleset (it fails with error 107 or 303);
        split by the index key, each ruleset stays small and a fact meets only the rules that could
        fire on it.

        Measures with the same residual share one rule, as a Rete network shares a node: durable
        runs one action per rule that fires, at ~25 µs each, and most measures differ only in lists,
        matters and wording, so a hit costs a fraction of the actions. A rule is named by its
        measure id when it stands for one measure, else by its first id, the count of the others
        and a digest of them all; :attr:`rule_measures` maps every name back to its measure ids.
        """
        return {key: {name: {"all": [{"m": to_durable(self.measures[self.rule_measures[name][0]].residual,
                                                      sets=True)}],
                             "run": name}
                      for name in names}
                for key, names in self.rule_names.items()}

    @functools.cached_property
    def rules_digest(self) -> str:
        """A digest of :meth:`durable_rulesets`: what the durable runner registers them by.

        Equal rules give an equal digest whatever the measures' files or order, so a reload of the
        same rules laid out otherwise reuses what is registered, and a change of any rule does not.
        """
        rulesets = {f"{list_type} {matter_type}": rules
                    for (list_type, matter_type), rules in self.durable_rulesets().items()}
        blob = json.dumps(rulesets, sort_keys=True, ensure_ascii=True, separators=(",", ":"),
                          default=repr)
        return hashlib.sha256(blob.encode("ascii")).hexdigest()[:16]

    def sizes(self) -> dict[tuple[str, str], tuple[int, int]]:
        """Index key → (alternative paths of all its ruleset's rules, how many one fact may meet at
        once): what :data:`MAX_RULESET_ALTERNATIVES` and :data:`MAX_RULESET_FIRINGS` bound."""
        sizes = {}
        for key, names in self.rule_names.items():
            residuals = [self.measures[self.rule_measures[name][0]].residual for name in names]
            sizes[key] = (sum(map(alternatives, residuals)), sum(map(coincident, residuals)))
        return sizes


def _rule_name(ids: Sequence[str]) -> str:
    if len(ids) == 1:
        return ids[0]
    digest = hashlib.sha1(",".join(ids).encode("utf-8"), usedforsecurity=False).hexdigest()[:10]
    return f"{ids[0]}+{len(ids) - 1}#{digest}"  # '#' never occurs in a measure id


def _share_rules(measures: Iterable[CompiledMeasure], index: Mapping[tuple[str, str], Sequence[CompiledMeasure]],
                 ) -> tuple[dict[str, tuple[str, ...]], dict[tuple[str, str], tuple[str, ...]]]:
    """One rule per distinct residual in each ruleset: (rule name → measure ids, key → rule names)."""
    # Each distinct residual gets a number once: hashing the expression trees per key would hash
    # each measure's tree once for every (list type, matter type) pair it has.
    classes: dict[Expr, int] = {}
    class_of = {cm.measure.id: classes.setdefault(cm.residual, len(classes)) for cm in measures}
    rule_measures: dict[str, tuple[str, ...]] = {}
    rule_names: dict[tuple[str, str], tuple[str, ...]] = {}
    for key, cms in index.items():
        groups: dict[int, list[str]] = {}
        for cm in cms:
            groups.setdefault(class_of[cm.measure.id], []).append(cm.measure.id)
        # Names depend on the measures, never on their order in the files: the same revision laid
        # out in other files must give the same rules (rulesets are registered by their content).
        names = []
        for ids in groups.values():
            ids.sort()
            names.append(name := _rule_name(ids))
            rule_measures[name] = tuple(ids)
        rule_names[key] = tuple(sorted(names))
    return rule_measures, rule_names


def day_number(day: dt.date) -> int:
    """A date as the integer YYYYMMDD, which orders like the date and durable_rules can compare."""
    return day.year * 10000 + day.month * 100 + day.day


def measure_rule(m: Measure) -> Expr:
    """The rule expression of one measure over fact keys (see :func:`joint_sanctions._check` facts)."""
    return And((AnyOf("record.list_type", tuple(m.list_types)),
                AnyOf("matter.matter_type", tuple(m.matter_types)),
                *residual_rule(m).items))


def residual_rule(m: Measure) -> And:
    """What a fact must satisfy besides its list type and matter type: dates, ban, overdue, party,
    condition."""
    return residual_of(m.valid_from, m.valid_to, m.subject_types, m.related_party_roles, m.condition,
                       requires_ban=m.requires_ban, requires_overdue=m.requires_overdue)


def residual_of(valid_from: dt.date | None, valid_to: dt.date | None, subject_types: Sequence[str] | None,
                related_party_roles: Sequence[str], condition: str | None, *, requires_ban: bool = False,
                requires_overdue: bool = False) -> And:
    """:func:`residual_rule` from a measure's fields (the loader sizes rules before models exist)."""
    parts: list[Expr] = []
    if valid_from is not None:
        parts.append(Compare("check.day", ">=", day_number(valid_from)))
    if valid_to is not None:
        parts.append(Compare("check.day", "<", day_number(valid_to)))
    if requires_ban:
        parts.append(Compare(BANS_MATTER, "==", True))
    if requires_overdue:
        parts.append(Compare(OVERDUE, "==", True))
    own: Expr = Compare("party.role", "==", SELF)
    if subject_types is not None:
        own = And((own, AnyOf("subject.subject_type", tuple(subject_types))))
    # subject_types filters the subject, not its related parties (measure_lists/README.md)
    parts.append(Or((own, AnyOf("party.role", tuple(related_party_roles)))) if related_party_roles else own)
    if condition:
        parts.append(parse_condition(condition))
    return And(tuple(parts))  # never empty: the party clause is always there


def revision_of(files: Iterable[MeasureListFile], policy: str = "") -> str:
    """Content hash of the measure set: same measures (in any file layout or order) → same revision.
    ``policy`` is the list-type policy's digest: its periods change outcomes as much as a measure does."""
    canonical: list[Any] = sorted((_canonical(m) for f in files for m in f.measures), key=lambda d: str(d["id"]))
    if policy:  # lists without a policy file keep the revision they always had
        canonical.append({"list_types": policy})
    blob = json.dumps(canonical, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


#: Measure fields added after revisions were first recorded: left out of the hash while they hold
#: their default, so lists that do not use them keep the revision they always had.
_LATER_FIELDS = {"requires_ban": False, "requires_overdue": False}


def _canonical(m: Measure) -> dict[str, Any]:
    data = m.model_dump(mode="json", exclude={"source"})
    for name, default in _LATER_FIELDS.items():
        if data[name] == default:
            del data[name]
    return data


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for a block that allocates many objects and keeps them all.

    Its scans could free none of them, yet they cost a third or more of such a block (compiling a
    thousand measures, a check_many call). It is resumed only if it was on, so concurrent blocks
    at worst resume it early.
    """
    running = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if running:
            gc.enable()


def compile_measures(files: Iterable[MeasureListFile], list_types: Policies | None = None) -> CompiledMeasures:
    """Build the index, rules and revision of validated measure lists (and their list-type policy).

    The loader has already validated every field and condition, so compiling cannot fail on
    content that :func:`joint_sanctions._load.load_measure_lists` accepted.
    """
    with collector_paused():
        return _compile(tuple(files), list_types or Policies())


def _compile(files: tuple[MeasureListFile, ...], list_types: Policies) -> CompiledMeasures:
    started = time.perf_counter()
    compiled: dict[str, CompiledMeasure] = {}
    index: dict[tuple[str, str], list[CompiledMeasure]] = {}
    for f in files:
        for m in f.measures:
            rule = measure_rule(m)
            cm = CompiledMeasure(m, rule, evaluator(rule), residual=residual_rule(m), applied_fields=MappingProxyType({
                "measure_id": m.id, "name": m.name, "kind": m.kind, "effect": m.effect,
                "mandatory": m.mandatory, "legal_basis": m.legal_basis, "basis_status": m.basis_status,
                "implementing_departments": m.implementing_departments, "tags": m.tags}))
            compiled[m.id] = cm
            for lt in m.list_types:
                for mt in m.matter_types:
                    index.setdefault((lt, mt), []).append(cm)
    frozen_index = {k: tuple(v) for k, v in index.items()}
    rule_measures, rule_names = _share_rules(compiled.values(), frozen_index)
    tests: dict[tuple[str, str], tuple[SetTest, ...]] = {}
    for key, cms in frozen_index.items():
        found = {set_key(t): t for cm in cms for t in set_tests(cm.residual)}
        if found:
            tests[key] = tuple((k, set_member(t)) for k, t in sorted(found.items()))
    abstractions = abstractions_of({key: [compiled[rule_measures[name][0]].residual for name in names]
                                    for key, names in rule_names.items()})
    return CompiledMeasures(
        revision=revision_of(files, list_types.digest()),
        files=files,
        list_types=list_types,
        measures=MappingProxyType(compiled),
        index=MappingProxyType(frozen_index),
        compile_ms=(time.perf_counter() - started) * 1000,
        position=MappingProxyType({mid: i for i, mid in enumerate(compiled)}),
        rule_measures=MappingProxyType(rule_measures),
        rule_names=MappingProxyType(rule_names),
        set_tests=MappingProxyType(tests),
        abstractions=MappingProxyType(abstractions),
    )
