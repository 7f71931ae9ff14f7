"""The two rule back ends: durable_rules and the reference evaluator agree, and durable's traps are handled."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from joint_sanctions._compile import SELF, compile_measures, day_number
from joint_sanctions._conditions import AMOUNT_MAX
from joint_sanctions._errors import RuleEngineError
from joint_sanctions._models import LegalBasis, Measure, MeasureListFile
from joint_sanctions._rules import DurableRunner, ReferenceRunner, make_runner
from joint_sanctions.vocabulary import (
    LIST_TYPES,
    MATTER_TYPES,
    PUNISHMENT_LIST_TYPES,
    RELATED_PARTY_ROLES,
    SUBJECT_TYPES,
)

LISTS = sorted(PUNISHMENT_LIST_TYPES)
MATTERS = sorted(MATTER_TYPES)
ROLES = sorted(RELATED_PARTY_ROLES)
SUBJECTS = sorted(SUBJECT_TYPES)
REASONS = [f"事由{i}" for i in range(12)]
CONDITIONS = [
    None,
    "matter.amount >= 0.01",
    "matter.amount != 1000000000000000 and matter.amount > 0",
    "matter.amount < 999999999999999.99 or matter.amount == 0.1",
    "record.reason in [" + ", ".join(f"'{r}'" for r in REASONS[:10]) + "]",
    "record.reason not in [" + ", ".join(f"'{r}'" for r in REASONS[2:12]) + "] and matter.amount <= 1000000",
    "matter.item_code in ['A1', 'X1', 'X2', 'X3', 'X4', 'X5', 'X6', 'X7', 'X8', 'X9'] or matter.amount == 100",
    "matter.amount >= 1000000",
    "not (matter.amount < 500)",
    "matter.amount > 10 and matter.amount <= 5000000.5",
    "record.authority == '郑州市中级人民法院' or matter.item_code in ['A1', 'B2']",
    "subject.subject_type not in ['government_body', 'natural_person']",
    "not (record.authority != '税务局' and matter.region_code == '410100')",
    "record.document_no != 'X-1'",
    "not (matter.amount == 100 or subject.id_kind == 'resident_id')",
]


def _measure(i: int, lists: list[str], matters: list[str], roles: list[str], subjects: list[str] | None,
             condition: str | None, valid: tuple[dt.date | None, dt.date | None],
             requires: tuple[bool, bool] = (False, False)) -> Measure:
    return Measure(id=f"T-{i:03d}", name=f"措施{i}", kind="punishment", effect="restrict", mandatory=False,
                   list_types=tuple(lists), matter_types=tuple(matters),
                   legal_basis=(LegalBasis(document="测试依据"),), basis_status="unconfirmed",
                   implementing_departments=("测试部门",), subject_types=tuple(subjects) if subjects else None,
                   related_party_roles=tuple(roles), condition=condition,
                   valid_from=valid[0], valid_to=valid[1], requires_ban=requires[0], requires_overdue=requires[1])


dates = st.one_of(st.none(), st.dates(dt.date(2019, 1, 1), dt.date(2027, 12, 31)))
measure_st = st.builds(
    lambda lists, matters, roles, subjects, cond, vf, vt, requires: (lists, matters, roles, subjects, cond, (vf, vt),
                                                                     requires),
    st.lists(st.sampled_from(LISTS), min_size=1, max_size=3, unique=True),
    st.lists(st.sampled_from(MATTERS), min_size=1, max_size=3, unique=True),
    st.lists(st.sampled_from(ROLES), max_size=2, unique=True),
    st.one_of(st.none(), st.lists(st.sampled_from(SUBJECTS), min_size=1, max_size=3, unique=True)),
    st.sampled_from(CONDITIONS), dates, dates, st.tuples(st.booleans(), st.booleans()),
)
fact_st = st.fixed_dictionaries({
    "record__list_type": st.sampled_from(LISTS),
    "party__role": st.sampled_from([SELF, *ROLES]),
    "subject__subject_type": st.sampled_from(SUBJECTS),
    "subject__id_kind": st.sampled_from(["uscc", "resident_id"]),
    "record__authority": st.sampled_from(["郑州市中级人民法院", "税务局", ""]),
    "record__document_no": st.sampled_from(["X-1", "X-2"]),
    "record__reason": st.sampled_from(["", *REASONS]),
    "check__day": st.dates(dt.date(2019, 1, 1), dt.date(2027, 12, 31)).map(day_number),
    # what a check computes per record: its ban covers the matter that day; its deadline has passed
    "record__bans_matter": st.booleans(),
    "record__overdue": st.booleans(),
}, optional={
    # what a check puts in a fact: an amount in [0, AMOUNT_MAX] rounded to the fen (check._facts)
    "matter__amount": st.one_of(
        st.sampled_from([0.0, 0.01, 0.1, 100.0, 499.0, 500.0, 1000000.0, 5000000.5, 9e6, 999999999999999.9, 1e15]),
        st.floats(0, AMOUNT_MAX).map(lambda a: round(a, 2))),
    "matter__item_code": st.sampled_from(["A1", "B2", "C3"]),
    "matter__region_code": st.sampled_from(["410100", "410102"]),
})


def _compiled(specs: list[tuple[Any, ...]]) -> Any:
    measures = []
    for i, (lists, matters, roles, subjects, cond, (vf, vt), *requires) in enumerate(specs):
        if vf and vt and vt <= vf:
            vf, vt = vt, vf + dt.timedelta(days=1)
        measures.append(_measure(i, lists, matters, roles, subjects, cond, (vf, vt), *requires))
    return compile_measures([MeasureListFile(path="gen.yaml", edition="t", issuer="t", region_code="410100",
                                             measures=tuple(measures))])


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs=st.lists(measure_st, min_size=1, max_size=12),
       twins=st.lists(st.tuples(st.integers(0, 11), st.sampled_from(LISTS), st.sampled_from(MATTERS)), max_size=6),
       facts=st.lists(fact_st, min_size=1, max_size=6), matter=st.sampled_from(MATTERS))
def test_durable_and_reference_agree(specs: list[Any], twins: list[tuple[int, str, str]],
                                     facts: list[dict[str, Any]], matter: str) -> None:
    """On generated measures and facts, durable_rules fires exactly the measures the reference evaluator does.

    ``twins`` copy a measure's conditions onto other lists and matters, so measures that share one
    durable rule (same residual conditions) are exercised as often as lone ones.
    """
    for i, list_type, matter_type in twins:
        lists, matters, *rest = specs[i % len(specs)]
        specs.append(([*{*lists, list_type}], [*{*matters, matter_type}], *rest))
    compiled = _compiled(specs)
    facts = [{**f, "matter__matter_type": matter, "id": f"f{i}"} for i, f in enumerate(facts)]
    durable = sorted(make_runner("durable").fire(compiled, matter, facts))
    reference = sorted(ReferenceRunner().fire(compiled, matter, facts))
    assert durable == reference


def _simple_compiled() -> Any:
    return _compiled([(["court_defaulter"], ["bidding"], [], None, None, (None, None)),
                      (["court_defaulter"], ["bidding"], [], None, "matter.amount >= 10", (None, None))])


def _fact(i: int, **kw: Any) -> dict[str, Any]:
    base = {"id": f"f{i}", "record__list_type": "court_defaulter", "matter__matter_type": "bidding",
            "party__role": SELF, "subject__subject_type": "legal_person", "check__day": 20250601}
    return {**base, **kw}


def test_every_matching_measure_fires_not_just_the_first() -> None:
    """Facts are not consumed: two measures matching one fact both fire (events would fire one)."""
    fired = make_runner("durable").fire(_simple_compiled(), "bidding", [_fact(0, matter__amount=50.0)])
    assert sorted(m for m, _ in fired) == ["T-000", "T-001"]


def test_measures_with_the_same_conditions_share_one_durable_rule() -> None:
    """Measures that differ only in lists, matters or wording become one durable rule per ruleset, so a
    fact meeting them costs one action in durable_rules, and every one of them is still reported."""
    twins = [(["court_defaulter"], ["bidding"], [], None, None, (None, None)),
             (["court_defaulter", "wage_arrears"], ["bidding"], [], None, None, (None, None)),
             (["court_defaulter"], ["bidding"], [], None, "matter.amount >= 10", (None, None)),
             (["court_defaulter"], ["bidding", "honors"], [], None, "matter.amount >= 10", (None, None))]
    compiled = _compiled(twins)
    rules = compiled.durable_rulesets()
    assert len(rules[("court_defaulter", "bidding")]) == 2
    assert len(rules[("wage_arrears", "bidding")]) == 1
    fired = make_runner("durable").fire(compiled, "bidding", [_fact(0, matter__amount=50.0)])
    assert sorted(fired) == [(f"T-00{i}", "f0") for i in range(4)]
    assert sorted(make_runner("durable").fire(compiled, "bidding", [_fact(1)])) == [("T-000", "f1"), ("T-001", "f1")]


def test_identical_facts_in_one_check_do_not_raise() -> None:
    """Two records with the same content are two facts (unique ids), both reported."""
    fired = make_runner("durable").fire(_simple_compiled(), "bidding", [_fact(0), _fact(1)])
    assert sorted(fired) == [("T-000", "f0"), ("T-000", "f1")]


def test_a_check_where_no_rule_matches_leaves_no_session_and_does_not_crash() -> None:
    """A session whose facts match nothing is still deleted safely (durable crashes on a missing state)."""
    runner = make_runner("durable")
    for _ in range(3):
        assert runner.fire(_simple_compiled(), "bidding", [_fact(0, record__list_type="wage_arrears")]) == []


def test_more_checks_than_durable_sessions_allow() -> None:
    """Sessions are deleted after each check, so 3,000 checks never hit durable's 1,024-session limit."""
    runner = make_runner("durable")
    compiled = _simple_compiled()
    for i in range(3000):
        assert runner.fire(compiled, "bidding", [_fact(i)]) == [("T-000", f"f{i}")]


