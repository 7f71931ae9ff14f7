"""Host-system adapters over real SQLite data: trading, government services, funds, reviews."""

from __future__ import annotations

import ast
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from joint_sanctions import Engine, JointSanctionsError
from joint_sanctions._cases import case_book_for
from joint_sanctions.adapters import (
    AdapterInputError,
    ServiceItemsError,
    UnknownServiceItemError,
    funds,
    government_services,
    reviews,
    trading,
)
from joint_sanctions.adapters.government_services import ServiceWindow, load_service_items

from .conftest import PERSONS, USCCS, record, write_csv

TENDER = {"project_code": "ZZGG-2025-001", "project_name": "示例道路工程", "matter_type": "bidding"}
FOOD = "000117001000-410100000000-000-11410100MB00000018-1-00"  # 食品经营许可: notify-commit and 容缺 offered
TRUCKS = "000117003000-410100000000-000-11410100MB0000003E-1-00"  # 道路货物运输: notify-commit only
BUILDER_QUALIFICATION = "000117007000-410100000000-000-11410100MB0000005L-1-00"  # two matter types
GOV_BODY = "11410103MB0000002N"


def masked(resident_id: str) -> str:
    return resident_id[:4] + "*" * 10 + resident_id[-4:]


def broken(resident_id: str) -> str:
    """The id with a wrong check character."""
    return resident_id[:-1] + ("1" if resident_id[-1] != "1" else "2")


@pytest.fixture
def engine(make_engine: Callable[..., Engine]) -> Engine:
    """Shipped lists over SQLite, with cases opened by the real case book in the same file."""
    return make_engine([
        record("CD-1", USCCS[1], "court_defaulter"),
        # The bans of their own decisions (measure_lists/README.md, requires_ban): procurement, bidding, one licence.
        record("GP-2", USCCS[2], "procurement_violator", authority="郑州市财政局", document_no="郑财采〔2025〕2号",
               ban_matter_types=("government_procurement",)),
        record("TRD-3", USCCS[3], "trading_serious_violator", ban_matter_types=("bidding",)),
        record("WAGE-P0", PERSONS[0], "wage_arrears", authority="郑州市人力资源和社会保障局"),
        record("TAX-A-4", USCCS[4], "tax_credit_a", authority="国家税务总局郑州市税务局"),
        record("LIC-5", USCCS[5], "market_serious_violator", reason="隐瞒有关情况或者提供虚假材料申请行政许可",
               ban_item_codes=(FOOD,)),
        record("GOV-6", GOV_BODY, "government_dishonesty", authority="郑州市发展和改革委员会"),
        record("CD-P1", PERSONS[1], "court_defaulter"),
    ])


# --- trading ----------------------------------------------------------------------------------------


def test_each_bidder_gets_a_verdict_with_reasons_and_legal_basis(engine: Engine) -> None:
    """Clean → qualified; a binding mandatory restriction or prohibition → disqualified; else → needs_review."""
    verdict = trading.check_bidders(engine, TENDER, [
        {"id": USCCS[0], "name": "清白公司", "legal_representative": {"id": PERSONS[5], "name": "钱七"}},
        {"id": USCCS[1], "name": "失信被执行人公司"},
        {"id": USCCS[2], "name": "采购违法公司"},
        {"id": USCCS[3], "name": "交易严重失信公司"},
    ])
    assert [(b.name, b.verdict, b.decision) for b in verdict.bidders] == [
        ("清白公司", "qualified", "clear"), ("失信被执行人公司", "disqualified", "restricted"),
        ("采购违法公司", "needs_review", "review"), ("交易严重失信公司", "disqualified", "prohibited")]
    court = verdict.bidders[1].reasons[0]
    assert (court.measure_id, court.mandatory, court.basis_status) == ("NAT-CD-001", True, "confirmed")
    assert court.legal_basis == (("《最高人民法院关于公布失信被执行人名单信息的若干规定》"
                                  "法释〔2013〕17号（法释〔2017〕7号修正）第八条"),)
    assert court.records == ("失信被执行人（郑州市中级人民法院 (2024)豫01执1号）",)
    assert [r.measure_id for r in verdict.bidders[3].reasons] == ["NAT-BID-001", "NAT-TRD-001"]
    assert "《中华人民共和国招标投标法》第五十三条、第五十四条、第六十条" in verdict.bidders[3].reasons[0].legal_basis
    assert verdict.counts == {"qualified": 1, "disqualified": 2, "needs_review": 1}
    assert verdict.bidders[0].legal_representative == f"钱七 {masked(PERSONS[5])}"


