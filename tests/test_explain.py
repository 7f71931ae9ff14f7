"""``Engine.explain`` and ``check --explain`` (issue 14 point 2, design.md §10): every candidate measure,
applied or not, with the first failing part of its rule and the values it saw, in Chinese and English."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from joint_sanctions import CheckError, CreditRecord, Engine, Explanation, MeasureExplanation
from joint_sanctions.stores import SqliteStore

from .conftest import assert_masked, cli, record, resident_id

REPO = Path(__file__).parent.parent
CASE_FILES = sorted((REPO / "measure_lists" / "cases").glob("*.yaml"))  # the shipped policy cases
CO = "91410100MA0000015B"
PERSON = resident_id(7)
DAY = dt.date(2025, 6, 1)


def _cases() -> list[Any]:
    cases = []
    for path in CASE_FILES:
        for i, case in enumerate(yaml.safe_load(path.read_text(encoding="utf-8")) or []):
            cases.append(pytest.param(case, id=f"{path.stem}[{i}]"))
    return cases


CASES = _cases()


def test_the_policy_cases_are_found() -> None:
    """The agreement test below runs over the shipped policy cases, not over nothing."""
    assert len(CASES) > 50


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("rules", ["durable", "reference"])
def test_explain_says_applied_exactly_the_measures_the_check_applies(
        case: dict[str, Any], rules: str, make_engine: Callable[..., Engine]) -> None:
    """Over every policy case and both rule back ends, the measures explain() calls applied are the check's
    measures, each applied one carries the check's binding, and a refused check is refused alike."""
    records = [CreditRecord.model_validate({"subject_name": "", **r}) for r in case.get("records", [])]
    engine = make_engine(records, rules=rules)
    at = case.get("at", DAY)
    subject, matter = case["subject"], case["matter"]
    code = case["expect"].get("error")
    if code:
        with pytest.raises(CheckError) as info:
            engine.explain(subject, matter, at=at)
        assert info.value.code == code
        return
    checked = engine.check(subject, matter, at=at, open_case=False)
    explained = engine.explain(subject, matter, at=at)
    assert explained.applied == [m.measure_id for m in checked.measures]
    assert {m.measure_id: m.binding for m in explained.measures if m.applied} == {
        m.measure_id: m.binding for m in checked.measures}
    assert explained.result.decision == checked.decision
    for m in explained.measures:
        assert (m.failed is None) == m.applied
        assert all(t.reason_zh and t.reason_en for t in m.trials)


MEASURES = """\
edition: "2025"
issuer: 测试信用办
region_code: "410100"
measures:
  - id: T-AMOUNT
    name: 大额资金从严审核
    kind: punishment
    effect: restrict
    mandatory: true
    list_types: [court_defaulter]
    matter_types: [fiscal_funds]
    condition: matter.amount >= 5000000
    legal_basis: [{document: 测试法, number: "", article: 第一条}]
    basis_status: confirmed
    implementing_departments: [测试部门]
  - id: T-LATER
    name: 新规施行后限制
    kind: punishment
    effect: restrict
    mandatory: true
    valid_from: 2026-01-01
    list_types: [court_defaulter]
    matter_types: [fiscal_funds]
    legal_basis: [{document: 测试法, number: "", article: 第二条}]
    basis_status: confirmed
    implementing_departments: [测试部门]
  - id: T-PERSON
    name: 自然人限制
    kind: punishment
    effect: restrict
    mandatory: true
    subject_types: [natural_person]
    list_types: [court_defaulter]
    matter_types: [fiscal_funds]
    legal_basis: [{document: 测试法, number: "", article: 第三条}]
    basis_status: confirmed
    implementing_departments: [测试部门]
  - id: T-UNSURE
    name: 依据待核实的审慎核查
    kind: punishment
    effect: restrict
    mandatory: false
    list_types: [court_defaulter]
    matter_types: [fiscal_funds]
    legal_basis: [{document: 测试文件, number: "", article: ""}]
    basis_status: unconfirmed
    implementing_departments: [测试部门]
  - id: T-BAN
    name: 禁入期内不得参加
    kind: punishment
    effect: prohibit
    mandatory: true
    requires_ban: true
    list_types: [procurement_violator]
    matter_types: [government_procurement]
    legal_basis: [{document: 测试法, number: "", article: 第四条}]
    basis_status: confirmed
    implementing_departments: [测试部门]
  - id: T-OVERDUE
    name: 逾期未整改的不得参加
    kind: punishment
    effect: prohibit
    mandatory: true
    requires_overdue: true
    list_types: [procurement_violator]
    matter_types: [government_procurement]
    legal_basis: [{document: 测试法, number: "", article: 第五条}]
    basis_status: confirmed
    implementing_departments: [测试部门]
  - id: T-REP
    name: 法定代表人失信的限制
    kind: punishment
    effect: restrict
    mandatory: true
    related_party_roles: [principal]
    list_types: [wage_arrears]
    matter_types: [fiscal_funds]
    legal_basis: [{document: 测试法, number: "", article: 第六条}]
    basis_status: confirmed
    implementing_departments: [测试部门]
  - id: T-ELSEWHERE
    name: 税收违法的限制
    kind: punishment
    effect: restrict
    mandatory: true
    list_types: [major_tax_violator]
    matter_types: [fiscal_funds]
    legal_basis: [{document: 测试法, number: "", article: 第七条}]
    basis_status: confirmed
    implementing_departments: [测试部门]
"""


