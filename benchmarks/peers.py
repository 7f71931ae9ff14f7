"""The peers the project is measured against, built from the same compiled measures.

* :class:`DurableNaive`: durable_rules used the obvious way: one ruleset (the project's own JSON
  rules, :meth:`CompiledMeasures.durable_rules`), ONE shared session, and for every check: assert the
  check's facts, collect the measures whose actions fired, retract the facts. No index in front: a
  check whose subject is on no list still asserts one fact (subject and matter, no record), which
  no rule matches.
* :class:`ZenTable`: zen-engine (GoRules) with one decision table, hit policy ``collect``, columns
  keyed on list type, matter type, party role, subject type, check day and a condition column; one
  row per measure (two when it also applies through related parties). Called through
  ``ZenEngine({"loader": <static loader>}).evaluate(key, input)``, once per fact, every check.

Facts are built here the way design.md §2/§5 describe a check's facts (one flat fact per active
record and role); the benchmark asserts that every peer returns the same measure ids as the
project on the same checks, so a drift in either shows up as a mismatch, not as a wrong number.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from joint_sanctions._compile import BANS_MATTER, OVERDUE, CompiledMeasures
from joint_sanctions._conditions import And, AnyOf, Compare, Expr, Or, parse_condition, to_durable

SELF = "self"

#: One active record as the peers get it: (record_id, list_type, authority, document_no, reason).
Rec = tuple[str, str, str, str, str]
#: One check as the peers get it (see datagen.Check.as_row).
Row = Sequence[Any]


def flat_facts(row: Row, day: int, active: Mapping[str, Sequence[Rec]]) -> list[dict[str, Any]]:
    """The check's facts with flat keys (``record__list_type`` …), as durable_rules matches them.

    One fact per active record of the subject (role ``self``) and of its related party (its role);
    a check without any active record gets one bare fact (subject and matter only).
    """
    sid, matter, amount, role, rel_id, _listed, stype, id_kind = row
    base: dict[str, Any] = {
        "matter__matter_type": matter,
        "subject__subject_type": stype,
        "subject__id_kind": id_kind,
        "check__day": day,
    }
    if amount is not None:
        base["matter__amount"] = float(amount)
    facts = []
    for who, fact_role in ((sid, SELF), (rel_id, role)):
        if who is None:
            continue
        for rid, lt, authority, doc, reason in active.get(who, ()):
            facts.append(
                {
                    **base,
                    "id": f"{fact_role}:{rid}",
                    "party__role": fact_role,
                    "record__list_type": lt,
                    "record__authority": authority,
                    "record__document_no": doc,
                    "record__reason": reason,
                }
            )
    if not facts:
        facts.append({**base, "id": "bare", "party__role": SELF})
    return facts


def nested_facts(row: Row, day: int, active: Mapping[str, Sequence[Rec]]) -> list[dict[str, Any]]:
    """The same facts as :func:`flat_facts`, nested (``record.list_type`` …) as zen-engine reads them."""
    sid, matter, amount, role, rel_id, _listed, stype, id_kind = row
    matter_obj: dict[str, Any] = {"matter_type": matter}
    if amount is not None:
        matter_obj["amount"] = float(amount)
    subject = {"subject_type": stype, "id_kind": id_kind}
    check = {"day": day}
    facts = []
    for who, fact_role in ((sid, SELF), (rel_id, role)):
        if who is None:
            continue
        for _rid, lt, authority, doc, reason in active.get(who, ()):
            facts.append(
                {
                    "matter": matter_obj,
                    "subject": subject,
                    "check": check,
                    "party": {"role": fact_role},
                    "record": {"list_type": lt, "authority": authority, "document_no": doc, "reason": reason},
                }
            )
    if not facts:
        facts.append({"matter": matter_obj, "subject": subject, "check": check, "party": {"role": SELF}})
    return facts


# --- durable_rules, naive ---------------------------------------------------------------------------


class DurableNaive:
    """durable_rules with one shared session: assert the check's facts, collect, retract.

    The rules are the project's own JSON ruleset. durable_rules refuses a ruleset beyond some size
    (``Could not create ruleset, error code: 107`` once too many rules hang off one node of its
    network, ``Could not assert fact, error code: 303`` when a fact fans out to too many of them);
    then, as an integrator would, the rules are split into as few rulesets as it accepts (checked
    with ``probe`` facts: the distinct facts of the workload), and every fact goes to each of them.
    :attr:`rulesets` says how many were needed, :attr:`refusals` what durable_rules said.
    """

    def __init__(
        self, compiled: CompiledMeasures, name: str = "bench_naive", probe: Sequence[dict[str, Any]] = ()
    ) -> None:
        from durable import engine

        self._engine = engine
        self.fired: list[str] = []
        fired = self.fired

        def action_for(measure_id: str) -> Callable[[Any], None]:
            def act(c: Any) -> None:
                fired.append(measure_id)

            return act

        class Host(engine.Host):  # type: ignore[misc]
            def get_action(self, action_name: str) -> Callable[[Any], None]:
                return action_for(action_name)

        self.host = Host()
        self.rulesets: list[str] = []
        self.refusals: list[str] = []
        self._names = itertools.count()
        self._ids = itertools.count()
        self._probe = list(probe)
        self._compiled = compiled
        self._ruleset_of: dict[str, str] = {}
        # The obvious JSON rules: one per measure with its whole condition, no index in front.
        self._register(name, [(mid, {"all": [{"m": to_durable(cm.rule)}], "run": mid})
                              for mid, cm in compiled.measures.items()])

    def _register(self, prefix: str, rules: list[tuple[str, Any]]) -> None:
        """Register ``rules`` as one ruleset, or split it in halves until durable_rules takes each half.

        A ruleset counts as taken when it is created and every probe fact can be asserted into it
        and retracted (durable_rules also fails *asserts* on large rulesets: error 303).
        """
        name = f"{prefix}_{next(self._names)}"
        try:
            # durable_rules edits the definition it is given (it pops 'run'): give it a copy.
            self.host.set_rulesets({name: json.loads(json.dumps(dict(rules), ensure_ascii=False))})
            self._try_probe(name)
        except Exception as exc:  # durable_rules raises a bare error carrying a code
            if len(rules) == 1:
                raise
            self.refusals.append(f"{exc} (ruleset of {len(rules)} rules)")
            half = len(rules) // 2
            self._register(prefix, rules[:half])
            self._register(prefix, rules[half:])
            return
        self.rulesets.append(name)
        for rule_name, _rule in rules:
            self._ruleset_of[rule_name] = name

    def targets(self, fact: Mapping[str, Any]) -> list[str]:
        """The rulesets holding a rule that could fire on ``fact`` (by its list and matter type)."""
        lt = fact.get("record__list_type")
        if lt is None:
            return []
        names = {
            self._ruleset_of[cm.measure.id]
            for cm in self._compiled.candidates(lt, fact["matter__matter_type"])
        }
        return [r for r in self.rulesets if r in names]

    def assert_and_retract_pairs(self, pairs: Sequence[tuple[str, dict[str, Any]]]) -> None:
        """Assert each fact into its ruleset, then retract the stored ones: nothing but durable_rules calls."""
        host, not_handled = self.host, self._engine.MessageNotHandledException
        stored = []
        for ruleset, fact in pairs:
            try:
                host.assert_fact(ruleset, fact)
                stored.append((ruleset, fact))
            except not_handled:
                pass
        for ruleset, fact in stored:
            host.retract_fact(ruleset, fact)

    def _try_probe(self, ruleset: str) -> None:
        for n, fact in enumerate(self._probe):
            fact = {**fact, "id": f"probe{n}"}
            try:
                self.host.assert_fact(ruleset, fact)
            except self._engine.MessageNotHandledException:
                continue
            self.host.retract_fact(ruleset, fact)
        self.fired.clear()

    def assert_and_retract(self, facts: Sequence[dict[str, Any]]) -> None:
        """Assert every fact (unique ids: identical facts are refused), then retract the ones stored."""
        host, not_handled = self.host, self._engine.MessageNotHandledException
        for ruleset in self.rulesets:
            stored = []
            for fact in facts:
                try:
                    host.assert_fact(ruleset, fact)
                    stored.append(fact)
                except not_handled:
                    pass  # no rule matched: durable_rules does not keep the fact
            for fact in stored:
                host.retract_fact(ruleset, fact)

    def check(self, facts: Sequence[dict[str, Any]]) -> frozenset[str]:
        """The measure ids that fire on ``facts`` (fact ids are made unique per call)."""
        n = next(self._ids)
        self.fired.clear()
        self.assert_and_retract([{**f, "id": f"{n}:{f['id']}"} for f in facts])
        return frozenset(self.fired)


# --- zen-engine -------------------------------------------------------------------------------------


def _zen_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value), ensure_ascii=False)


_ZEN_OPS = {"==": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


def zen_expression(expr: Expr) -> str:
    """A ZEN expression with the project's semantics: a comparison on a missing field is false."""
    if isinstance(expr, Compare):
        return f"({expr.field} != null and {expr.field} {_ZEN_OPS[expr.op]} {_zen_value(expr.value)})"
    if isinstance(expr, AnyOf):
        values = ", ".join(_zen_value(v) for v in expr.values)
        test = f"{expr.field} in [{values}]"
        return f"({expr.field} != null and {'not (' + test + ')' if expr.negated else test})"
    joiner = " and " if isinstance(expr, And) else " or "
    assert isinstance(expr, And | Or)
    return "(" + joiner.join(zen_expression(e) for e in expr.items) + ")"