def test_a_listed_legal_representative_brings_the_related_party_measure(make_engine: Callable[..., Engine]) -> None:
    """The legal representative is checked as a related party: one on the trading list brings the
    memorandum's measure (basis unconfirmed: needs review), the reason naming them with the id masked; one on
    the wage-arrears list brings nothing, art. 48 not reaching the companies a listed person represents."""
    engine = make_engine([record("WAGE-P0", PERSONS[0], "wage_arrears", authority="郑州市人力资源和社会保障局"),
                          record("TRD-P2", PERSONS[2], "trading_serious_violator", authority="郑州市公共资源交易中心")])
    verdict = trading.check_bidders(engine, TENDER, [
        {"id": USCCS[7], "name": "劳务公司", "legal_representative": {"id": PERSONS[2], "name": "张三"}},
        {"id": USCCS[8], "name": "建筑公司", "legal_representative": {"id": PERSONS[0], "name": "李四"}}])
    bidder, other = verdict.bidders
    assert (bidder.verdict, [r.measure_id for r in bidder.reasons]) == ("needs_review", ["NAT-TRD-001"])
    assert bidder.reasons[0].via == f"法定代表人 张三 {masked(PERSONS[2])}"
    assert bidder.reasons[0].text == (
        "公共资源交易领域严重失信主体（郑州市公共资源交易中心 (2024)豫01执1号） → "
        "限制公共资源交易领域严重失信主体参与公共资源交易活动（限制，可以）"
        "；依据 《关于对公共资源交易领域严重失信主体开展联合惩戒的备忘录》发改法规〔2018〕457号"
        "（依据待核实 → 人工复核 basis unconfirmed → review by a person）"
        f"；经由法定代表人 张三 {masked(PERSONS[2])}")
    assert (other.verdict, other.reasons) == ("qualified", ())
    assert not {PERSONS[0], PERSONS[2]} & set(json.dumps(verdict.to_dict(), ensure_ascii=False).split('"'))


def test_cases_open_for_disqualified_bidders_through_the_engine(engine: Engine) -> None:
    """Disqualified bidders carry the id of the case the engine opened; a clean bidder has none."""
    verdict = trading.check_bidders(engine, {**TENDER, "matter_type": "government_procurement"}, [
        {"id": USCCS[0], "name": "清白公司"}, {"id": USCCS[2], "name": "采购违法公司"}])
    clean, banned = verdict.bidders
    assert (clean.case_id, banned.verdict) == (None, "disqualified")
    [case] = case_book_for(engine.store).list()
    assert case.case_id == banned.case_id
    assert (case.matter.matter_type, case.matter.application_no) == (
        "government_procurement", "ZZGG-2025-001")
    assert "NAT-GP-001" in case.measure_ids


def test_a_natural_person_supplier_is_masked(engine: Engine) -> None:
    """A natural-person supplier's id is masked in the answer."""
    verdict = trading.check_bidders(engine, {**TENDER, "matter_type": "government_procurement"},
                                    [{"id": PERSONS[1], "name": "个人供应商"}])
    assert verdict.bidders[0].subject_id == masked(PERSONS[1])
    assert verdict.bidders[0].verdict == "disqualified"