def test_recompiling_the_same_revision_reuses_the_registered_ruleset() -> None:
    """A ruleset is registered once per revision: compiling the same lists again registers nothing new,
    and checks on the new compilation fire as before."""
    runner = make_runner("durable")
    assert isinstance(runner, DurableRunner)
    first = _simple_compiled()
    fired = runner.fire(first, "bidding", [_fact(0)])
    assert fired
    registered = runner.live_rulesets
    again = _simple_compiled()
    assert again is not first and again.revision == first.revision
    for _ in range(3):
        assert runner.fire(again, "bidding", [_fact(0)]) == fired
    assert runner.live_rulesets == registered


def test_one_host_is_shared_and_safe_under_threads() -> None:
    """Concurrent first use from many threads yields one runner, and concurrent checks agree."""
    runners: list[Any] = []
    results: list[list[Any]] = []
    compiled = _simple_compiled()

    def work() -> None:
        r = make_runner("durable")
        runners.append(r)
        for i in range(200):
            results.append(r.fire(compiled, "bidding", [_fact(i, matter__amount=float(i))]))

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(r) for r in runners}) == 1
    assert all(len(res) == (2 if int(res[0][1][1:]) >= 10 else 1) for res in results)


def test_an_exception_inside_a_rule_action_is_surfaced() -> None:
    """An exception raised inside a rule action, which durable_rules would swallow into the session
    state, fails that check with RuleEngineError caused by it; the next check is not affected."""
    runner = make_runner("durable")
    assert isinstance(runner, DurableRunner)
    compiled = _simple_compiled()

    class Exploding(dict[str, Any]):
        """The collectors, as seen from inside an action: the action's one lookup raises."""

        def __getitem__(self, key: str) -> Any:
            raise RuntimeError("collector exploded")

    original = runner._collectors
    runner._collectors = Exploding()
    try:
        with pytest.raises(RuleEngineError, match="a rule action failed") as caught:
            runner.fire(compiled, "bidding", [_fact(0)])
    finally:
        runner._collectors = original
    assert isinstance(caught.value.__cause__, RuntimeError)
    assert str(caught.value.__cause__) == "collector exploded"
    assert runner.fire(compiled, "bidding", [_fact(1)]) == [("T-000", "f1")]


