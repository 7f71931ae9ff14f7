"""Results assembled from parts prebuilt per revision: each result owns its fields, and a reload builds new parts."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from joint_sanctions import CheckResult, Engine
from joint_sanctions._identifiers import mask
from joint_sanctions._models import AppliedMeasure, RelatedParty

from .conftest import measures_folder, numbered_uscc, record, resident_id

DAY = dt.date(2025, 6, 1)
PERSON = resident_id(7)

_LIST = """\
edition: "test"
issuer: 测试
region_code: "410100"
measures:
  - id: A-PUNISH
    name: {name}
    kind: punishment
    effect: prohibit
    mandatory: true
    list_types: [court_defaulter]
    matter_types: [government_procurement]
    legal_basis: [{{document: 政府采购法, number: "", article: 第二十二条}}]
    basis_status: confirmed
    implementing_departments: [财政部门]
  - id: A-REVIEW
    name: 从严审核
    kind: punishment
    effect: strict_review
    mandatory: false
    list_types: [court_defaulter, wage_arrears]
    matter_types: [government_procurement]
    related_party_roles: [legal_representative]
    legal_basis: [{{document: 政府采购法, number: "", article: 第二十二条}}]
    basis_status: unconfirmed
    implementing_departments: [财政部门]
  - id: A-PARTY
    name: 法定代表人从严审核
    kind: punishment
    effect: strict_review
    mandatory: false
    list_types: [wage_arrears]
    matter_types: [government_procurement]
    related_party_roles: [legal_representative]
    legal_basis: [{{document: 政府采购法, number: "", article: 第二十二条}}]
    basis_status: unconfirmed
    implementing_departments: [财政部门]
"""


def _revalidated(result: CheckResult) -> CheckResult:
    return CheckResult.model_validate_json(result.model_dump_json())


def test_results_sharing_measures_own_their_fields(make_engine: Callable[..., Engine]) -> None:
    """Two subjects hit by the same measures get results that equal validated ones and share no
    mutable part: changing one result's measure fields changes neither the other nor later checks."""
    first, second, third = (numbered_uscc(n) for n in (11, 12, 13))
    engine = make_engine([record("R1", first), record("R2", second), record("R3", third)])
    one = engine.check(first, "government_procurement", at=DAY)
    two = engine.check(second, "government_procurement", at=DAY)
    assert one.measures and [m.measure_id for m in one.measures] == [m.measure_id for m in two.measures]
    assert _revalidated(one) == one and _revalidated(two) == two
    shown = two.model_dump_json()
    for m in one.measures:  # what a careless host could do to a frozen model
        m.__dict__["name"] = "changed"
        m.__dict__["record_ids"] = ("R9",)
        m.__dict__["binding"] = not m.binding
    assert two.model_dump_json() == shown
    three = engine.check(third, "government_procurement", at=DAY)
    assert all(m.name != "changed" and m.record_ids == ("R3",) for m in three.measures)
    assert _revalidated(three) == three
    copied = two.measures[0].model_copy(update={"record_ids": ("R8",)})
    assert copied.record_ids == ("R8",) and two.measures[0].record_ids == ("R2",)
    assert copied.model_fields_set == two.measures[0].model_fields_set


def test_a_record_of_the_subject_and_one_of_its_party_assemble_as_validation_would(
        make_engine: Callable[..., Engine], tmp_path: Path) -> None:
    """A check whose subject and legal representative are both listed joins both records per measure,
    names the party only where its records alone caused a measure, and equals its validated copy."""
    company = numbered_uscc(21)
    engine = make_engine([record("R1", company), record("R2", PERSON, "wage_arrears", subject_type="natural_person")],
                         measures=measures_folder(tmp_path / "m", _LIST.format(name="禁止参加政府采购")))
    subject = {"id": company, "related_parties": [{"role": "legal_representative", "id": PERSON, "name": "张三"}]}
    result = engine.check(subject, "government_procurement", at=DAY)
    by_id = {m.measure_id: m for m in result.measures}
    assert list(by_id) == ["A-PUNISH", "A-REVIEW", "A-PARTY"]
    assert by_id["A-PUNISH"].record_ids == ("R1",) and by_id["A-PUNISH"].via_related_party is None
    assert by_id["A-REVIEW"].record_ids == ("R1", "R2") and by_id["A-REVIEW"].via_related_party is None
    assert by_id["A-PARTY"].record_ids == ("R2",)
    via = by_id["A-PARTY"].via_related_party
    assert via is not None and via.role == "legal_representative" and PERSON not in via.id
    assert result.decision == "prohibited"
    assert [h.record_id for h in result.hits] == ["R1", "R2"] and PERSON not in result.model_dump_json()
    assert _revalidated(result) == result