@pytest.mark.parametrize("bidders, code, where", [
    ({"id": USCCS[0]}, "not_a_list", "bidders"),
    ([], "empty_list", "bidders"),
    ([{"id": USCCS[0], "name": "甲"}, 42], "not_a_mapping", "bidders[1]"),
    ([{"name": "无证件号公司"}], "missing_field", "bidders[0] (无证件号公司)"),
    ([{"id": "91410100MA0000001Y", "name": "校验位错"}], "invalid_id", "bidders[0] (校验位错)"),
    ([{"id": USCCS[0], "name": "甲", "legal_rep": {}}], "unknown_field", "bidders[0] (甲)"),
    ([{"id": USCCS[0], "name": "甲", "subject_type": ["legal_person"]}], "invalid_value", "bidders[0] (甲)"),
    ([{"id": USCCS[0], "name": "甲"}, {"id": USCCS[0].lower(), "name": "甲2"}], "duplicate_entry",
     "bidders[1]"),
    ([{"id": USCCS[0], "name": "甲", "legal_representative": {"id": USCCS[1]}}], "invalid_id",
     "bidders[0] (甲).legal_representative"),
    ([{"id": USCCS[0], "name": "甲", "legal_representative": {"id": broken(PERSONS[2])}}], "invalid_id",
     "bidders[0] (甲).legal_representative"),
])
def test_a_malformed_bidder_list_is_refused_naming_the_entry(engine: Engine, bidders: Any, code: str,
                                                            where: str) -> None:
    """Each kind of malformed bidder list raises AdapterInputError naming the entry; nothing is checked."""
    with pytest.raises(AdapterInputError) as caught:
        trading.check_bidders(engine, TENDER, bidders)
    assert (caught.value.code, caught.value.where) == (code, where)
    assert str(caught.value).startswith(where + ":")
    assert PERSONS[2][:-1] not in str(caught.value)  # resident ids are masked even when invalid
    assert case_book_for(engine.store).list() == []
    assert isinstance(caught.value, JointSanctionsError)


def test_a_bad_tender_is_refused(engine: Engine) -> None:
    """A tender with a matter type other than bidding or procurement is an input error."""
    with pytest.raises(AdapterInputError, match="matter_type") as caught:
        trading.check_bidders(engine, {**TENDER, "matter_type": "honors"}, [{"id": USCCS[0], "name": "甲"}])
    assert caught.value.where == "tender"


# --- government services ----------------------------------------------------------------------------


def test_shipped_service_items_load() -> None:
    """The shipped mapping loads; every item has a name, a department and known matter types."""
    catalog = load_service_items()
    assert len(catalog) >= 10 and catalog.region_code == "410100"
    assert FOOD in catalog and catalog.get(FOOD).name == "食品经营许可（新办）"
    assert catalog.get(BUILDER_QUALIFICATION).matter_types == (
        "qualification_review", "administrative_licensing")
    assert all(item.department and item.source.startswith(f"{catalog.path}:") for item in catalog)


def test_a_clean_applicant_may_use_the_routes_the_item_offers(engine: Engine) -> None:
    """No record: notify-and-commit and 容缺受理 follow what the item offers; no strict review."""
    window = ServiceWindow(engine)
    food = window.advise({"id": USCCS[0], "name": "清白公司"}, FOOD, application_no="ZW-1")
    trucks = window.advise({"id": USCCS[0], "name": "清白公司"}, TRUCKS)
    assert (food.barred, food.notify_commit_allowed, food.fault_tolerant_allowed, food.strict_review) == (
        False, True, True, False)
    assert (trucks.notify_commit_allowed, trucks.fault_tolerant_allowed) == (True, False)
    assert food.case_ids == () and food.guidance[0].startswith("可按告知承诺制办理")


def test_a_red_list_applicant_gets_the_incentives(engine: Engine) -> None:
    """A tax-credit-A firm gets green channel, priority and 容缺受理 even where the item does not offer it."""
    advice = ServiceWindow(engine).advise({"id": USCCS[4], "name": "A级纳税人"}, TRUCKS)
    assert advice.green_channel and advice.priority_handling and advice.fault_tolerant_allowed
    assert advice.incentives == ("开通绿色通道", "容缺受理", "优先办理")
    assert advice.decision == "clear" and len(advice.case_ids) == 1  # incentives open a case too


