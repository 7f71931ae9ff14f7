"""The exact firing memo: it answers what durable_rules and the reference evaluator answer, on every fact."""

from __future__ import annotations

import datetime as dt
import math
import threading
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from joint_sanctions import Engine
from joint_sanctions._compile import SELF, CompiledMeasures, compile_measures
from joint_sanctions._memo import FiringMemo, memo_bound
from joint_sanctions._models import LegalBasis, Measure, MeasureListFile
from joint_sanctions._rules import ReferenceRunner, make_runner
from joint_sanctions.testing import Clock, MemoryStore
from joint_sanctions.vocabulary import MATTER_TYPES, PUNISHMENT_LIST_TYPES, RELATED_PARTY_ROLES, SUBJECT_TYPES

from .conftest import numbered_uscc, record

LISTS = sorted(PUNISHMENT_LIST_TYPES)
MATTERS = sorted(MATTER_TYPES)
ROLES = sorted(RELATED_PARTY_ROLES)
SUBJECTS = sorted(SUBJECT_TYPES)
CONDITIONS = [
    None,
    "matter.amount >= 0.01",
    "matter.amount != 1000000000000000 and matter.amount > 0",
    "matter.amount < 999999999999999.99 or matter.amount == 0.1",
    "record.reason in [" + ", ".join(f"'事由{i}'" for i in range(10)) + "]",
    "record.reason not in ['事由2', '事由3'] and matter.amount <= 1000000",
    "matter.item_code in ['A1', 'X1', 'X2', 'X3', 'X4', 'X5', 'X6', 'X7', 'X8', 'X9'] or matter.amount == 100",
    "not (matter.amount < 500)",
    "matter.amount > 10 and matter.amount <= 5000000.5",
    "record.authority == '郑州市中级人民法院' or matter.item_code in ['A1', 'B2']",
    "subject.subject_type not in ['government_body', 'natural_person']",
    "not (record.authority != '税务局' and matter.region_code == '410100')",
    "matter.organizer != 'other' and record.document_no != 'X-1'",
    "not (matter.amount == 100 or subject.id_kind == 'resident_id')",
]
#: Values a fact may hold for a field no constant of the rules names ("none of them").
OTHERS: dict[str, list[Any]] = {
    "party__role": [SELF, *ROLES], "subject__subject_type": SUBJECTS, "subject__id_kind": ["uscc", "resident_id"],
    "record__authority": ["郑州市中级人民法院", "税务局", ""], "record__document_no": ["X-1", "X-2"],
    "record__reason": ["", "事由1", "事由11"], "matter__item_code": ["A1", "B2", "C3"],
    "matter__region_code": ["410100", "410102"], "matter__organizer": ["development_reform", "social_credit", "other"],
    "record__bans_matter": [True, False], "record__overdue": [True, False],
    "check__day": [20190101, 20250601, 20271231], "matter__amount": [0.0, 0.5, 123456.78, 1e15],
}
OPTIONAL = {"matter__amount", "matter__item_code", "matter__region_code"}


def _measure(i: int, spec: tuple[Any, ...]) -> Measure:
    lists, matters, roles, subjects, condition, (vf, vt), (ban, overdue) = spec
    if vf and vt and vt <= vf:
        vf, vt = vt, vf + dt.timedelta(days=1)
    return Measure(id=f"T-{i:03d}", name=f"措施{i}", kind="punishment", effect="restrict", mandatory=False,
                   list_types=tuple(lists), matter_types=tuple(matters),
                   legal_basis=(LegalBasis(document="测试依据"),), basis_status="unconfirmed",
                   implementing_departments=("测试部门",), subject_types=tuple(subjects) if subjects else None,
                   related_party_roles=tuple(roles), condition=condition, valid_from=vf, valid_to=vt,
                   requires_ban=ban, requires_overdue=overdue)


