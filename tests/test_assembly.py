"""Results assembled from parts prebuilt per revision: each result owns its fields, and a reload builds new parts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from joint_sanctions import CheckResult, Engine

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