def test_a_court_defaulter_loses_notify_commit_and_gets_strict_review(engine: Engine) -> None:
    """A serious dishonesty record asks for strict review and closes 容缺受理; notify-and-commit, closed only
    by a measure whose basis is unconfirmed (NTC-001), is not granted but left to a person."""
    advice = ServiceWindow(engine).advise({"id": USCCS[1], "name": "失信公司"}, FOOD, application_no="ZW-2")
    assert not (advice.barred or advice.notify_commit_allowed or advice.fault_tolerant_allowed)
    assert advice.strict_review
    assert {r.measure_id for r in advice.reasons} == {"NAT-CD-001", "NAT-33-003", "NTC-001"}
    assert advice.notify_commit_review and "依据待核实 → 人工复核" in advice.guidance[0]
    [case] = case_book_for(engine.store).list()
    matter = case.matter
    assert (matter.item_code, matter.application_no, matter.region_code) == (FOOD, "ZW-2", "410100")
    assert matter.department == "郑州市市场监督管理局"


def test_a_mandatory_prohibition_bars_the_application(engine: Engine) -> None:
    """An applicant who lied in a licence application is barred from applying again."""
    advice = ServiceWindow(engine).advise({"id": USCCS[5], "name": "虚假材料公司"}, FOOD)
    assert (advice.barred, advice.decision, advice.notify_commit_allowed) == (True, "prohibited", False)
    assert "NAT-LIC-001" in [r.measure_id for r in advice.reasons]
    assert len(advice.guidance) == 1 and advice.guidance[0].startswith("不予受理：申请人依法不得申请本事项")


def test_an_item_with_two_matter_types_is_checked_for_both(engine: Engine) -> None:
    """An item mapped to two matter types is checked once for each; the worst decision is reported."""
    advice = ServiceWindow(engine).advise({"id": USCCS[1], "name": "失信公司"}, BUILDER_QUALIFICATION,
                                          open_case=False)
    assert len(advice.check_ids) == 2 and advice.case_ids == ()
    assert advice.decision == "restricted" and advice.strict_review


def test_window_answers_come_from_tags_not_measure_ids(make_engine: Callable[..., Engine],
                                                       tmp_path: Path) -> None:
    """A credit office's own measure ids work: the window reads the tags no_notify_commit, green_channel."""
    (tmp_path / "local.yaml").write_text("""
edition: "2025"
issuer: 测试信用办
region_code: "410100"
measures:
  - {id: LOCAL-NC, name: 本地不适用告知承诺, kind: punishment, effect: reference, mandatory: false,
     list_types: [market_serious_violator], matter_types: [administrative_licensing],
     legal_basis: [{document: 测试依据, number: "", article: ""}], basis_status: unconfirmed,
     implementing_departments: [窗口], tags: [no_notify_commit]}
  - {id: LOCAL-GC, name: 本地绿色通道, kind: incentive, effect: incentive, mandatory: false,
     list_types: [honesty_model], matter_types: [administrative_licensing],
     legal_basis: [{document: 测试依据, number: "", article: ""}], basis_status: unconfirmed,
     implementing_departments: [窗口], tags: [green_channel]}
""", encoding="utf-8")
    engine = make_engine([record("M-0", USCCS[0], "market_serious_violator"),
                          record("H-1", USCCS[1], "honesty_model")], measures=tmp_path / "local.yaml")
    window = ServiceWindow(engine)
    listed, model = window.advise(USCCS[0], FOOD), window.advise(USCCS[1], FOOD)
    assert (listed.decision, listed.notify_commit_allowed, listed.strict_review) == ("review", False, True)
    assert model.green_channel and model.notify_commit_allowed and model.fault_tolerant_allowed


def test_an_unknown_item_code_is_a_clear_error(engine: Engine) -> None:
    """An unknown 事项编码 raises UnknownServiceItemError suggesting the near code; nothing is checked."""
    typo = FOOD.replace("000117001000", "000117001001")
    with pytest.raises(UnknownServiceItemError) as caught:
        ServiceWindow(engine).advise(USCCS[1], typo)
    assert caught.value.suggestions[0] == FOOD
    assert "unknown service item code" in str(caught.value) and "未知的政务服务事项编码" in str(caught.value)
    with pytest.raises(UnknownServiceItemError) as by_name:
        ServiceWindow(engine).advise(USCCS[1], "食品经营许可（新办）")
    assert by_name.value.suggestions == (FOOD,)
    assert case_book_for(engine.store).list() == []