def test_unknown_backend_is_refused() -> None:
    """Asking for a rule back end that does not exist is a clear error."""
    with pytest.raises(ValueError, match="unknown rule back end"):
        make_runner("drools")


def test_all_list_types_are_known() -> None:
    """The generated facts use only list-type ids of design.md §3."""
    assert set(LISTS) <= set(LIST_TYPES)


@pytest.mark.parametrize(("text", "code", "offset"), [
    ("matter.amount >= ", "condition_syntax", 17),
    ("matter.amont > 5", "condition_unknown_field", 0),
    ("matter.amount > '5'", "condition_type", 16),
    ("record.authority < 'x'", "condition_type", 19),
    ("__import__('os')", "condition_unsafe", 10),
    ("record.authority(1)", "condition_unsafe", 16),
    ("matter.amount > 5 5", "condition_syntax", 18),
    ("matter.amount in [1, 'a']", "condition_type", 21),
    ("matter.amount > 1" + "0" * 40, "condition_syntax", 16),
    ("(" * 100 + "matter.amount > 1" + ")" * 100, "condition_syntax", 32),
    ("not " * 100 + "matter.amount > 1", "condition_syntax", 128),
    ("matter.amount > 5 ; drop", "condition_syntax", 18),
])
def test_bad_conditions_raise_condition_error_with_position(text: str, code: str, offset: int) -> None:
    """Malformed or unsafe conditions raise ConditionError with a stable code and the column at fault."""
    from joint_sanctions._conditions import ConditionError, parse_condition

    with pytest.raises(ConditionError) as info:
        parse_condition(text)
    assert (info.value.code, info.value.offset) == (code, offset)