dates = st.one_of(st.none(), st.dates(dt.date(2019, 1, 1), dt.date(2027, 12, 31)))
measure_st = st.tuples(
    st.lists(st.sampled_from(LISTS[:3]), min_size=1, max_size=2, unique=True),
    st.lists(st.sampled_from(MATTERS[:2]), min_size=1, max_size=2, unique=True),
    st.lists(st.sampled_from(ROLES), max_size=2, unique=True),
    st.one_of(st.none(), st.lists(st.sampled_from(SUBJECTS), min_size=1, max_size=3, unique=True)),
    st.sampled_from(CONDITIONS), st.tuples(dates, dates), st.tuples(st.booleans(), st.booleans()),
)


def _near(compiled: CompiledMeasures) -> dict[str, list[Any]]:
    """Per fact key: every constant the rules compare it with, the values next to each, and others."""
    values: dict[str, set[Any]] = {k: set(v) for k, v in OTHERS.items()}
    for spec in compiled.abstractions.values():
        for key, order, classes, _ in spec:
            near = values.setdefault(key, set())
            if order is None:
                near.update(v for _, v in classes)
                continue
            for c in order:
                # a day, a fen: a check rounds amounts to the fen (durable_rules cannot read 5e-324)
                step = 1 if key == "check__day" else 0.01
                near.update((c, round(c - step, 2), round(c + step, 2)))
                if key == "check__day":
                    near.update((float(c), int(c)))  # an int and a float on the same day
    return {k: sorted(v, key=repr) for k, v in values.items()}


def _draw_facts(data: st.DataObject, compiled: CompiledMeasures, matter: str, lists: list[str],
                count: int) -> list[dict[str, Any]]:
    """``count`` random facts, each followed by its variants over every value next to the constants of
    one field: facts that differ in one field only meet in the memo whenever it classes them alike."""
    near = _near(compiled)
    facts: list[dict[str, Any]] = []
    for _ in range(count):
        fact: dict[str, Any] = {"matter__matter_type": matter, "record__list_type": data.draw(st.sampled_from(lists))}
        for key, options in near.items():
            if key in OPTIONAL and data.draw(st.booleans()):
                continue
            fact[key] = data.draw(st.sampled_from(options))
        key = data.draw(st.sampled_from(sorted(near)))
        values = data.draw(st.permutations(near[key]))
        facts.extend({**fact, key: v} for v in values)
    return [{**f, "id": f"f{i}"} for i, f in enumerate(facts)]


def _assert_memo_agrees(compiled: CompiledMeasures, matter: str, facts: list[dict[str, Any]]) -> None:
    durable, reference = make_runner("durable"), ReferenceRunner()
    memo = FiringMemo(compiled, durable)
    ref_memo = FiringMemo(compiled, reference)
    want = durable.fire(compiled, matter, facts)
    assert sorted(want) == sorted(reference.fire(compiled, matter, facts))
    for fact in facts:  # one at a time: later facts are answered by what earlier ones decided
        alone = durable.fire(compiled, matter, [fact])
        assert memo.fire(matter, [fact]) == alone
        assert sorted(ref_memo.fire(matter, [fact])) == sorted(alone)
    # all at once, answered from the memo now, in durable's order
    assert memo.fire(matter, facts) == want
    stats = memo.stats()
    assert stats["entries"] <= memo_bound(compiled)
    counted = sum(1 for f in facts if (f["record__list_type"], matter) in compiled.abstractions)
    assert stats["hits"] + stats["misses"] + stats["bypassed"] == 2 * counted


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs=st.lists(measure_st, min_size=1, max_size=10), matter=st.sampled_from(MATTERS[:2]),
       data=st.data())
def test_memo_durable_and_reference_agree_on_generated_lists(specs: list[Any], matter: str,
                                                            data: st.DataObject) -> None:
    """On generated measures and facts on and next to every constant, memo = durable = reference."""
    compiled = compile_measures([MeasureListFile(path="gen.yaml", edition="t", issuer="t", region_code="410100",
                                                 measures=tuple(_measure(i, s) for i, s in enumerate(specs)))])
    _assert_memo_agrees(compiled, matter, _draw_facts(data, compiled, matter, LISTS[:4], 3))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_memo_durable_and_reference_agree_on_the_shipped_lists(shipped: CompiledMeasures,
                                                               data: st.DataObject) -> None:
    """On the shipped lists and facts on and next to every constant, memo = durable = reference."""
    list_type, matter = data.draw(st.sampled_from(sorted(shipped.abstractions)))
    others = sorted({lt for lt, _ in shipped.abstractions})
    facts = _draw_facts(data, shipped, matter, [list_type, list_type, *others], 3)
    _assert_memo_agrees(shipped, matter, facts)