def test_mapping_problems_are_all_reported_with_file_line_and_column(tmp_path: Path) -> None:
    """A broken mapping reports every problem as path:line:col: code: message, in file order."""
    path = tmp_path / "items.yaml"
    path.write_text("""edition: "2025"
issuer: 测试
region_code: 4101
items:
  - code: 000117001000
    name: 食品经营许可
    matter_types: [administrative_licencing]
    notify_commit: yes
    fault_tolerant: false
  - code: "A-1"
    name: 甲
    matters: [honors]
    notify_commit: true
    fault_tolerant: false
  - code: "A-1"
    name: ""
    matter_types: [honors, honors]
    notify_commit: true
    fault_tolerant: false
""", encoding="utf-8")
    with pytest.raises(ServiceItemsError) as caught:
        load_service_items(path)
    got = [(p.line, p.col, p.code) for p in caught.value.problems]
    assert got == [(3, 14, "wrong_type"), (5, 11, "wrong_type"), (7, 20, "unknown_matter_type"),
                   (8, 20, "wrong_type"), (10, 5, "missing_field"), (12, 5, "unknown_field"),
                   (15, 11, "duplicate_item_code"), (16, 11, "empty_value"), (17, 28, "duplicate_value")]
    lines = str(caught.value).splitlines()
    assert lines[2].startswith(f"{path}:7:20: unknown_matter_type: unknown matter type "
                               "'administrative_licencing' (did you mean 'administrative_licensing'?)")
    assert "(did you mean 'matter_types'?)" in lines[5]
    assert "also on line 10" in lines[6]


def test_mapping_syntax_errors_and_missing_files_are_located(tmp_path: Path) -> None:
    """YAML syntax errors carry their line; a missing file is named."""
    path = tmp_path / "items.yaml"
    path.write_text('edition: "1"\nissuer: x\nregion_code: "410100"\nitems:\n'
                    '  - code: "A"\n    name: [unclosed\n', encoding="utf-8")
    with pytest.raises(ServiceItemsError) as caught:
        load_service_items(path)
    [problem] = caught.value.problems
    assert problem.code == "yaml_syntax" and problem.line == 7
    with pytest.raises(ServiceItemsError, match="file_not_found"):
        load_service_items(tmp_path / "missing.yaml")


# --- funds ------------------------------------------------------------------------------------------


BOND = {"matter_type": "special_bond", "project_name": "示例专项债项目", "project_code": "ZXZ-1", "amount": 5e7}


def test_applicant_and_participants_each_get_a_verdict_and_the_worst_is_overall(engine: Engine) -> None:
    """Every unit is checked; a flagged participant makes the whole application need review."""
    verdict = funds.check_application(engine, BOND, {"id": USCCS[0], "name": "申报单位"}, [
        {"id": USCCS[7], "name": "建设单位", "role": "建设单位"},
        {"id": USCCS[1], "name": "施工单位", "role": "施工单位"}])
    assert [(u.role, u.verdict) for u in verdict.units] == [
        ("applicant", "qualified"), ("建设单位", "qualified"), ("施工单位", "needs_review")]
    assert (verdict.verdict, verdict.matter_label) == ("needs_review", "地方政府专项债券申请")
    assert [u.name for u in verdict.flagged] == ["施工单位"]
    assert verdict.units[2].reasons[0].measure_id == "DRC-SB-001"
    assert verdict.units[2].case_id is not None and verdict.applicant.case_id is None


def test_a_dishonest_government_body_is_flagged_for_central_budget_funds(engine: Engine) -> None:
    """The development-and-reform toolbox applies to government bodies with government-dishonesty records."""
    verdict = funds.check_application(engine, {**BOND, "matter_type": "central_budget_funds"},
                                      {"id": GOV_BODY, "name": "某区管理局"})
    assert (verdict.verdict, verdict.applicant.reasons[0].measure_id) == ("needs_review", "DRC-CBF-001")