def test_not_is_pushed_down_to_the_comparisons() -> None:
    """'not' disappears at parse time: De Morgan for and/or, inverted operators, negated membership."""
    from joint_sanctions._conditions import And, AnyOf, Compare, Or, parse_condition

    expr = parse_condition("not (matter.amount < 5 or record.authority in ['a'])")
    assert expr == And((Compare("matter.amount", ">=", 5), AnyOf("record.authority", ("a",), negated=True)))
    assert parse_condition("not not matter.amount == 1") == Compare("matter.amount", "==", 1)
    assert isinstance(parse_condition("matter.amount == 1 or matter.amount == 2"), Or)


def test_compiling_leaves_the_garbage_collector_as_it_found_it() -> None:
    """Compile pauses the cyclic collector (its scans free nothing there) and leaves it as it was:
    on when it was on, off when the host had switched it off, on again after an error."""
    import gc

    from joint_sanctions._compile import collector_paused

    assert gc.isenabled()
    _simple_compiled()
    assert gc.isenabled()
    gc.disable()
    try:
        _simple_compiled()
        assert not gc.isenabled()
    finally:
        gc.enable()
    with pytest.raises(RuntimeError), collector_paused():
        assert not gc.isenabled()
        raise RuntimeError("boom")
    assert gc.isenabled()


WIDE = ("record.reason in ['v0', 'v1', 'v2', 'v3', 'v4', 'v5', 'v6', 'v7'] and record.authority in "
        "['v0', 'v1', 'v2', 'v3', 'v4', 'v5', 'v6', 'v7'] and matter.item_code in ['v0', 'v1', 'v2', 'v3']")


def _lint_clean_file(tmp_path: Any, conditions: list[str]) -> Any:
    measures = "".join(f"""\
  - id: T-{i:03d}
    name: 措施{i}
    kind: punishment
    effect: restrict
    mandatory: false
    list_types: [court_defaulter]
    matter_types: [bidding]
    legal_basis: [{{document: 测试依据}}]
    basis_status: unconfirmed
    implementing_departments: [测试部门]
    condition: "{condition}"
""" for i, condition in enumerate(conditions))
    path = tmp_path / "big.yaml"
    path.write_text(f'edition: "t"\nissuer: 测试\nregion_code: "410100"\nmeasures:\n{measures}', encoding="utf-8")
    return path


def test_long_in_lists_pass_lint_compile_at_once_and_agree(tmp_path: Any) -> None:
    """One measure with 'in [600 values]', six of 100 values in one list × matter group and a 'not in'
    of 600 values lint clean, compile without hanging durable_rules (which spins forever on more than
    511 alternatives below one test), and fire exactly as the reference evaluator does."""
    from joint_sanctions._load import lint, load_measure_lists

    def values(prefix: str, n: int) -> str:
        return ", ".join(f"'{prefix}{i}'" for i in range(n))

    conditions = [f"record.reason in [{values('r', 600)}]",
                  *(f"record.reason in [{values(f'g{k}-', 100)}]" for k in range(6)),
                  f"record.reason not in [{values('r', 600)}] and record.authority in [{values('a', 50)}]"]
    path = _lint_clean_file(tmp_path, conditions)
    assert lint([path]) == []
    compiled = compile_measures(load_measure_lists([path]))
    runner = make_runner("durable")
    runner.prepare(compiled)
    facts = [_fact(i, record__reason=reason, record__authority=authority)
             for i, (reason, authority) in enumerate([("r599", "a1"), ("r600", "a49"), ("g5-99", "a0"),
                                                      ("g3-0", "b"), ("", "a3"), (None, None)])]
    fired = sorted(runner.fire(compiled, "bidding", facts))
    assert fired == sorted(ReferenceRunner().fire(compiled, "bidding", facts))
    assert fired == [("T-000", "f0"), ("T-004", "f3"), ("T-006", "f2"),
                     ("T-007", "f1"), ("T-007", "f2"), ("T-007", "f4")]
    runner.release(compiled)


