"""The shipped measure lists against the domain facts they encode (issue 13 point 6): what no single policy
case shows, because it holds for every measure."""

from __future__ import annotations

from joint_sanctions._compile import CompiledMeasures

TENDERING_REGULATION = "中华人民共和国招标投标法实施条例"


def test_the_tendering_regulation_is_cited_with_its_number(shipped: CompiledMeasures) -> None:
    """Every citation of 招标投标法实施条例, an administrative regulation, gives its number 国务院令第613号."""
    citations = [(cm.measure.id, b.number) for cm in shipped.measures.values() for b in cm.measure.legal_basis
                 if b.document == TENDERING_REGULATION]
    assert citations and all(number == "国务院令第613号" for _, number in citations), citations


def test_no_confirmed_basis_reaches_a_subject_through_a_related_party(shipped: CompiledMeasures) -> None:
    """A confirmed basis binds its own targets only: no confirmed punishment passes through a related party
    (条例第四十八条 lists the legal representative as a target, not the companies they represent)."""
    passing = [cm.measure.id for cm in shipped.measures.values()
               if cm.measure.basis_status == "confirmed" and cm.measure.related_party_roles]
    assert passing == []


def test_measures_founded_on_a_law_in_force_from_a_date_do_not_apply_before_it(shipped: CompiledMeasures) -> None:
    """公务员法 (2018 revision) is in force from 2019-06-01 and 保障农民工工资支付条例 from 2020-05-01."""
    valid_from = {mid: str(shipped.measures[mid].measure.valid_from) for mid in ("CSH-001", "NAT-WAG-001")}
    assert valid_from == {"CSH-001": "2019-06-01", "NAT-WAG-001": "2020-05-01"}