def test_a_court_defaulter_is_disqualified_from_fiscal_funds(engine: Engine) -> None:
    """A mandatory restriction on government funds disqualifies the applicant and the application."""
    verdict = funds.check_application(engine, {**BOND, "matter_type": "fiscal_funds"},
                                      {"id": USCCS[1], "name": "失信公司"}, open_cases=False)
    assert (verdict.verdict, verdict.applicant.decision, verdict.applicant.case_id) == (
        "disqualified", "restricted", None)
    assert "NAT-CD-001" in [r.measure_id for r in verdict.applicant.reasons]


def test_the_amount_reaches_measure_conditions(make_engine: Callable[..., Engine]) -> None:
    """The amount applied for is part of the matter, so amount conditions in measure lists work."""
    engine = make_engine([record("CD-1", USCCS[1], "court_defaulter")],
                         measures=Path(__file__).parent / "fixtures" / "measures" / "basic.yaml", cases=False)
    project = {"matter_type": "fiscal_funds", "project_name": "奖补", "project_code": "J-1"}
    big = funds.check_application(engine, {**project, "amount": 2_000_000}, {"id": USCCS[1], "name": "甲"})
    small = funds.check_application(engine, {**project, "amount": 500_000}, {"id": USCCS[1], "name": "甲"})
    assert (big.verdict, [r.measure_id for r in big.applicant.reasons]) == ("needs_review", ["T-FUND-BIG"])
    assert small.verdict == "qualified"


def test_funds_input_errors_name_the_entry(engine: Engine) -> None:
    """A unit listed twice, a bad role or a bad project is refused, naming where it is."""
    with pytest.raises(AdapterInputError) as caught:
        funds.check_application(engine, BOND, {"id": USCCS[0], "name": "甲"}, [{"id": USCCS[0], "name": "甲"}])
    assert (caught.value.code, caught.value.where) == ("duplicate_entry", "participants[0]")
    assert "same id as applicant" in str(caught.value)
    with pytest.raises(AdapterInputError) as role:
        funds.check_application(engine, BOND, {"id": USCCS[0]}, [{"id": USCCS[1], "role": 3}])
    assert role.value.where == "participants[0]"
    with pytest.raises(AdapterInputError) as project:
        funds.check_application(engine, {**BOND, "matter_type": "bidding"}, {"id": USCCS[0]})
    assert project.value.where == "project"
    assert case_book_for(engine.store).list() == []


# --- reviews ----------------------------------------------------------------------------------------


def test_civil_servant_candidates_are_checked_with_ids_masked_everywhere(engine: Engine) -> None:
    """A listed person may not be recruited; resident ids are masked in the answer, its dict and repr."""
    report = reviews.review(engine, [{"id": PERSONS[1], "name": "李四"}, {"id": PERSONS[2], "name": "王五"},
                                     PERSONS[3]], "civil_servant_hiring", title="2025年度公务员录用")
    assert [(c.subject_id, c.verdict) for c in report.candidates] == [
        (masked(PERSONS[1]), "disqualified"), (masked(PERSONS[2]), "qualified"),
        (masked(PERSONS[3]), "qualified")]
    reason = report.candidates[0].reasons[0]
    assert (reason.measure_id, reason.legal_basis) == ("CSH-001", ("《中华人民共和国公务员法》第二十六条第（四）项",))
    assert report.counts == {"qualified": 2, "disqualified": 1, "needs_review": 0}
    text = json.dumps(report.to_dict(), ensure_ascii=False) + repr(report)
    assert not any(p in text for p in PERSONS[1:4])
    assert report.candidates[0].case_id is None  # batches open no case unless asked


def test_award_candidates_organisations(engine: Engine) -> None:
    """For a development-and-reform award a dishonest government body (that system's award measure) and a
    court defaulter need review (the honours measures' bases are unconfirmed, so none binds)."""
    report = reviews.review(engine, [{"id": GOV_BODY, "name": "某区管理局"}, {"id": USCCS[1], "name": "失信公司"},
                                     {"id": USCCS[0], "name": "清白公司"}], "honors", open_cases=True,
                            organizer="development_reform")
    assert [c.verdict for c in report.candidates] == ["needs_review", "needs_review", "qualified"]
    assert {r.measure_id for r in report.candidates[0].reasons} == {"DEP-HON-001", "GOV-HON-001"}
    assert [c.name for c in report.flagged] == ["某区管理局", "失信公司"]
    assert len(case_book_for(engine.store).list()) == 2