@pytest.mark.parametrize(("conditions", "line", "match"), [
    (["matter.amount > 5", WIDE.replace("'v3']", "'v3', 'v4', 'v5', 'v6', 'v7']")], 26, "513 alternatives"),
    ([f"record.reason == 'v1' or matter.amount < {1000 + k}" for k in range(33)], 367, "meet 66"),
], ids=["paths", "firings"])
def test_rules_over_the_engine_limits_are_refused_not_handed_to_durable(tmp_path: Any, conditions: list[str],
                                                                      line: int, match: str) -> None:
    """Rules that would hang durable_rules or fail its checks are refused by lint at the measure that
    passes the limit, and, built by hand past lint, refused by the durable runner with RuleEngineError."""
    from joint_sanctions._load import lint

    path = _lint_clean_file(tmp_path, conditions)
    assert [(p.line, p.code) for p in lint([path])] == [(line, "rules_too_large")]
    compiled = _compiled([(["court_defaulter"], ["bidding"], [], None, c, (None, None)) for c in conditions])
    with pytest.raises(RuleEngineError, match=match):
        make_runner("durable").fire(compiled, "bidding", [_fact(0)])


def test_failed_checks_leave_no_session_behind_and_raise_rule_engine_errors() -> None:
    """A fact durable_rules refuses fails its check with RuleEngineError, and the check's sessions are
    deleted all the same: 1,500 failed checks (more than durable's 1,024 sessions) leave the runner
    answering."""
    runner = make_runner("durable")
    compiled = _simple_compiled()
    for i in range(1500):
        with pytest.raises(RuleEngineError, match="durable_rules failed"):
            runner.fire(compiled, "bidding", [_fact(2 * i, matter__amount=float("inf"))])
    assert runner.fire(compiled, "bidding", [_fact(0, matter__amount=50.0)]) == [("T-000", "f0"), ("T-001", "f0")]


def test_a_lookup_that_fails_inside_fire_is_a_rule_engine_error() -> None:
    """No bare KeyError leaves the durable runner: rules that name no measure give RuleEngineError."""
    import dataclasses

    broken = dataclasses.replace(_simple_compiled(), rule_measures={})
    with pytest.raises(RuleEngineError, match="KeyError"):
        make_runner("durable").fire(broken, "bidding", [_fact(0)])


@pytest.mark.parametrize("conditions", [
    # one measure at the limit of paths: 8 × 8 × 4 alternatives below one test
    [WIDE],
    # 32 measures of two branches that one fact meets at once: 64 firings in one assert
    [f"record.reason == 'v1' or matter.amount < {1000 + k}" for k in range(32)],
], ids=["paths", "firings"])
def test_rules_at_the_engine_limits_lint_clean_compile_and_agree(tmp_path: Any, conditions: list[str]) -> None:
    """Lists at exactly the limits (256 alternatives per list × matter, 64 of them met by one fact)
    lint clean, are taken by durable_rules, and fire as the reference evaluator does."""
    from joint_sanctions._load import lint, load_measure_lists

    path = _lint_clean_file(tmp_path, conditions)
    assert lint([path]) == []
    compiled = compile_measures(load_measure_lists([path]))
    assert max(compiled.sizes().values()) in ((256, 1), (64, 64))
    facts = [_fact(i, record__reason=f"v{i % 9}", record__authority=f"v{i % 7}", matter__item_code=f"v{i % 5}",
                   matter__amount=float(i * 13)) for i in range(40)]
    fired = sorted(make_runner("durable").fire(compiled, "bidding", facts))
    assert fired == sorted(ReferenceRunner().fire(compiled, "bidding", facts))
    assert fired