def _one_of(values: Sequence[str]) -> str:
    return ", ".join(json.dumps(v, ensure_ascii=False) for v in values)


def zen_decision(compiled: CompiledMeasures) -> dict[str, Any]:
    """The JDM graph: input → one collect decision table (one row per measure and party branch) → output."""
    inputs = [
        {"id": "lt", "name": "List type", "field": "record.list_type"},
        {"id": "mt", "name": "Matter type", "field": "matter.matter_type"},
        {"id": "role", "name": "Party role", "field": "party.role"},
        {"id": "st", "name": "Subject type", "field": "subject.subject_type"},
        {"id": "day", "name": "Check day", "field": "check.day"},
        {"id": "cond", "name": "Condition"},
    ]
    rules = []
    for cm in compiled.measures.values():
        m = cm.measure
        day = []
        if m.valid_from is not None:
            day.append(f">= {m.valid_from.year * 10000 + m.valid_from.month * 100 + m.valid_from.day}")
        if m.valid_to is not None:
            day.append(f"< {m.valid_to.year * 10000 + m.valid_to.month * 100 + m.valid_to.day}")
        # A measure that needs the record's own ban (or an overdue fee) applies only when the record
        # says so, as the project's rule asks; the data set's records carry neither.
        parts: list[Expr] = [Compare(BANS_MATTER, "==", True)] if m.requires_ban else []
        parts += [Compare(OVERDUE, "==", True)] if m.requires_overdue else []
        parts += [parse_condition(m.condition)] if m.condition else []
        cond = zen_expression(And(tuple(parts))) if parts else ""
        common = {
            "lt": _one_of(m.list_types),
            "mt": _one_of(m.matter_types),
            "day": " and ".join(day),
            "cond": cond,
            "out": json.dumps(m.id),
        }
        rules.append(
            {
                "_id": f"{m.id}/self",
                **common,
                "role": json.dumps(SELF),
                "st": _one_of(m.subject_types) if m.subject_types else "",
            }
        )
        if m.related_party_roles:  # subject_types filters the subject only, not its related parties
            rules.append(
                {"_id": f"{m.id}/related", **common, "role": _one_of(m.related_party_roles), "st": ""}
            )
    table = {
        "hitPolicy": "collect",
        "inputs": inputs,
        "outputs": [{"id": "out", "name": "Measure", "field": "measure_id"}],
        "rules": rules,
    }
    return {
        "contentType": "application/vnd.gorules.decision",
        "nodes": [
            {"id": "in", "type": "inputNode", "name": "Fact", "position": {"x": 0, "y": 0}},
            {
                "id": "table",
                "type": "decisionTableNode",
                "name": "Measures",
                "position": {"x": 300, "y": 0},
                "content": table,
            },
            {"id": "out", "type": "outputNode", "name": "Fired", "position": {"x": 600, "y": 0}},
        ],
        "edges": [
            {"id": "e1", "sourceId": "in", "targetId": "table", "type": "edge"},
            {"id": "e2", "sourceId": "table", "targetId": "out", "type": "edge"},
        ],
    }


class ZenTable:
    """zen-engine evaluating :func:`zen_decision` through a static loader, one call per fact."""

    KEY = "measures.json"

    def __init__(self, compiled: CompiledMeasures) -> None:
        import zen

        graph = zen_decision(compiled)
        self.rows = len(graph["nodes"][1]["content"]["rules"])
        try:  # zen-engine 2.x: a static loader holds the parsed decision, no Python call per evaluate
            self.engine = zen.ZenEngine({"loader": {"type": "static", "content": {self.KEY: graph}}})
            self.loader = "static"
            self.engine.evaluate(self.KEY, {})
        except Exception:  # noqa: BLE001  # older bindings refuse a loader config: use a callback
            content = zen.ZenDecisionContent(json.dumps(graph, ensure_ascii=False))
            self.engine = zen.ZenEngine({"loader": lambda key: content})
            self.loader = "callback"

    def check(self, facts: Sequence[dict[str, Any]]) -> frozenset[str]:
        evaluate, key = self.engine.evaluate, self.KEY
        fired = set()
        for fact in facts:
            for hit in evaluate(key, fact)["result"]:
                fired.add(hit["measure_id"])
        return frozenset(fired)