def test_malformed_candidates_are_refused_with_the_id_masked(engine: Engine) -> None:
    """A bad candidate id is named by position and never shown in clear; an empty list is refused."""
    wrong = broken(PERSONS[4])
    with pytest.raises(AdapterInputError) as caught:
        reviews.review(engine, [{"id": PERSONS[1], "name": "李四"}, {"id": wrong, "name": "错号"}],
                       "civil_servant_hiring")
    assert caught.value.where == "candidates[1] (错号)" and wrong not in str(caught.value)
    with pytest.raises(AdapterInputError, match="empty"):
        reviews.review(engine, [], "honors")


def test_review_file_writes_a_masked_report(engine: Engine, tmp_path: Path) -> None:
    """A CSV list of persons goes straight to an HTML report with masked ids and bad rows counted."""
    source = write_csv(tmp_path / "persons.csv", [(PERSONS[1], "李四"), (PERSONS[2], "王五"), ("x", "坏行")])
    summary = reviews.review_file(engine, source, "civil_servant_hiring", tmp_path / "persons.html")
    page = (tmp_path / "persons.html").read_text(encoding="utf-8")
    assert (summary.total, summary.flagged, len(summary.rejected), summary.cases_opened) == (2, 1, 1, 0)
    assert masked(PERSONS[1]) in page and PERSONS[1] not in page and PERSONS[2] not in page


# --- boundaries -------------------------------------------------------------------------------------


def test_the_library_never_imports_the_adapters() -> None:
    """No module of joint_sanctions imports the adapters (they depend on it, not the reverse)."""
    package = Path(__file__).parent.parent / "joint_sanctions"
    offenders = []
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom):
                names = [node.module or "", *(a.name for a in node.names)]
            if any(name.startswith("adapters") or ".adapters" in name for name in names):
                offenders.append(str(path))
    assert offenders == []


def test_adapter_answers_are_json_ready(engine: Engine) -> None:
    """Every adapter's answer has a to_dict() that json.dumps accepts."""
    answers = [
        trading.check_bidders(engine, TENDER, [{"id": USCCS[1], "name": "甲"}], open_cases=False),
        government_services.ServiceWindow(engine).advise(USCCS[1], FOOD, open_case=False),
        funds.check_application(engine, BOND, {"id": USCCS[1], "name": "甲"}, open_cases=False),
        reviews.review(engine, [USCCS[1]], "honors"),
    ]
    for answer in answers:
        assert json.loads(json.dumps(answer.to_dict(), ensure_ascii=False))


# --- resident ids typed into names (docs/failing-closed.md) -------------------------------------------

TYPED = "410105198509230440"  # someone's id typed into a name field by the host
SPACED = f"{TYPED[:6]} {TYPED[6:14]} {TYPED[14:]}"


def _shown(answer: Any) -> str:
    return json.dumps(answer.to_dict(), ensure_ascii=False) + repr(answer)


def test_every_adapter_masks_an_id_typed_into_a_name(engine: Engine) -> None:
    """Names, a legal representative's name and project names from the host come back with ids masked."""
    named = {"id": USCCS[1], "name": f"失信公司（法人{SPACED}）",
             "legal_representative": {"id": PERSONS[5], "name": f"钱七{TYPED}"}}
    answers = [
        trading.check_bidders(engine, {**TENDER, "project_name": f"道路工程{TYPED}"}, [named]),
        funds.check_application(engine, {**BOND, "project_name": f"专项债{SPACED}"}, named, open_cases=False),
        reviews.review(engine, [{"id": USCCS[1], "name": f"失信公司{TYPED}"}], "honors", title=f"评优{TYPED}"),
        ServiceWindow(engine).advise({"id": USCCS[1], "name": f"失信公司 {SPACED}"}, FOOD, open_case=False),
    ]
    for answer in answers:
        text = _shown(answer)
        assert TYPED not in text and TYPED[6:14] not in text, text