def test_a_reload_builds_new_parts(make_engine: Callable[..., Engine], tmp_path: Path) -> None:
    """After a reload that renames a measure, checks show the new name: no part of the old revision
    is reused."""
    folder = measures_folder(tmp_path / "m", _LIST.format(name="旧名称"))
    company = numbered_uscc(31)
    engine = make_engine([record("R1", company)], measures=folder)
    assert [m.name for m in engine.check(company, "government_procurement", at=DAY).measures] == ["旧名称", "从严审核"]
    measures_folder(folder, _LIST.format(name="新名称"))
    engine.reload()
    result = engine.check(company, "government_procurement", at=DAY)
    assert [m.name for m in result.measures] == ["新名称", "从严审核"] and result.revision == engine.revision


def _reference_assembly(compiled: Any, groups: list[tuple[str, tuple[str, ...]]], by_fact: dict[str, Any],
                        parties: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str], str]:
    """docs/check-result.md's grouping written plainly: per measure in list order, the sorted ids of the
    records whose facts fired it, no party when a subject's own record fired it, else the first party
    (in firing order); incentives beside any punishment do not bind; the legality guard's decision."""
    record_ids: dict[str, set[str]] = {}
    via: dict[str, Any] = {}
    party_records: dict[str, None] = {}
    for fact_id, answer in groups:
        record, role = by_fact[fact_id]
        if answer and role != "self":
            party_records.setdefault(record.record_id, None)
        for mid in answer:
            record_ids.setdefault(mid, set()).add(record.record_id)
            if role == "self":
                via[mid] = None
            elif mid not in via:
                party = parties[record.subject_id]
                via[mid] = {"role": party.role, "id": mask(party.id), "name": party.name}
    ordered = sorted(record_ids, key=compiled.position.__getitem__)
    measures = [compiled.measures[mid].measure for mid in ordered]
    punished = any(m.kind == "punishment" for m in measures)
    shown = []
    for mid, m in zip(ordered, measures, strict=True):
        binding = m.basis_status == "confirmed" if m.kind == "punishment" else not punished
        shown.append({"measure_id": mid, "binding": binding, "record_ids": tuple(sorted(record_ids[mid])),
                      "via_related_party": via[mid]})
    decision = "clear"
    for m, row in zip(measures, shown, strict=True):
        if m.kind != "punishment":
            continue
        if not row["binding"] or m.effect not in ("prohibit", "restrict"):
            decision = "review" if decision == "clear" else decision
        elif m.effect == "prohibit" and m.mandatory:
            decision = "prohibited"
            break
        else:
            decision = "restricted"
    return shown, list(party_records), decision


@functools.cache
def _shipped() -> Any:
    from joint_sanctions._serving import compile_paths

    return compile_paths(None)


_FACTS = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 2)), min_size=1, max_size=4)


@settings(deadline=None, max_examples=300)
@given(answers=st.lists(st.lists(st.integers(0, 10_000), max_size=6, unique=True), min_size=3, max_size=3),
       checks=st.lists(_FACTS, min_size=1, max_size=3))
def test_assembly_of_several_fired_facts_equals_the_plain_grouping(answers: list[list[int]],
                                                                   checks: list[list[tuple[int, int]]]) -> None:
    """Whatever facts fire (several records, the subject's own and its parties', answers repeated so that
    plans are reused), the assembled measures, party records and decision are those of the plain
    grouping, and each result's measures equal their validated copies."""
    from joint_sanctions._results import Assembly

    compiled = _shipped()
    mids = sorted(compiled.measures)
    fired = [tuple(dict.fromkeys(mids[n % len(mids)] for n in answer)) for answer in answers]
    assembly = Assembly(compiled)
    company = numbered_uscc(41)
    people = [resident_id(n) for n in (1, 2)]
    parties = {pid: RelatedParty(role="legal_representative", id=pid, name=f"某{n}") for n, pid in enumerate(people)}
    owners = [company, *people]
    recs = [record(f"R{n}", owners[n % 3]) for n in range(4)]
    for facts in checks:
        by_fact: dict[str, Any] = {}
        groups: list[tuple[str, tuple[str, ...]]] = []
        for n, (ri, ai) in enumerate(facts):
            rec = recs[ri]
            role = "self" if rec.subject_id == company else "legal_representative"
            fact_id = f"{role}:{rec.record_id}:{n}"
            by_fact[fact_id] = (rec, role)
            groups.append((fact_id, fired[ai]))
        applied, party_records, decision = assembly.assemble(groups, by_fact, parties)
        shown, party_ids, expected_decision = _reference_assembly(compiled, groups, by_fact, parties)
        got = [{"measure_id": m.measure_id, "binding": m.binding, "record_ids": m.record_ids,
                "via_related_party": m.via_related_party.model_dump() if m.via_related_party else None}
               for m in applied]
        assert got == shown
        assert [r.record_id for r in party_records] == party_ids and decision == expected_decision
        assert all(AppliedMeasure.model_validate(m.model_dump()) == m for m in applied)