def by_id(explanation: Explanation) -> dict[str, MeasureExplanation]:
    return {m.measure_id: m for m in explanation.measures}


def test_a_false_condition_names_the_values_it_saw(engine_with: Callable[..., Engine]) -> None:
    """An amount below the condition's threshold fails the condition, showing 3000000 < 5000000."""
    engine = engine_with(record("R1", CO))
    explained = by_id(engine.explain(CO, "fiscal_funds", at=DAY, amount=3_000_000))["T-AMOUNT"]
    assert not explained.applied and explained.failed == "condition"
    assert "matter.amount = 3000000 < 5000000" in explained.trials[0].reason_en
    assert "matter.amount = 3000000 < 5000000" in explained.trials[0].reason_zh
    missing = by_id(engine.explain(CO, "fiscal_funds", at=DAY))["T-AMOUNT"].trials[0]
    assert missing.failed == "condition" and "matter.amount not given" in missing.reason_en
    assert by_id(engine.explain(CO, "fiscal_funds", at=DAY, amount=6e6))["T-AMOUNT"].applied


def test_validity_dates_and_subject_type_are_named_when_they_fail(engine_with: Callable[..., Engine]) -> None:
    """A measure not yet in force fails on valid_from with both dates; a natural-person measure fails on
    the subject type of a company; each reason is in Chinese and English."""
    explained = by_id(engine_with(record("R1", CO)).explain(CO, "fiscal_funds", at=DAY))
    later = explained["T-LATER"]
    assert later.failed == "valid_from"
    assert "2026-01-01" in later.trials[0].reason_en and "2025-06-01" in later.trials[0].reason_zh
    person = explained["T-PERSON"]
    assert person.failed == "subject_type" and "legal_person" in person.trials[0].reason_en
    assert "主体类型" in person.trials[0].reason_zh


def test_the_legality_guard_of_an_applied_measure_is_explained(engine_with: Callable[..., Engine]) -> None:
    """An applied measure with an unconfirmed basis is not binding, and the explanation says why."""
    explained = engine_with(record("R1", CO)).explain(CO, "fiscal_funds", at=DAY)
    unsure = by_id(explained)["T-UNSURE"]
    assert unsure.applied and unsure.binding is False and unsure.failed is None
    assert unsure.guard_en is not None and "unconfirmed" in unsure.guard_en
    assert unsure.guard_zh is not None and "人工复核" in unsure.guard_zh
    assert explained.applied == ["T-UNSURE"] and explained.result.decision == "review"


def test_a_ban_that_does_not_cover_the_matter_names_the_record_and_what_it_covers(
        engine_with: Callable[..., Engine]) -> None:
    """requires_ban: the explanation names the record and the matters its own ban covers."""
    engine = engine_with(record("R1", CO, "procurement_violator", ban_matter_types=("bidding",)))
    ban = by_id(engine.explain(CO, "government_procurement", at=DAY))["T-BAN"]
    assert ban.failed == "ban"
    assert "R1" in ban.trials[0].reason_en and "bidding" in ban.trials[0].reason_en
    assert "禁入" in ban.trials[0].reason_zh
    ended = engine_with(record("R2", CO, "procurement_violator", ban_matter_types=("government_procurement",),
                               ban_until=dt.date(2025, 1, 1)))
    trial = by_id(ended.explain(CO, "government_procurement", at=DAY))["T-BAN"].trials[0]
    assert trial.failed == "ban" and "ended on 2025-01-01" in trial.reason_en