def test_a_value_the_memo_cannot_class_bypasses_it() -> None:
    """A NaN amount, or a code equal to a constant of another type, is asked of the back end, never memoised."""
    compiled = compile_measures([MeasureListFile(path="gen.yaml", edition="t", issuer="t", region_code="410100",
                                                 measures=(_measure(0, (["court_defaulter"], ["bidding"], [], None,
                                                                        "matter.amount > 10",
                                                                        (None, None), (False, True))),))])
    memo = FiringMemo(compiled, ReferenceRunner())
    base = {"record__list_type": "court_defaulter", "matter__matter_type": "bidding", "party__role": SELF,
            "check__day": 20250601}
    odd = [{**base, "id": "nan", "record__overdue": True, "matter__amount": math.nan},
           {**base, "id": "one", "record__overdue": 1, "matter__amount": 11.0}]
    assert memo.fire("bidding", odd) == ReferenceRunner().fire(compiled, "bidding", odd)
    assert memo.stats() == {"entries": 0, "hits": 0, "misses": 0, "bypassed": 2}


SUBJECT = numbered_uscc(1)


def _hit_engine(shipped: CompiledMeasures, rules: str) -> Engine:
    store = MemoryStore()
    store.upsert([record("R1", SUBJECT)])
    return Engine(measures=shipped, store=store, rules=rules, clock=Clock(dt.datetime(2025, 6, 1, 10, tzinfo=dt.UTC)))


def test_engine_counts_memo_hits_and_a_reload_starts_a_new_memo(shipped: CompiledMeasures, tmp_path: Any) -> None:
    """A second hit of the same class is answered from the memo; a reload to other rules starts empty."""
    engine = _hit_engine(shipped, "durable")
    first = engine.check(SUBJECT, "bidding", amount=1000)
    assert first.decision != "clear"
    assert engine.memo_stats() == {"entries": 1, "hits": 0, "misses": 1, "bypassed": 0}
    second = engine.check(SUBJECT, "bidding", amount=2000)
    assert second.measures == first.measures
    assert engine.memo_stats() == {"entries": 1, "hits": 1, "misses": 1, "bypassed": 0}
    other = compile_measures([MeasureListFile(path="gen.yaml", edition="t", issuer="t", region_code="410100",
                                              measures=(_measure(0, (["court_defaulter"], ["bidding"], [], None,
                                                                     None, (None, None), (False, False))),))])
    engine.reload(other)
    assert engine.memo_stats() == {"entries": 0, "hits": 0, "misses": 0, "bypassed": 0}
    assert [m.measure_id for m in engine.check(SUBJECT, "bidding").measures] == ["T-000"]


@pytest.mark.parametrize("rules", ["durable", "reference"])
def test_threads_sharing_an_engine_get_what_the_back_end_answers(shipped: CompiledMeasures, rules: str) -> None:
    """Threads checking through one engine's memo at once all get the answers of a memo-less engine."""
    engine = _hit_engine(shipped, rules)
    matters = sorted({mt for _, mt in shipped.abstractions})[:8]
    want = {}
    for mt in matters:
        fresh = _hit_engine(shipped, "reference")
        want[mt] = fresh.check(SUBJECT, mt, amount=5).model_dump(mode="json")["measures"]
    failures: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(40):
                mt = matters[(n + i) % len(matters)]
                assert engine.check(SUBJECT, mt, amount=5).model_dump(mode="json")["measures"] == want[mt]
        except BaseException as exc:  # noqa: BLE001 -- reported by the main thread
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    stats = engine.memo_stats()
    assert stats["entries"] <= len(matters) and stats["hits"] + stats["misses"] == 160