def test_overdue_compares_the_deadline_with_the_check_day(engine_with: Callable[..., Engine]) -> None:
    """requires_overdue: a deadline not yet passed is shown against the check day; none at all is said."""
    engine = engine_with(record("R1", CO, "procurement_violator", rectify_by=dt.date(2025, 12, 31)))
    trial = by_id(engine.explain(CO, "government_procurement", at=DAY))["T-OVERDUE"].trials[0]
    assert trial.failed == "overdue" and "2025-12-31" in trial.reason_en and "2025-06-01" in trial.reason_en
    none = by_id(engine_with(record("R2", CO, "procurement_violator")).explain(
        CO, "government_procurement", at=DAY))["T-OVERDUE"].trials[0]
    assert none.failed == "overdue" and "no rectification deadline" in none.reason_en
    passed = engine_with(record("R3", CO, "procurement_violator", rectify_by=dt.date(2025, 3, 1)))
    assert by_id(passed.explain(CO, "government_procurement", at=DAY))["T-OVERDUE"].applied


def test_a_related_partys_record_in_another_role_fails_on_the_role_and_is_masked(
        engine_with: Callable[..., Engine]) -> None:
    """A legal representative's record does not reach a measure for principals: the role is named, and
    the representative's resident id never appears unmasked."""
    engine = engine_with(record("W1", PERSON, "wage_arrears"), record("R1", CO))
    subject = {"id": CO, "name": "某公司", "related_parties": [{"role": "legal_representative", "id": PERSON}]}
    explained = engine.explain(subject, "fiscal_funds", at=DAY)
    rep = by_id(explained)["T-REP"]
    assert rep.failed == "related_party_role" and "legal_representative" in rep.trials[0].reason_en
    assert rep.trials[0].role == "legal_representative"
    assert_masked(explained.to_json(), PERSON)
    principal = {**subject, "related_parties": [{"role": "principal", "id": PERSON}]}
    assert by_id(engine.explain(principal, "fiscal_funds", at=DAY))["T-REP"].applied


def test_measures_no_active_record_reaches_are_counted_not_listed(engine_with: Callable[..., Engine]) -> None:
    """Of the matter's measures, those whose list types no active record has are only counted."""
    explained = engine_with(record("R1", CO)).explain(CO, "fiscal_funds", at=DAY)
    assert "T-ELSEWHERE" not in by_id(explained) and "T-REP" not in by_id(explained)
    assert explained.unreached == 2
    clear = engine_with(record("R1", CO, status="removed")).explain(
        CO, "fiscal_funds", at=DAY)
    assert clear.measures == () and clear.unreached == 6 and clear.result.decision == "clear"


def test_explain_opens_no_case(make_engine: Callable[..., Engine], measures_dir: Path) -> None:
    """A current explain with applied measures is a preview: its result carries no case."""
    engine = make_engine([record("R1", CO)], measures=[measures_dir])
    explained = engine.explain(CO, "fiscal_funds")
    assert explained.applied and explained.result.case_id is None


# --- the command line -------------------------------------------------------------------------------


@pytest.fixture
def db(tmp_path: Path) -> str:
    with SqliteStore(tmp_path / "r.db") as store:
        store.upsert([record("R1", CO)])
    return f"sqlite:///{tmp_path / 'r.db'}"


def test_check_explain_prints_every_candidate_in_chinese_and_english(
        tmp_path: Path, db: str, measures_dir: Path) -> None:
    """``check --explain`` lists applied and not-applied measures with their reasons, both languages."""
    out = cli("check", "--subject", CO, "--matter", "fiscal_funds", "--amount", "3000000", "--at", "2025-06-01",
              "--explain", "--db", db, "--measures", str(measures_dir), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "T-UNSURE" in text and "T-AMOUNT" in text and "T-LATER" in text
    assert "matter.amount = 3000000 < 5000000" in text
    assert "条件不成立" in text and "condition false" in text
    assert "未适用 not applied" in text and "适用 applied" in text
    assert "2" in text and "未涉及 not reached" in text


def test_check_explain_json_adds_the_explanation_to_the_result(tmp_path: Path, db: str, measures_dir: Path) -> None:
    """With ``--json`` stdout is one document: the check result's keys plus ``explanation``; no case opens."""
    out = cli("check", "--subject", CO, "--matter", "fiscal_funds", "--explain", "--json",
              "--db", db, "--measures", str(measures_dir), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["decision"] == "restricted" and doc["case_id"] is None  # T-LATER is in force today
    rows = {m["measure_id"]: m for m in doc["explanation"]["measures"]}
    assert rows["T-UNSURE"]["applied"] is True and rows["T-UNSURE"]["binding"] is False
    assert rows["T-AMOUNT"]["failed"] == "condition"
    assert doc["explanation"]["unreached"] == 2


def test_check_explain_refuses_like_check(tmp_path: Path, measures_dir: Path) -> None:
    """A missing database is one bilingual line and exit 1, as for a plain check."""
    out = cli("check", "--subject", CO, "--matter", "fiscal_funds", "--explain",
              "--db", f"sqlite:///{tmp_path / 'none.db'}", "--measures", str(measures_dir), cwd=tmp_path)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "数据库不存在" in out.stderr
